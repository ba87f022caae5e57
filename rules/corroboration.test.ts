import { describe, expect, it } from 'vitest';
import { confirms, nearOf, neighbourAbove, rainIn, rainNear, skyOf, trackBaseline, type Gauge, type PlacedSite } from './corroboration.ts';
import { CorroborationRule, HealthRule } from './spec.ts';

const R = CorroborationRule.parse({});
const H = HealthRule.parse({});
const MIN = 60_000;
const M0 = 29_000_000; // an epoch minute

/** A gauge with `mm` in each of the given minutes, its newest minute `head`. */
function gauge(head: number, mm: Record<number, number> = {}): Gauge {
  const buckets = new Float64Array(1440);
  for (const [m, v] of Object.entries(mm)) buckets[Number(m) % 1440] = v;
  return { buckets, head };
}

describe('rain near a site', () => {
  it.each<[string, Gauge, number, number, number | undefined]>([
    ['the minutes after fromMin up to toMin', gauge(M0 + 10, { [M0]: 1, [M0 + 1]: 2, [M0 + 5]: 4 }), M0, M0 + 5, 6],
    ['not past the newest minute it reported', gauge(M0 + 3, { [M0 + 1]: 2 }), M0, M0 + 30, 2],
    ['silent since the span began: it cannot say', gauge(M0, { [M0]: 9 }), M0, M0 + 30, undefined],
    ['before its first reading', gauge(-1), M0, M0 + 30, undefined],
    ['older than the day it keeps', gauge(M0 + 3000), M0, M0 + 30, undefined],
  ])('%s', (_n, g, from, to, want) => {
    expect(rainIn(g, from, to)).toBe(want);
  });

  it('the wettest gauge near speaks, as mm/h over the window; none reported: undefined', () => {
    const gauges: Record<string, Gauge> = { a: gauge(M0 + 30, { [M0 + 20]: 3 }), b: gauge(M0 + 30, { [M0 + 10]: 5, [M0 + 29]: 1 }), c: gauge(M0 - 100, { [M0 - 100]: 50 }) };
    expect(rainNear({ gauges: ['a', 'b', 'c'], neighbours: [] }, (id) => gauges[id], (M0 + 30) * MIN, 1800)).toEqual({ gaugeId: 'b', mm: 6, mmPerH: 12 });
    expect(rainNear({ gauges: ['c'], neighbours: [] }, (id) => gauges[id], (M0 + 30) * MIN, 1800)).toBeUndefined();
  });

  it.each([
    [{ rain: { gaugeId: 'a', mm: 5, mmPerH: 10, district: 'd' } }, true, 'wet'],
    [{ rain: { gaugeId: 'a', mm: 1, mmPerH: 2, district: 'd' } }, false, 'dry'],
    [{ neighbour: { sensorId: 'PD-2', cm: 16 } }, true, 'wet'],
    [{}, false, 'unknown'],
  ] as const)('%j confirms: %s, the sky: %s', (e, yes, sky) => {
    expect(confirms(e, R)).toBe(yes);
    expect(skyOf(e, R)).toBe(sky);
  });
});

describe('neighbours', () => {
  const T = 1_000 * MIN;
  const history = { 'PD-2': { recentTs: [T - 20 * MIN, T - 10 * MIN, T - MIN, T + MIN], recentV: [30, 16, 12, 40] } };
  it.each<[string, number, number, number, { sensorId: string; cm: number } | undefined]>([
    ['the deepest within the window', T, 900, 15, { sensorId: 'PD-2', cm: 16 }],
    ['a wider window reaches further back', T, 1500, 15, { sensorId: 'PD-2', cm: 30 }],
    ['a reading after the one judged does not count', T, 60, 15, undefined],
    ['0 cm turns it off', T, 1500, 0, undefined],
  ])('%s', (_n, ts, windowS, cm, want) => {
    expect(neighbourAbove({ gauges: [], neighbours: ['PD-2', 'PD-9'] }, (id) => history[id as 'PD-2'], ts, windowS, cm)).toEqual(want);
  });

  it('nearOf: the nearest gauges within the radius (else the district\'s), underpasses close by or on the same road', () => {
    const at = (id: string, kind: string, dLatKm: number, road = '', district = 'd1'): PlacedSite => ({ id, kind, road, district, lat: 31 + dLatKm / 111.2, lon: 121 });
    const here = at('UP-1', 'underpass', 0, 'Road A');
    const sites = [here, at('RS-1', 'rain-station', 1), at('RS-2', 'rain-station', 3), at('RS-3', 'rain-station', 9), at('UP-2', 'underpass', 1), at('UP-3', 'underpass', 4, 'Road A'), at('UP-4', 'underpass', 4, 'Road B'), at('UP-5', 'underpass', 20, 'Road A')];
    const sensorsAt = (id: string, kind: 'rain' | 'ponding') => (id.startsWith('RS') && kind === 'rain' ? [`RG${id.slice(2)}`] : id.startsWith('UP') && kind === 'ponding' ? [`PD${id.slice(2)}`] : []);
    expect(nearOf(here, sites, sensorsAt, { ...R, rainGauges: 1 })).toEqual({ gauges: ['RG-1'], neighbours: ['PD-2', 'PD-3'] });
    expect(nearOf(here, sites, sensorsAt, R).gauges).toEqual(['RG-1', 'RG-2']);
    // None within 500 m: the district's nearest.
    expect(nearOf(here, sites, sensorsAt, { ...R, rainRadiusM: 500 }).gauges).toEqual(['RG-1', 'RG-2', 'RG-3']);
  });
});

describe('baseline shift', () => {
  const dry = { gauges: ['a'], neighbours: [] };
  const T = 2_000_000 * MIN;
  const tm = T / MIN;
  it.each<[string, Record<number, number>, number | undefined, boolean]>([
    ['30 min at 16 cm with no rain near for 6 h: shifted', {}, tm + 30, true],
    ['1 mm within the dry spell before: not', { [tm - 300]: 1 }, tm + 30, false],
    ['rain during the run: not', { [tm + 20]: 2 }, tm + 30, false],
    ['the gauge silent all along: no judgement', {}, tm - 400, false],
  ])('%s', (_n, mm, head, shifted) => {
    const g = gauge(head ?? tm + 30, mm);
    let run = trackBaseline(undefined, T, 16, H, () => dry, () => g);
    for (let m = 1; m <= 30; m++) run = trackBaseline(run, T + m * MIN, 16 + (m % 3) * 0.4, H, () => dry, () => g);
    expect(run?.shifted !== undefined).toBe(shifted);
  });

  it('judged only after baselineShiftS, again every 5 min, and a reading below baselineShiftCm ends the run', () => {
    const g = gauge(tm + 60);
    let run = trackBaseline(undefined, T, 16, H, () => dry, () => g);
    run = trackBaseline(run, T + 29 * MIN, 16, H, () => dry, () => g);
    expect(run).toEqual({ since: T, checkedAt: 0 });
    run = trackBaseline(run, T + 30 * MIN, 16, H, () => dry, () => g);
    expect(run).toEqual({ since: T, checkedAt: T + 30 * MIN, shifted: { mm: 0 } });
    g.buckets[(tm + 31) % 1440] = 3;
    expect(trackBaseline(run, T + 33 * MIN, 16, H, () => dry, () => g)?.shifted).toEqual({ mm: 0 }); // not re-judged yet
    expect(trackBaseline(run, T + 35 * MIN, 16, H, () => dry, () => g)?.shifted).toBeUndefined();
    expect(trackBaseline(run, T + 36 * MIN, 2, H, () => dry, () => g)).toBeUndefined();
  });
});
