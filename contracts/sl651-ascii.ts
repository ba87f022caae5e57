/**
 * SL 651-2014 ASCII mode: the same frame as HEX/BCD mode written in printable characters, for
 * stations whose modems or links carry text. Pure: bytes in, frames and reports out.
 *
 *   SOH 01 | centre (2) | station (10) | password (4) | function (2) | direction + length (4)
 *   STX 02 (or SYN 16 + packet count and sequence (6)) | body | end character (1, as HEX mode)
 *   CRC-16/MODBUS of everything from SOH through the end character, as 4 hex characters
 *
 * Fields are the HEX mode's bytes as hex characters; the length counts the body's characters.
 * The body: serial (4 hex characters), send time (12 digits, YYMMDDhhmmss), then for a report
 * `ST <station> <category> TT <YYMMDDhhmm>` and elements as `<symbol> <value>`, separated by
 * spaces: `PJ 1.5 Z 28.96 VT 12.6`. Symbols are the standard's element names; those floodgate maps
 * (and the HEX identifiers they stand for) are in SYMBOLS. `DRP` and `DRZ1` carry twelve
 * 5-minute values: either as HEX mode's bytes in hex characters (24 or 48), or as twelve numbers.
 * Verified against frames built to the layout a public SL 651 toolkit's tests use (no ASCII
 * capture of a real station was at hand): sl651-ascii.test.ts.
 */
import { crc16, END_CHARS, MAX_BODY, readFrame, START, STX, SYN, type EndChar, type Frame, type FrameProblem } from './sl651-frame.ts';
import { addMinutes, type Sl651Report, type Sl651Value, type WallTime } from './sl651-report.ts';
import { bcdTime } from './sl651-frame.ts';

export const SOH = 0x01;
/** Element symbols of ASCII mode and the HEX mode identifiers they stand for [SL 651-2014 Table 26]. */
export const SYMBOLS: Record<string, string> = { PJ: '20', PT: '26', P1: '1A', PD: '1F', PN05: '22', Z: '39', VT: '38', DRP: 'F4', DRZ1: 'F5' };
const END_BY_BYTE = new Map<number, EndChar>(Object.entries(END_CHARS).map(([k, v]) => [v, k as EndChar]));
/** SOH + addresses, password, function, direction and length: 1 + 2 + 10 + 4 + 2 + 4. */
const HEAD = 23;
const HEX_CHARS = /^[0-9A-Fa-f]+$/;

const ascii = (b: Buffer, from: number, to: number) => b.subarray(from, to).toString('latin1');

/** Does an ASCII frame's header start at `i`? (SOH and then hex characters: the bytes of HEX mode never look like that by chance for long.) */
export function asciiHeaderAt(buf: Buffer, i: number): boolean {
  if (buf[i] !== SOH) return false;
  const end = Math.min(buf.length, i + HEAD);
  for (let k = i + 1; k < end; k++) {
    const c = buf[k]!;
    if (!((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66))) return false;
  }
  return true;
}

/** One ASCII frame at the head of `buf` (after `skipped` stray bytes, as readFrame does for HEX mode). */
export function readAsciiFrame(buf: Buffer, maxBody: number): { frame: Frame; consumed: number } | { problem: FrameProblem; consumed: number } | { need: true } {
  if (buf.length < HEAD + 1) return { need: true };
  const word = parseInt(ascii(buf, 19, 23), 16);
  const dirNibble = word >> 12;
  const bodyLength = word & 0x0fff;
  if (dirNibble !== 0 && dirNibble !== 8) return { problem: { code: 'SL651_BAD_HEADER', message: `direction nibble ${dirNibble.toString(16)} is neither 0 (up) nor 8 (down)` }, consumed: 1 };
  if (bodyLength > maxBody) return { problem: { code: 'SL651_TOO_LONG', message: `body of ${bodyLength} characters exceeds the ${maxBody} allowed` }, consumed: 1 };
  const startChar = buf[HEAD]!;
  if (startChar !== STX && startChar !== SYN) return { problem: { code: 'SL651_BAD_HEADER', message: `start character ${startChar.toString(16)} is neither STX (02) nor SYN (16)` }, consumed: 1 };
  // SYN's packet count and sequence are part of the length, as in HEX mode.
  const total = HEAD + 1 + bodyLength + 1 + 4;
  if (buf.length < total) return { need: true };
  const end = END_BY_BYTE.get(buf[HEAD + 1 + bodyLength]!);
  if (!end) return { problem: { code: 'SL651_BAD_HEADER', message: `end character ${buf[HEAD + 1 + bodyLength]!.toString(16)} is not one of ETX ETB ENQ EOT ESC ACK NAK` }, consumed: 1 };
  const raw = Buffer.from(buf.subarray(0, total));
  const sentText = ascii(raw, total - 4, total);
  const computed = crc16(raw, 0, total - 4);
  if (!HEX_CHARS.test(sentText) || parseInt(sentText, 16) !== computed) return { problem: { code: 'SL651_BAD_CRC', message: `CRC ${sentText} sent, ${computed.toString(16).toUpperCase().padStart(4, '0')} computed` }, consumed: total };
  const direction = dirNibble === 8 ? 'down' : 'up';
  const [first, second] = direction === 'up' ? [ascii(raw, 1, 3), ascii(raw, 3, 13)] : [ascii(raw, 11, 13), ascii(raw, 1, 11)];
  let body = raw.subarray(HEAD + 1, HEAD + 1 + bodyLength);
  let packet: Frame['packet'];
  if (startChar === SYN) {
    const header = ascii(body, 0, 6);
    if (body.length < 6 || !HEX_CHARS.test(header)) return { problem: { code: 'SL651_BAD_HEADER', message: 'SYN without its packet count and sequence' }, consumed: total };
    const w = parseInt(header, 16);
    packet = { total: w >> 12, seq: w & 0x0fff };
    body = body.subarray(6);
  }
  const func = parseInt(ascii(raw, 17, 19), 16);
  if (Number.isNaN(func)) return { problem: { code: 'SL651_BAD_HEADER', message: `function code ${ascii(raw, 17, 19)} is not hex` }, consumed: total };
  const frame: Frame = { direction, centre: first.toUpperCase(), station: second.toUpperCase(), password: ascii(raw, 13, 17).toUpperCase(), func, start: startChar === SYN ? 'SYN' : 'STX', body, end, raw, mode: 'ascii', ...(packet ? { packet } : {}) };
  return { frame, consumed: total };
}

/** A frame in ASCII mode (the centre's replies to an ASCII station; the simulator and tests). */
export function encodeAsciiFrame(f: { direction: 'up' | 'down'; centre: string; station: string; password: string; func: number; body: string; end: EndChar }): Buffer {
  const addresses = f.direction === 'up' ? f.centre + f.station : f.station + f.centre;
  const word = ((f.direction === 'down' ? 0x8000 : 0) | f.body.length).toString(16).toUpperCase().padStart(4, '0');
  const head = `${addresses}${f.password}${f.func.toString(16).toUpperCase().padStart(2, '0')}${word}`;
  const frame = Buffer.concat([Buffer.from([SOH]), Buffer.from(head, 'latin1'), Buffer.from([STX]), Buffer.from(f.body, 'latin1'), Buffer.from([END_CHARS[f.end]])]);
  return Buffer.concat([frame, Buffer.from(crc16(frame).toString(16).toUpperCase().padStart(4, '0'), 'latin1')]);
}

const pad2 = (n: number) => String(n).padStart(2, '0');
export const asciiTime = (t: WallTime, withSeconds: boolean) => `${pad2(t.y % 100)}${pad2(t.mo)}${pad2(t.d)}${pad2(t.h)}${pad2(t.mi)}${withSeconds ? pad2(t.s) : ''}`;
const timeOf = (digits: string, withSeconds: boolean) => (/^\d+$/.test(digits) ? bcdTime(Buffer.from(digits, 'hex'), withSeconds) : undefined);

/** Twelve 5-minute values after DRP / DRZ1: hex characters as HEX mode's bytes, or twelve numbers. */
function series(id: 'F4' | 'F5', tokens: string[], i: number, at: WallTime): { values: Sl651Value[]; next: number } {
  const t = tokens[i] ?? '';
  const width = id === 'F4' ? 2 : 4;
  let raw: Array<number | null>;
  let next: number;
  if (t.length === 12 * width && HEX_CHARS.test(t)) {
    raw = Array.from({ length: 12 }, (_, k) => {
      const v = parseInt(t.slice(k * width, (k + 1) * width), 16);
      return v === (id === 'F4' ? 0xff : 0xffff) ? null : id === 'F4' ? v / 10 : v / 100;
    });
    next = i + 1;
  } else {
    raw = [];
    next = i;
    while (raw.length < 12 && next < tokens.length && /^-?\d+(\.\d+)?$/.test(tokens[next]!)) raw.push(Number(tokens[next++]));
  }
  return { values: raw.map((value, k) => ({ id, value, at: addMinutes(at, k * 5) })), next };
}

/** An ASCII report body as the same Sl651Report HEX mode gives (element ids are HEX mode's where the symbol maps). */
export function decodeAsciiReport(body: Buffer): { report: Sl651Report } | { problem: { code: 'SL651_BAD_BODY'; message: string } } {
  const text = body.toString('latin1');
  const serial = parseInt(text.slice(0, 4), 16);
  const sent = timeOf(text.slice(4, 16), true);
  if (!HEX_CHARS.test(text.slice(0, 4)) || !sent) return { problem: { code: 'SL651_BAD_BODY', message: `"${text.slice(0, 16)}" is no serial and send time` } };
  const report: Sl651Report = { serial, sent, values: [], undecoded: [] };
  const tokens = text.slice(16).trim().split(/\s+/).filter(Boolean);
  let at: WallTime | undefined;
  for (let i = 0; i < tokens.length; ) {
    const symbol = tokens[i++]!;
    if (symbol === 'ST') {
      report.station = (tokens[i++] ?? '').toUpperCase();
      report.category = tokens[i++];
      continue;
    }
    if (symbol === 'TT') {
      at = timeOf(tokens[i++] ?? '', false);
      if (!at) return { problem: { code: 'SL651_BAD_BODY', message: `observation time "${tokens[i - 1] ?? ''}" is not YYMMDDhhmm` } };
      report.observed ??= at;
      continue;
    }
    if (/^DR[DHN]\d\d$/.test(symbol)) {
      if (/^\d+$/.test(tokens[i] ?? '')) i++; // a time step's value, where a station writes one
      continue;
    }
    if (!at) return { problem: { code: 'SL651_BAD_BODY', message: `element ${symbol} before any observation time (TT)` } };
    if (symbol === 'DRP' || symbol === 'DRZ1') {
      const s = series(symbol === 'DRP' ? 'F4' : 'F5', tokens, i, at);
      report.values.push(...s.values);
      i = s.next;
      continue;
    }
    const next = tokens[i];
    // A number; or a run of F (missing, as HEX mode's FF…), or nothing: null.
    const value = next !== undefined && /^-?\d+(\.\d+)?$/.test(next) ? Number(tokens[i++]) : next !== undefined && /^F+$/i.test(next) ? (i++, null) : null;
    report.values.push({ id: SYMBOLS[symbol] ?? symbol, value, at });
  }
  return { report };
}

/** The centre's reply in ASCII mode: what encodeReply writes in HEX mode, in characters. */
export function encodeAsciiReply(o: { station: string; centre: string; password: string; func: number; serial: number; time: WallTime; end: 'ESC' | 'EOT' | 'ACK' | 'NAK' }): Buffer {
  const body = `${o.serial.toString(16).toUpperCase().padStart(4, '0')}${asciiTime(o.time, true)}`;
  return encodeAsciiFrame({ direction: 'down', centre: o.centre, station: o.station, password: o.password, func: o.func, body, end: o.end });
}

/**
 * The next frame of either mode at the head of a station's stream: HEX mode at a 7E7E, ASCII mode
 * at an SOH followed by hex characters; bytes before either are stray (counted in `skipped`).
 */
export function readAnyFrame(buf: Buffer, maxBody = MAX_BODY): ReturnType<typeof readFrame> {
  for (let i = 0; i < buf.length; i++) {
    const c = buf[i]!;
    if (c === START) {
      if (i + 2 >= buf.length) return { skipped: i, need: true };
      if (buf[i + 1] === START && buf[i + 2] !== START) {
        const r = readFrame(buf.subarray(i), maxBody);
        return { ...r, skipped: i + r.skipped };
      }
    } else if (c === SOH && asciiHeaderAt(buf, i)) {
      if (buf.length - i < HEAD + 1) return { skipped: i, need: true };
      return { ...readAsciiFrame(buf.subarray(i), maxBody), skipped: i };
    }
  }
  return { skipped: buf.length, need: true };
}
