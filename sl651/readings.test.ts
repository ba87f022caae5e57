import { describe, expect, it } from 'vitest';
import { mapReport } from './readings.ts';
import type { Sl651Report, Sl651Value, WallTime } from '../contracts/sl651-report.ts';
import { parseZone } from '../lib/zone.ts';
import type { Station } from './stations.ts';

const zone = parseZone('+08:00')!;
const at = (h: number, mi: number): WallTime => ({ y: 2026, mo: 7, d: 1, h, mi, s: 0 });
const ms = (h: number, mi: number) => Date.parse(`2026-07-01T${String(h).padStart(2, '0')}:${String(mi).padStart(2, '0')}:00+08:00`);
const station: Station = { address: '3110000001', sensors: { rain: 'RG-1', 'water-level': 'WL-1' }, passwordHash: 'x', networks: undefined };
const v = (id: string, value: number | null, t = at(9, 0)): Sl651Value => ({ id, value, at: t });
const rep = (values: Sl651Value[]): Sl651Report => ({ serial: 1, sent: at(9, 0), values, undecoded: [] });
const f4 = (values: Array<number | null>) => values.map((x, i) => v('F4', x, at(8, 5 + i * 5 > 59 ? 59 : 5 + i * 5)));

describe('mapReport', () => {
  it.each([
    ['a level (39) and the supply voltage (38) at the observation time', [v('39', 3.215), v('38', 12.1)], { 'water-level': [{ ts: ms(9, 0), level_m: 3.215, battery_v: 12.1 }] }],
    ['5-minute rain (22)', [v('22', 0.5)], { rain: [{ ts: ms(9, 0), rain_mm: 0.5, interval_s: 300 }] }],
    ['1-hour rain (1A) when there is no 5-minute rain; the current rain (20) rides along as extra', [v('1A', 4.5), v('20', 9)], { rain: [{ ts: ms(9, 0), rain_mm: 4.5, interval_s: 3600, extra: { '20': 9 } }] }],
    ['22 over 1A when both are there (one interval per report: rain is never counted twice)', [v('1A', 4.5), v('22', 0.5)], { rain: [{ ts: ms(9, 0), rain_mm: 0.5, interval_s: 300 }] }],
    ['missing values (FF…) left out', [v('22', null), v('39', null)], {}],
    ['a level outside the contract\'s range refused, not published', [v('39', 99)], {}],
  ] as const)('%s', (_name, values, expected) => {
    const out = mapReport(rep([...values]), station, zone);
    expect(Object.fromEntries(out.readings.map((r) => [r.kind, r.items]))).toEqual(expected);
  });

  it('F4: twelve 5-minute amounts, each at its own time; F5 and 39 at the same time give one level', () => {
    const values = [...f4([0.5, null, 1, 0, 0, 0, 0, 0, 0, 0, 0, 2]), v('F5', 4.28, at(9, 0)), v('39', 4.28, at(9, 0))];
    const out = mapReport(rep(values), station, zone);
    const rain = out.readings.find((r) => r.kind === 'rain')!.items;
    expect(rain).toHaveLength(11);
    expect(rain[0]).toEqual({ ts: ms(8, 5), rain_mm: 0.5, interval_s: 300 });
    expect(out.readings.find((r) => r.kind === 'water-level')!.items).toEqual([{ ts: ms(9, 0), level_m: 4.28 }]);
  });

  it('26 (accumulated rain): the difference from the previous report over the time between them; a reset gives none', () => {
    const first = mapReport(rep([v('26', 120.5, at(9, 0))]), station, zone);
    expect(first.readings).toEqual([]);
    const second = mapReport(rep([v('26', 122, at(9, 5))]), station, zone, first.total);
    expect(second.readings[0]!.items).toEqual([{ ts: ms(9, 5), rain_mm: 1.5, interval_s: 300 }]);
    const reset = mapReport(rep([v('26', 0.5, at(9, 10))]), station, zone, second.total);
    expect(reset.readings).toEqual([]);
    expect(reset.total).toEqual({ ts: ms(9, 10), mm: 0.5 });
  });

  it('a station without a sensor of a kind: that kind\'s values go nowhere; the other elements ride on the reading at their time', () => {
    const out = mapReport(rep([v('22', 1), v('39', 2), v('FF09', 7), v('20', 3)]), { ...station, sensors: { 'water-level': 'WL-1' } }, zone);
    expect(out.readings).toEqual([{ kind: 'water-level', sensorId: 'WL-1', items: [{ ts: ms(9, 0), level_m: 2, extra: { FF09: 7, '20': 3 } }] }]);
    expect(out.unmapped).toEqual([]);
  });

  it('other elements at a time with no reading are counted as unmapped', () => {
    const out = mapReport(rep([v('39', 2, at(9, 0)), v('FF09', 7, at(9, 5))]), station, zone);
    expect(out.readings[0]!.items).toEqual([{ ts: ms(9, 0), level_m: 2 }]);
    expect(out.unmapped).toEqual(['FF09']);
  });
});
