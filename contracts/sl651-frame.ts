/**
 * SL 651-2014 (水文监测数据通信规约, the Ministry of Water Resources' hydrological telemetry
 * protocol), HEX/BCD mode: the frame. What a centre station reads from an RTU's TCP stream and
 * writes back. Pure: bytes in, records out.
 *
 *   7E 7E | centre (1) | station (5) | password (2) | function (1)      — uplink (RTU → centre)
 *   7E 7E | station (5) | centre (1) | password (2) | function (1)      — downlink (centre → RTU)
 *   direction (high nibble: 0 up, 8 down) + body length (12 bits) (2)
 *   STX 02 | SYN 16 + packet count (12 bits) and sequence (12 bits) (3) — the body's start
 *   body (the length above; for SYN the packet header is part of it)
 *   ETX 03 | ETB 17 (a packet of a multi-packet report, more follow) | ENQ 05 — uplink;
 *   EOT 04 (release the link) | ESC 1B (keep it) | ACK 06 | NAK 15 — downlink
 *   CRC-16/MODBUS of everything from the first 7E through the end character, high byte first
 *
 * The body begins with the serial number (2) and the send time (6 BCD bytes, YYMMDDhhmmss).
 */

export const START = 0x7e;
export const STX = 0x02;
export const SYN = 0x16;
/** ETX ETB ENQ end an uplink frame; EOT ESC ACK NAK a downlink one. */
export const END_CHARS = { ETX: 0x03, ETB: 0x17, ENQ: 0x05, EOT: 0x04, ESC: 0x1b, ACK: 0x06, NAK: 0x15 } as const;
export type EndChar = keyof typeof END_CHARS;
const END_BY_BYTE = new Map<number, EndChar>(Object.entries(END_CHARS).map(([k, v]) => [v, k as EndChar]));

/** Header (13) + start character (1) + end character (1) + CRC (2): a frame is this plus its body. */
export const FRAME_OVERHEAD = 17;
/** The 12-bit body length's ceiling. */
export const MAX_BODY = 4095;

/** CRC-16/MODBUS: polynomial 0xA001 (reflected 0x8005), initial 0xFFFF. */
export function crc16(buf: Uint8Array, start = 0, end = buf.length): number {
  let crc = 0xffff;
  for (let i = start; i < end; i++) {
    crc ^= buf[i]!;
    for (let b = 0; b < 8; b++) crc = crc & 1 ? (crc >>> 1) ^ 0xa001 : crc >>> 1;
  }
  return crc;
}

export interface Frame {
  direction: 'up' | 'down';
  /** Centre address, 2 hex digits. */
  centre: string;
  /** Station (RTU) address, 10 hex digits as sent (BCD digits, but hex digits occur: `00303A9006`). */
  station: string;
  /** Password, 4 hex digits. */
  password: string;
  /** Function code (0x2F keep-alive, 0x32 timed report …). */
  func: number;
  start: 'STX' | 'SYN';
  /** For SYN: the multi-packet report's packet count and this packet's sequence (from 1). */
  packet?: { total: number; seq: number };
  /** The body after the packet header: serial, send time, then the function's content. */
  body: Buffer;
  end: EndChar;
  /** The whole frame's bytes (what the CRC covered, and the CRC). */
  raw: Buffer;
  /** HEX/BCD mode (7E7E, the default) or ASCII mode (SOH: sl651-ascii.ts); replies go in the same mode. */
  mode?: 'hex' | 'ascii';
}

export type FrameProblem = { code: 'SL651_BAD_CRC' | 'SL651_BAD_HEADER' | 'SL651_TOO_LONG'; message: string };

const hex = (b: Buffer, from: number, to: number) => b.subarray(from, to).toString('hex').toUpperCase();

/**
 * Look for one frame at the head of `buf`. Stray bytes before a 7E7E are skipped (counted in
 * `skipped`); `need` means the frame is not complete yet; a problem consumes the frame's bytes
 * (`consumed`) so the stream goes on with the next one.
 */
export function readFrame(buf: Buffer, maxBody = MAX_BODY): { skipped: number } & ({ frame: Frame; consumed: number } | { problem: FrameProblem; consumed: number } | { need: true }) {
  let i = 0;
  // A run of 7E (a stray one after a frame's CRC, then the next frame's 7E7E) starts at its last two.
  while (i + 1 < buf.length && !(buf[i] === START && buf[i + 1] === START && buf[i + 2] !== START)) i++;
  const skipped = i;
  if (buf.length - i < 13) return { skipped, need: true };
  const h = buf.subarray(i);
  const lenWord = h.readUInt16BE(11);
  const bodyLength = lenWord & 0x0fff;
  const dirNibble = lenWord >> 12;
  if (dirNibble !== 0 && dirNibble !== 8) return { skipped, problem: { code: 'SL651_BAD_HEADER', message: `direction nibble ${dirNibble.toString(16)} is neither 0 (up) nor 8 (down)` }, consumed: 2 };
  if (bodyLength > maxBody) return { skipped, problem: { code: 'SL651_TOO_LONG', message: `body of ${bodyLength} bytes exceeds the ${maxBody} allowed` }, consumed: 2 };
  const total = FRAME_OVERHEAD + bodyLength;
  if (h.length < total) return { skipped, need: true };
  const startChar = h[13]!;
  if (startChar !== STX && startChar !== SYN) return { skipped, problem: { code: 'SL651_BAD_HEADER', message: `start character ${startChar.toString(16)} is neither STX (02) nor SYN (16)` }, consumed: 2 };
  const endByte = h[14 + bodyLength]!;
  const end = END_BY_BYTE.get(endByte);
  if (!end) return { skipped, problem: { code: 'SL651_BAD_HEADER', message: `end character ${endByte.toString(16)} is not one of ETX ETB ENQ EOT ESC ACK NAK` }, consumed: 2 };
  const raw = Buffer.from(h.subarray(0, total));
  const sent = raw.readUInt16BE(total - 2);
  const computed = crc16(raw, 0, total - 2);
  if (sent !== computed) return { skipped, problem: { code: 'SL651_BAD_CRC', message: `CRC ${sent.toString(16).padStart(4, '0')} sent, ${computed.toString(16).padStart(4, '0')} computed` }, consumed: total };
  const direction = dirNibble === 8 ? 'down' : 'up';
  // The addresses trade places by direction: the sender's own comes second.
  const [centre, station] = direction === 'up' ? [hex(raw, 2, 3), hex(raw, 3, 8)] : [hex(raw, 7, 8), hex(raw, 2, 7)];
  let body = raw.subarray(14, 14 + bodyLength);
  let packet: Frame['packet'];
  if (startChar === SYN) {
    if (body.length < 3) return { skipped, problem: { code: 'SL651_BAD_HEADER', message: 'SYN without its packet count and sequence' }, consumed: total };
    const word = body.readUIntBE(0, 3);
    packet = { total: word >> 12, seq: word & 0x0fff };
    body = body.subarray(3);
  }
  const frame: Frame = { direction, centre, station, password: hex(raw, 8, 10), func: raw[10]!, start: startChar === SYN ? 'SYN' : 'STX', body, end, raw, ...(packet ? { packet } : {}) };
  return { skipped, frame, consumed: total };
}

/** Two BCD digits of a byte; NaN if either nibble is not a decimal digit. */
export function bcd(byte: number): number {
  const hi = byte >> 4;
  const lo = byte & 0x0f;
  return hi > 9 || lo > 9 ? NaN : hi * 10 + lo;
}

/** YYMMDDhhmm[ss] in BCD, as a wall-clock time (the station's, which the city's zone places). */
export function bcdTime(b: Buffer, withSeconds: boolean): { y: number; mo: number; d: number; h: number; mi: number; s: number } | undefined {
  const n = withSeconds ? 6 : 5;
  if (b.length < n) return undefined;
  const f = [...b.subarray(0, n)].map(bcd);
  if (f.some(Number.isNaN)) return undefined;
  const [y, mo, d, h, mi, s = 0] = f as [number, number, number, number, number, number?];
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 59) return undefined;
  return { y: 2000 + y, mo, d, h, mi, s };
}

/** The fields of a wall-clock time given as ms since the epoch read as UTC (a zone's offset already added). */
export function wallTimeOf(wallAsUtcMs: number): { y: number; mo: number; d: number; h: number; mi: number; s: number } {
  const d = new Date(wallAsUtcMs);
  return { y: d.getUTCFullYear(), mo: d.getUTCMonth() + 1, d: d.getUTCDate(), h: d.getUTCHours(), mi: d.getUTCMinutes(), s: d.getUTCSeconds() };
}

export const toBcd = (n: number) => ((Math.floor(n / 10) % 10) << 4) | n % 10;

/** A wall time as SL 651 sends it: YYMMDDhhmm[ss] in BCD. */
export function encodeWallTime(t: { y: number; mo: number; d: number; h: number; mi: number; s: number }, withSeconds: boolean): Buffer {
  const parts = [t.y % 100, t.mo, t.d, t.h, t.mi, ...(withSeconds ? [t.s] : [])];
  return Buffer.from(parts.map(toBcd));
}

export interface FrameFields {
  direction: 'up' | 'down';
  centre: string;
  station: string;
  password: string;
  func: number;
  /** For a packet of a multi-packet report (SYN start). */
  packet?: { total: number; seq: number };
  /** Serial, send time and content (for SYN: without the packet header, which is added). */
  body: Buffer;
  end: EndChar;
}

/** A whole frame (the inverse of readFrame): header, start, body, end character, CRC. */
export function encodeFrame(f: FrameFields): Buffer {
  const addresses = f.direction === 'up' ? [f.centre, f.station] : [f.station, f.centre];
  const packetHeader = f.packet ? Buffer.from([(f.packet.total >> 4) & 0xff, ((f.packet.total & 0x0f) << 4) | ((f.packet.seq >> 8) & 0x0f), f.packet.seq & 0xff]) : Buffer.alloc(0);
  const bodyLength = packetHeader.length + f.body.length;
  if (bodyLength > MAX_BODY) throw new RangeError(`body of ${bodyLength} bytes exceeds SL 651's ${MAX_BODY}`);
  const head = Buffer.alloc(14);
  head[0] = START;
  head[1] = START;
  Buffer.from(addresses.join(''), 'hex').copy(head, 2);
  Buffer.from(f.password, 'hex').copy(head, 8);
  head[10] = f.func;
  head.writeUInt16BE((f.direction === 'down' ? 0x8000 : 0) | bodyLength, 11);
  head[13] = f.packet ? SYN : STX;
  const frame = Buffer.concat([head, packetHeader, f.body, Buffer.from([END_CHARS[f.end]])]);
  const crc = crc16(frame);
  return Buffer.concat([frame, Buffer.from([crc >> 8, crc & 0xff])]);
}

/**
 * The centre's answer to a report, as a real centre sends it (../shared/sl651, the comger
 * capture): downlink, the same function code, the report's serial, the centre's time, and ESC
 * (keep the link: more to come) or EOT (release it); ACK (06) / NAK (15) for a packet of a
 * multi-packet report.
 */
export function encodeReply(o: { station: string; centre: string; password: string; func: number; serial: number; time: { y: number; mo: number; d: number; h: number; mi: number; s: number }; end: 'ESC' | 'EOT' | 'ACK' | 'NAK' }): Buffer {
  const body = Buffer.concat([Buffer.from([o.serial >> 8, o.serial & 0xff]), encodeWallTime(o.time, true)]);
  return encodeFrame({ direction: 'down', centre: o.centre, station: o.station, password: o.password, func: o.func, body, end: o.end });
}
