/**
 * SL 651-2014 report bodies (HEX/BCD mode): what a station's keep-alive (2F) and reports (30–38,
 * 3A) carry after the serial and send time. Pure: a frame's body in, a report out.
 *
 *   F1 F1 station address (5) + station category (1)
 *   F0 F0 observation time (5 BCD: YYMMDDhhmm) — may repeat: elements after it are at that time
 *   element: identifier (1, or FF + 1) + data definition (1: high 5 bits = bytes, low 3 bits =
 *            decimals) + value (BCD; all FF = missing)
 *   F4 / F5: twelve 5-minute values of an hour, the first at the observation time, the last 55
 *            min after it (an hourly report sent at 09:00 says 08:05: the real station's capture)
 *            (rain: 1 byte each in 0.1 mm; water level: 2 bytes each in cm; binary, FF / FFFF = missing)
 *   04 18 DDHHMM: the time step of a uniform-period report (31, 38), whose one element is then
 *            followed by as many values as the body holds
 */
import { bcd, bcdTime, encodeWallTime, wallTimeOf } from './sl651-frame.ts';

export type WallTime = NonNullable<ReturnType<typeof bcdTime>>;

export interface Sl651Value {
  /** Element identifier as hex: `39`, `20`, `FF09`. */
  id: string;
  /** The value, or null where the station sent FF… (missing). */
  value: number | null;
  /** The observation time this value belongs to (F4/F5 and period series: each value's own). */
  at: WallTime;
}

export interface Sl651Report {
  serial: number;
  sent: WallTime;
  /** From F1F1 (absent in a keep-alive). */
  station?: string;
  category?: string;
  /** The first observation time (F0F0): a report's time when it holds no values (an image). */
  observed?: WallTime;
  values: Sl651Value[];
  /** Element identifiers this decoder could not read (F2F2 text, F3F3 image, an unknown layout): kept, not guessed at. */
  undecoded: string[];
}

export type ReportProblem = { code: 'SL651_BAD_BODY'; message: string };

const HEX = (b: Buffer) => b.toString('hex').toUpperCase();

/** A BCD value of `bytes` with `decimals`; null if every byte is FF; NaN if it is not BCD. */
export function bcdValue(b: Buffer, decimals: number): number | null {
  if (b.every((x) => x === 0xff)) return null;
  let n = 0;
  for (const x of b) {
    const d = bcd(x);
    if (Number.isNaN(d)) return NaN;
    n = n * 100 + d;
  }
  return n / 10 ** decimals;
}

export const addMinutes = (t: WallTime, minutes: number): WallTime => wallTimeOf(Date.UTC(t.y, t.mo - 1, t.d, t.h, t.mi + minutes, t.s));

/** A wall time as YYYYMMDDThhmmss (keys, file names). */
export const compactWallTime = (t: WallTime) => `${t.y}${String(t.mo).padStart(2, '0')}${String(t.d).padStart(2, '0')}T${String(t.h).padStart(2, '0')}${String(t.mi).padStart(2, '0')}${String(t.s).padStart(2, '0')}`;
/** An image report's file name (written by the SL 651 centre, served by the alerts API): observation time and serial. */
export const imageFileName = (t: WallTime, serial: number) => `${compactWallTime(t)}-${serial}.jpg`;
/** The name imageFileName writes: YYYYMMDDThhmmss-serial.jpg. */
export const IMAGE_FILE = /^(\d{8}T\d{6})-(\d{1,5})\.jpg$/;

/** F4 (rain, 0.1 mm a byte) and F5 (level, cm in two bytes): twelve 5-minute values from `at` on. */
function fiveMinuteSeries(id: 'F4' | 'F5', b: Buffer, at: WallTime): Sl651Value[] {
  const width = id === 'F4' ? 1 : 2;
  const out: Sl651Value[] = [];
  for (let i = 0; i < 12; i++) {
    const raw = width === 1 ? b[i]! : b.readUInt16BE(i * 2);
    const missing = width === 1 ? raw === 0xff : raw === 0xffff;
    out.push({ id, value: missing ? null : id === 'F4' ? raw / 10 : raw / 100, at: addMinutes(at, i * 5) });
  }
  return out;
}

/** Decode a report body (after the frame: serial, send time, content). */
export function decodeReport(func: number, body: Buffer): { report: Sl651Report } | { problem: ReportProblem } {
  if (body.length < 8) return { problem: { code: 'SL651_BAD_BODY', message: `body of ${body.length} bytes: no serial and send time` } };
  const sent = bcdTime(body.subarray(2, 8), true);
  if (!sent) return { problem: { code: 'SL651_BAD_BODY', message: `send time ${HEX(body.subarray(2, 8))} is not a BCD date and time` } };
  const report: Sl651Report = { serial: body.readUInt16BE(0), sent, values: [], undecoded: [] };
  const b = body.subarray(8);
  let i = 0;
  let at: WallTime | undefined;
  let stepMin: number | undefined;
  while (i < b.length) {
    const id = b[i] === 0xff ? HEX(b.subarray(i, i + 2)) : HEX(b.subarray(i, i + 1));
    i += id.length / 2;
    if (id === 'F1' && b[i] === 0xf1) {
      report.station = HEX(b.subarray(i + 1, i + 6));
      report.category = HEX(b.subarray(i + 6, i + 7));
      i += 7;
      continue;
    }
    if (id === 'F0' && b[i] === 0xf0) {
      at = bcdTime(b.subarray(i + 1, i + 6), false);
      if (!at) return { problem: { code: 'SL651_BAD_BODY', message: `observation time ${HEX(b.subarray(i + 1, i + 6))} is not a BCD date and time` } };
      report.observed ??= at;
      i += 6;
      continue;
    }
    if (i >= b.length) return { problem: { code: 'SL651_BAD_BODY', message: `element ${id} has no data definition` } };
    const def = b[i++]!;
    if (!at) return { problem: { code: 'SL651_BAD_BODY', message: `element ${id} before any observation time (F0F0)` } };
    if (id === 'F4' || id === 'F5') {
      const len = id === 'F4' ? 12 : 24;
      if (i + len > b.length) return { problem: { code: 'SL651_BAD_BODY', message: `${id} needs ${len} bytes, ${b.length - i} left` } };
      report.values.push(...fiveMinuteSeries(id, b.subarray(i, i + len), at));
      i += len;
      continue;
    }
    if (id === 'F2' || id === 'F3') {
      report.undecoded.push(`${id}${id}`); // manual text (F2F2), image (F3F3): the rest of the body
      break;
    }
    const bytes = def >> 3;
    const decimals = def & 0x07;
    if (bytes === 0 || i + bytes > b.length) return { problem: { code: 'SL651_BAD_BODY', message: `element ${id}: ${bytes} bytes defined, ${b.length - i} left` } };
    if (id === '04' && def === 0x18) {
      // DDHHMM: the step between the values of a uniform-period report's one element.
      const [dd, hh, mm] = [...b.subarray(i, i + 3)].map(bcd) as [number, number, number];
      stepMin = (dd * 24 + hh) * 60 + mm;
      i += 3;
      continue;
    }
    if (stepMin !== undefined && (func === 0x31 || func === 0x38)) {
      // One element, then its values one step apart until the body ends.
      for (let k = 0; i + bytes <= b.length; k++, i += bytes) report.values.push({ id, value: bcdValue(b.subarray(i, i + bytes), decimals), at: addMinutes(at, k * stepMin) });
      break;
    }
    const value = bcdValue(b.subarray(i, i + bytes), decimals);
    if (Number.isNaN(value)) report.undecoded.push(id);
    else report.values.push({ id, value, at });
    i += bytes;
  }
  return { report };
}

/**
 * Data definitions (bytes << 3 | decimals) a station sends for the elements floodgate's simulator
 * reports, as the real frames in test/fixtures/sl651 have them: rain N(5,1), level N(7,3), supply
 * voltage N(4,2).
 */
export const ELEMENT_DEFS: Record<string, number> = { '20': 0x19, '22': 0x19, '1A': 0x19, '1F': 0x19, '26': 0x19, '39': 0x23, '38': 0x12 };

export interface ReportToEncode {
  serial: number;
  sent: WallTime;
  station: string;
  /** Station category: 50 rain, 48 river level … (the capture's station says 50). */
  category: string;
  at: WallTime;
  /** Element id → value (null: missing, sent as FF…); encoded with ELEMENT_DEFS. */
  elements: Array<[id: string, value: number | null]>;
  /** Twelve 5-minute values from `at` on: F4 rain in mm, F5 level in m. */
  f4?: Array<number | null>;
  f5?: Array<number | null>;
}

/** The inverse of decodeReport for the elements above (the simulator's RTUs, and tests). */
export function encodeReport(r: ReportToEncode): Buffer {
  const parts: Buffer[] = [Buffer.from([r.serial >> 8, r.serial & 0xff]), encodeWallTime(r.sent, true), Buffer.from('F1F1', 'hex'), Buffer.from(r.station + r.category, 'hex'), Buffer.from('F0F0', 'hex'), encodeWallTime(r.at, false)];
  if (r.f4) parts.push(Buffer.from([0xf4, 0x60]), Buffer.from(r.f4.map((v) => (v === null ? 0xff : Math.min(0xfe, Math.round(v * 10))))));
  if (r.f5) {
    const b = Buffer.alloc(24);
    r.f5.forEach((v, i) => b.writeUInt16BE(v === null ? 0xffff : Math.min(0xfffe, Math.max(0, Math.round(v * 100))), i * 2));
    parts.push(Buffer.from([0xf5, 0xc0]), b);
  }
  for (const [id, value] of r.elements) {
    const def = ELEMENT_DEFS[id];
    if (def === undefined) throw new RangeError(`no data definition for element ${id}`);
    const bytes = def >> 3;
    const digits = value === null ? 'F'.repeat(bytes * 2) : String(Math.round(Math.abs(value) * 10 ** (def & 7))).padStart(bytes * 2, '0');
    if (digits.length > bytes * 2) throw new RangeError(`element ${id}: ${value} does not fit ${bytes} BCD bytes`);
    parts.push(Buffer.from(id, 'hex'), Buffer.from([def]), Buffer.from(digits, 'hex'));
  }
  return Buffer.concat(parts);
}
