import { describe, expect, it } from 'vitest';
import { defaultChartRules, influxQl, rainTotals, stepFor, thresholdsOf } from './readings.ts';
import { RainRule, UnderpassRule } from '../rules/spec.ts';

const H = 3600_000;

describe('readings for charts', () => {
  it.each([
    ['6 h', 6 * H, 60_000],
    ['24 h', 24 * H, 240_000],
    ['3 d', 72 * H, 660_000],
    ['7 d', 168 * H, 1_560_000],
    ['a minute', 60_000, 60_000],
  ])('step for %s: whole minutes, about 400 buckets at most', (_n, span, want) => {
    const step = stepFor(0, span);
    expect(step).toBe(want);
    expect(span / step).toBeLessThanOrEqual(400);
  });

  it.each([
    ['minute buckets: the one starting an hour before the end is in the last hour', [[0, 1], [5 * H, 2], [5.5 * H, 3], [6 * H - 60_000, 4]], 6 * H, 60_000, { h1: 9, h6: 10 }],
    ['nothing in the last hour', [[0, 1]], 6 * H, 60_000, { h1: 0, h6: 1 }],
    ['wide buckets count when they reach into the window', [[5 * H - 30 * 60_000, 2]], 6 * H, 3600_000, { h1: 2, h6: 2 }],
    ['rounded to 0.1 mm', [[5.9 * H, 0.15], [5.95 * H, 0.1]], 6 * H, 60_000, { h1: 0.3, h6: 0.3 }],
  ] as Array<[string, Array<[number, number]>, number, number, { h1: number; h6: number }]>)('rain totals: %s', (_n, points, to, step, want) => {
    expect(rainTotals(points, to, step)).toEqual(want);
  });

  it.each([
    ['ponding: highest per bucket', { sensorId: 'PD-001', kind: 'ponding' as const }, `SELECT max("depth_cm") FROM "ponding" WHERE "sensor" = 'PD-001' AND time >= 0ms AND time < 3600000ms GROUP BY time(60000ms) fill(none)`],
    ['rain: summed per bucket', { sensorId: 'RG-001', kind: 'rain' as const }, `SELECT sum("rain_mm") FROM "rainfall" WHERE "sensor" = 'RG-001' AND time >= 0ms AND time < 3600000ms GROUP BY time(60000ms) fill(none)`],
    ['a quote in an id cannot end the string', { sensorId: "x' OR 1=1 --", kind: 'water-level' as const }, `SELECT max("level_m") FROM "water_level" WHERE "sensor" = 'x\\' OR 1=1 --' AND time >= 0ms AND time < 3600000ms GROUP BY time(60000ms) fill(none)`],
  ])('InfluxQL, %s', (_n, q, want) => {
    expect(influxQl({ ...q, fromMs: 0, toMs: H, stepMs: 60_000 })).toBe(want);
  });

  it.each([
    ['ponding, defaults', 'ponding', undefined, [15, 25, 15]],
    ['ponding, the site closes at 30', 'ponding', { id: 'UP-1', underpass: { closeCm: 30, reopenCm: 20 } }, [15, 30, 20]],
    ['water level from the registry', 'water-level', { id: 'WS-1', warningLevelM: 4.8 }, [4.8, 5.3]],
    ['water level without one', 'water-level', { id: 'WS-2' }, []],
  ] as const)('reference levels: %s', (_n, kind, site, want) => {
    expect(thresholdsOf(kind, defaultChartRules(site)).map((t) => t.value)).toEqual(want);
  });

  it('reference levels follow the rules in force (a rules file that changes them)', () => {
    const rules = { ...defaultChartRules(undefined), underpass: UnderpassRule.parse({ warnCm: 12, closeCm: 27, reopenCm: 14 }), rain: RainRule.parse({ levels: { blue: { '1h': 30 } } }) };
    expect(thresholdsOf('ponding', rules).map((t) => `${t.name}=${t.value}`)).toEqual(['warn=12', 'close=27', 'reopen=14']);
    expect(thresholdsOf('rain', rules).map((t) => `${t.name}=${t.value}`)).toEqual(['blue-1h=30', 'yellow-1h=50', 'orange-1h=80']);
  });
});
