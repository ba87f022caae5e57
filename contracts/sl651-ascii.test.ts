/**
 * SL 651 ASCII mode. No real station's ASCII capture was at hand: the frames here are built to the
 * layout a public SL 651 toolkit's own tests use (wainshine/SL651, tests: a 31 uniform-period
 * report `ST 1000000006 48 TT 2205100500 DRN05 … DRZ1 28.96 … 29.06`), and to the standard's
 * element symbols.
 */
import { describe, expect, it } from 'vitest';
import { crc16, encodeFrame } from './sl651-frame.ts';
import { decodeAsciiReport, encodeAsciiFrame, encodeAsciiReply, readAnyFrame, readAsciiFrame } from './sl651-ascii.ts';
import { encodeReport } from './sl651-report.ts';

/** A frame put together by hand, byte by byte as the layout says (not with encodeAsciiFrame). */
function byHand(func: string, body: string): Buffer {
  const head = Buffer.from(`01100000000600 00${func}${body.length.toString(16).toUpperCase().padStart(4, '0')}`.replace(' ', ''), 'latin1');
  const frame = Buffer.concat([Buffer.from([0x01]), head, Buffer.from([0x02]), Buffer.from(body, 'latin1'), Buffer.from([0x03])]);
  return Buffer.concat([frame, Buffer.from(crc16(frame).toString(16).toUpperCase().padStart(4, '0'), 'latin1')]);
}
const frameOf = (b: Buffer) => {
  const r = readAnyFrame(b);
  if (!('frame' in r)) throw new Error(JSON.stringify(r));
  return r.frame;
};
const wall = (t: { y: number; mo: number; d: number; h: number; mi: number }) => `${t.y}-${t.mo}-${t.d} ${t.h}:${String(t.mi).padStart(2, '0')}`;

describe('SL 651 ASCII mode', () => {
  it('reads the toolkit\'s uniform-period report: header fields, and twelve DRZ1 levels five minutes apart from TT', () => {
    const f = frameOf(byHand('31', '0001220510050000ST 1000000006 48 TT 2205100500 DRN05 005 DRZ1 28.96 28.96 28.97 28.98 28.99 29.00 29.01 29.02 29.03 29.04 29.05 29.06'));
    expect({ mode: f.mode, dir: f.direction, centre: f.centre, station: f.station, password: f.password, func: f.func, end: f.end }).toEqual({ mode: 'ascii', dir: 'up', centre: '01', station: '1000000006', password: '0000', func: 0x31, end: 'ETX' });
    const r = decodeAsciiReport(f.body);
    if (!('report' in r)) throw new Error(r.problem.message);
    expect(r.report).toMatchObject({ serial: 1, station: '1000000006', category: '48' });
    const levels = r.report.values.filter((v) => v.id === 'F5');
    expect(levels.map((v) => v.value)).toEqual([28.96, 28.96, 28.97, 28.98, 28.99, 29.0, 29.01, 29.02, 29.03, 29.04, 29.05, 29.06]);
    expect([wall(levels[0]!.at), wall(levels[11]!.at)]).toEqual(['2022-5-10 5:00', '2022-5-10 5:55']);
  });

  it.each([
    ['a timed report: PJ, Z, VT as the HEX ids 20, 39, 38', 'ST 0012345678 48 TT 2612071000 PJ 1.5 Z 3.215 VT 12.6', [['20', 1.5], ['39', 3.215], ['38', 12.6]]],
    ['rain as PN05 and P1, the daily PD', 'ST 0012345678 50 TT 2612071000 PN05 0.5 P1 4.5 PD 12.0', [['22', 0.5], ['1A', 4.5], ['1F', 12]]],
    ['a missing value written as F…', 'ST 0012345678 48 TT 2612071000 Z FFFF VT 12.6', [['39', null], ['38', 12.6]]],
    ['DRP as HEX mode\'s twelve bytes in characters', 'ST 0012345678 50 TT 2612071000 DRP 0500FF000000000000000014', [['F4', 0.5], ['F4', 0], ['F4', null], ...Array.from({ length: 8 }, () => ['F4', 0] as const), ['F4', 2]]],
    ['a symbol floodgate does not map, kept under its name', 'ST 0012345678 48 TT 2612071000 Q 5.678', [['Q', 5.678]]],
  ] as const)('%s', (_name, text, values) => {
    const r = decodeAsciiReport(Buffer.from(`002A261207100005${text}`, 'latin1'));
    if (!('report' in r)) throw new Error(r.problem.message);
    expect(r.report.serial).toBe(42);
    expect(r.report.values.map((v) => [v.id, v.value])).toEqual(values);
  });

  it('refuses a body without a serial and send time, and an element before TT', () => {
    expect(decodeAsciiReport(Buffer.from('zz', 'latin1'))).toMatchObject({ problem: { code: 'SL651_BAD_BODY' } });
    expect(decodeAsciiReport(Buffer.from('0001261207100000ST 0012345678 48 Z 1.0', 'latin1'))).toMatchObject({ problem: { code: 'SL651_BAD_BODY' } });
  });

  it('refuses a bad CRC, finds frames of both modes in one stream past stray bytes, and waits for the rest of one', () => {
    const a = encodeAsciiFrame({ direction: 'up', centre: '01', station: '0012345678', password: '1234', func: 0x32, body: '0001261207100000ST 0012345678 48 TT 2612071000 Z 1.5', end: 'ETX' });
    const h = encodeFrame({ direction: 'up', centre: '01', station: '0012345678', password: '1234', func: 0x32, body: encodeReport({ serial: 2, sent: { y: 2026, mo: 12, d: 7, h: 10, mi: 0, s: 0 }, station: '0012345678', category: '48', at: { y: 2026, mo: 12, d: 7, h: 10, mi: 0, s: 0 }, elements: [['39', 1.5]] }), end: 'ETX' });
    const bad = Buffer.from(a);
    bad[30] = 0x39;
    const stream = Buffer.concat([Buffer.from('AT+OK\r\n', 'latin1'), bad, a, Buffer.from([0x01, 0x7a]), h]);
    const got: string[] = [];
    for (let rest = stream; ; ) {
      const r = readAnyFrame(rest);
      if ('need' in r) break;
      got.push('frame' in r ? `${r.frame.mode ?? 'hex'} ${r.frame.func.toString(16)}` : r.problem.code);
      rest = rest.subarray(r.skipped + r.consumed);
    }
    expect(got).toEqual(['SL651_BAD_CRC', 'ascii 32', 'hex 32']);
    expect(readAnyFrame(a.subarray(0, a.length - 2))).toEqual({ skipped: 0, need: true });
    expect(readAsciiFrame(a, 16)).toMatchObject({ problem: { code: 'SL651_TOO_LONG' } });
  });

  it('the centre\'s reply in ASCII: downlink, the same function, the serial and the centre\'s time in characters, ESC', () => {
    const f = frameOf(encodeAsciiReply({ station: '0012345678', centre: '01', password: '1234', func: 0x32, serial: 0x2a, time: { y: 2026, mo: 12, d: 7, h: 10, mi: 0, s: 3 }, end: 'ESC' }));
    expect({ mode: f.mode, dir: f.direction, station: f.station, centre: f.centre, func: f.func, body: f.body.toString('latin1'), end: f.end }).toEqual({ mode: 'ascii', dir: 'down', station: '0012345678', centre: '01', func: 0x32, body: '002A261207100003', end: 'ESC' });
  });
});
