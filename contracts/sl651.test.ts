/**
 * The SL 651-2014 frame and report codec against real frames (test/fixtures/sl651, copied from
 * ../shared/sl651: two provinces' example sets and a real station's capture with the real
 * centre's replies), cross-checked with an independent decoder's output (*.decoded.jsonl).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { crc16, encodeReply, readFrame, type Frame } from './sl651-frame.ts';
import { decodeReport } from './sl651-report.ts';

const DIR = new URL('../test/fixtures/sl651/', import.meta.url);
const read = (f: string) => readFileSync(new URL(f, DIR), 'utf8');
type Decoded = { hex: string; decoded: Record<string, unknown> & { elements?: Array<Record<string, unknown>>; series?: Array<Record<string, unknown>> } };
const decoded = (f: string): Decoded[] =>
  read(f)
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Decoded);
const ALL = [...decoded('wainshine_fujian_messages.decoded.jsonl'), ...decoded('wainshine_beijing_messages.decoded.jsonl'), ...decoded('comger_testdata_excerpt.decoded.jsonl')];

function frameOf(hex: string): Frame {
  const r = readFrame(Buffer.from(hex, 'hex'));
  if (!('frame' in r)) throw new Error(`no frame in ${hex.slice(0, 40)}: ${JSON.stringify(r)}`);
  return r.frame;
}
const wall = (t: { y: number; mo: number; d: number; h: number; mi: number; s?: number }, seconds = true) =>
  `${t.y}-${String(t.mo).padStart(2, '0')}-${String(t.d).padStart(2, '0')} ${String(t.h).padStart(2, '0')}:${String(t.mi).padStart(2, '0')}${seconds ? `:${String(t.s ?? 0).padStart(2, '0')}` : ''}`;

describe('SL 651 frames', () => {
  it(`reads all ${ALL.length} real frames as the independent decoder does: direction, addresses, password, function, start and end, CRC`, () => {
    for (const { hex, decoded: d } of ALL) {
      const f = frameOf(hex);
      expect({ dir: f.direction, centre: f.centre, station: f.station, pwd: f.password, func: f.func.toString(16).toUpperCase().padStart(2, '0'), start: f.start, end: f.end }, hex.slice(0, 40)).toEqual({
        dir: String(d['dir']).startsWith('down') ? 'down' : 'up',
        centre: d['centre'],
        station: String(d['station']).toUpperCase(),
        pwd: d['pwd'],
        func: String(d['func']).split(' ')[0],
        start: d['start'],
        end: d['end'],
      });
      if (d['packets_total']) expect(f.packet).toEqual({ total: d['packets_total'], seq: d['packet_seq'] });
    }
  });

  it('refuses a frame whose CRC is wrong, consuming it, and finds the next one past stray bytes', () => {
    const good = Buffer.from(ALL[0]!.hex, 'hex');
    const bad = Buffer.from(good);
    bad[20] = bad[20]! ^ 0x01;
    const stream = Buffer.concat([Buffer.from('0d0a', 'hex'), bad, Buffer.from('ff7e', 'hex'), good]);
    const first = readFrame(stream);
    expect(first).toMatchObject({ skipped: 2, problem: { code: 'SL651_BAD_CRC' }, consumed: good.length });
    const rest = stream.subarray(first.skipped + ('consumed' in first ? first.consumed : 0));
    const second = readFrame(rest);
    expect(second).toMatchObject({ skipped: 2, consumed: good.length });
    expect('frame' in second && second.frame.raw.equals(good)).toBe(true);
  });

  it('waits for the rest of a frame split across reads, and refuses a body longer than allowed', () => {
    const good = frameOf(ALL[1]!.hex).raw;
    expect(readFrame(good.subarray(0, 10))).toEqual({ skipped: 0, need: true });
    expect(readFrame(good.subarray(0, good.length - 1))).toEqual({ skipped: 0, need: true });
    expect(readFrame(good, 16)).toMatchObject({ problem: { code: 'SL651_TOO_LONG' } });
  });

  it('CRC-16/MODBUS of the standard check string is 4B37', () => expect(crc16(Buffer.from('123456789')).toString(16).toUpperCase()).toBe('4B37'));
});

describe('SL 651 reports', () => {
  /** The decoder's values, as the independent decoder writes them: `{ "39": 27.3 }` elements and F4/F5 arrays. */
  function expectedValues(d: Decoded['decoded']): Array<[string, number | null]> {
    const out: Array<[string, number | null]> = [];
    for (const e of [...(d.elements ?? []), ...(d.series ?? []).filter((x) => 'F4_5min_rain_mm' in x || 'F5_5min_level_m' in x)]) {
      for (const [k, v] of Object.entries(e)) {
        if (k === 'F4_5min_rain_mm') (v as Array<number | null>).forEach((x) => out.push(['F4', x]));
        else if (k === 'F5_5min_level_m') (v as Array<number | null>).forEach((x) => out.push(['F5', x]));
        else if (/^(FF)?[0-9A-F]{2}$/.test(k) && k !== 'F2' && (typeof v === 'number' || v === null)) out.push([k, v]);
      }
    }
    for (const x of d.series ?? []) for (const [k, v] of Object.entries(x)) if (/^[0-9A-F]{2}$/.test(k) && Array.isArray(v)) (v as Array<number | null>).forEach((x) => out.push([k, x]));
    return out;
  }

  it('decodes every report as the independent decoder does: serial, send time, station, and each element\'s value', () => {
    let checked = 0;
    for (const { hex, decoded: d } of ALL) {
      const f = frameOf(hex);
      if (f.direction !== 'up' || f.start !== 'STX' || ![0x2f, 0x30, 0x31, 0x32, 0x33, 0x34, 0x37, 0x38, 0x3a].includes(f.func)) continue;
      const r = decodeReport(f.func, f.body);
      if (!('report' in r)) throw new Error(`${hex.slice(0, 40)}: ${r.problem.message}`);
      expect({ serial: r.report.serial, sent: wall(r.report.sent) }).toEqual({ serial: d['serial'], sent: d['send_time'] });
      expect(r.report.values.map((v) => [v.id, v.value === null ? null : Math.round(v.value * 1000) / 1000]), hex.slice(0, 60)).toEqual(expectedValues(d));
      checked++;
    }
    expect(checked).toBeGreaterThan(60);
  });

  it('gives each of F4\'s twelve 5-minute values its own time: the first at the observation time, the last at the hour the report was sent', () => {
    const f = frameOf(ALL.find((x) => String(x.decoded['func']).startsWith('34') && x.decoded['station'] === '1090330853' && x.hex.includes('F460'))!.hex);
    const r = decodeReport(f.func, f.body);
    const f4 = 'report' in r ? r.report.values.filter((v) => v.id === 'F4') : [];
    expect(f4).toHaveLength(12);
    expect(wall(f4[0]!.at, false)).toBe('2026-02-02 08:05');
    expect(wall(f4[11]!.at, false)).toBe('2026-02-02 09:00');
    expect(f4[11]!.value).toBe(0);
  });
});

describe('the centre\'s replies', () => {
  it('are, byte for byte, the real centre\'s: same function, the report\'s serial, the centre\'s time, ESC', () => {
    const rows = read('comger_testdata_excerpt.csv')
      .split('\n')
      .map((l) => l.split(','))
      .filter((c) => c[4]?.startsWith('7e7e'));
    const ups = rows.filter((c) => c[1] === '上行').map((c) => frameOf(c[4]!));
    const downs = rows.filter((c) => c[1] === '下行').map((c) => frameOf(c[4]!));
    expect(downs.length).toBeGreaterThan(10);
    for (const down of downs) {
      const serial = down.body.readUInt16BE(0);
      const up = ups.find((u) => u.func === down.func && u.body.readUInt16BE(0) === serial);
      expect(up, `the report answered by ${down.raw.toString('hex')}`).toBeDefined();
      const t = [...down.body.subarray(2, 8)].map((b) => (b >> 4) * 10 + (b & 15)) as [number, number, number, number, number, number];
      const reply = encodeReply({ station: up!.station, centre: up!.centre, password: up!.password, func: up!.func, serial, time: { y: 2000 + t[0], mo: t[1], d: t[2], h: t[3], mi: t[4], s: t[5] }, end: 'ESC' });
      expect(reply.toString('hex')).toBe(down.raw.toString('hex'));
    }
    // Keep-alives get no reply in the capture: no downlink answers a 2F.
    expect(downs.some((d) => d.func === 0x2f)).toBe(false);
  });
});
