import { describe, expect, it } from 'vitest';
import { BUNDLED_CITY, loadRegistry } from '../config/registry.ts';
import { listScenarios, loadScenario, parseScenario } from './scenario.ts';
import { simulateScenario } from './simulate.ts';
import { parseReadingPayload } from '../contracts/index.ts';

const city = loadRegistry(BUNDLED_CITY);
const END = Date.parse('2026-07-01T20:00:00+08:00');

describe('scenario files', () => {
  it('every bundled scenario is valid, named as its file, and describes itself', () => {
    const all = listScenarios();
    expect(all.length).toBeGreaterThanOrEqual(2);
    for (const s of all) expect(loadScenario(s.name)).toEqual(s);
  });

  it.each([
    ['not YAML', 'name: [x', 'not YAML'],
    ['a misspelt key', 'name: x\ndescription: d\ndurationMin: 10\ndistricts: [huangpu]\nrainfall: {}\n', 'Unrecognized key'],
    ['a bad tip size', 'name: x\ndescription: d\ndurationMin: 10\ndistricts: [huangpu]\nrain: { returnPeriodYears: 2, durationMin: 60, tipMm: 0.3 }\n', 'rain.tipMm'],
    ['no districts', 'name: x\ndescription: d\ndurationMin: 10\ndistricts: []\n', 'districts'],
  ])('refuses %s with a clear message', (_c, text, part) => {
    expect(() => parseScenario(text, 's.yaml')).toThrow(part);
  });
});

describe('pump-failure, simulated', () => {
  const s = loadScenario('pump-failure');
  it('is deterministic: same seed, same readings; another seed, other noise', () => {
    const a = simulateScenario(s, city, END);
    expect(simulateScenario(s, city, END)).toEqual(a);
    expect(simulateScenario({ ...s, seed: 8 }, city, END).readings).not.toEqual(a.readings);
  });
  it('floods the underpass whose pumps failed past 25 cm and keeps the others below', () => {
    const { peaks, readings } = simulateScenario(s, city, END);
    expect(peaks['UP-020']).toBeGreaterThan(40);
    expect(peaks['UP-021']).toBeLessThan(20);
    expect(peaks['UP-022']).toBeLessThan(20);
    expect(readings.every((r) => r.ts <= END && r.ts >= END - s.durationMin * 60_000)).toBe(true);
    // Storm cadence: UP-020's sensor reports every minute while it rains.
    const pd1 = readings.filter((r) => r.sensorId === 'PD-020');
    expect(pd1.length).toBeGreaterThan(60);
    // The gauges' tips add up to the storm's depth (less what is still in the bucket).
    const rain = readings.filter((r) => r.sensorId === readings.find((x) => x.kind === 'rain')!.sensorId).reduce((a, r) => a + r.fields['rain_mm']!, 0);
    expect(rain).toBeGreaterThan(44);
    expect(rain).toBeLessThanOrEqual(46.3);
  });
});

describe('typhoon-surge, simulated', () => {
  it('lifts Wusong and Huangpu Park over their warning levels at the surge, not before', () => {
    const s = loadScenario('typhoon-surge');
    const { readings } = simulateScenario(s, city, END);
    const levels = (id: string) => readings.filter((r) => r.sensorId === id).map((r) => r.fields['level_m']!);
    expect(Math.max(...levels('WL-001'))).toBeGreaterThan(4.8); // Wusong
    expect(Math.max(...levels('WL-002'))).toBeGreaterThan(4.55); // Huangpu Park
    expect(levels('WL-001')[0]).toBeLessThan(4.8); // the first hours are an ordinary tide
    expect(simulateScenario(s, city, END)).toEqual(simulateScenario(s, city, END));
  });
});

describe('thunderstorm (the whole city), simulated', () => {
  const s = loadScenario('thunderstorm');
  const sim = simulateScenario(s, city, END);
  it('runs every sensor of the demo city, deterministically', () => {
    expect(sim.sensors).toHaveLength(city.sensors.length);
    expect(new Set(sim.readings.map((r) => r.sensorId)).size).toBe(1207);
    expect(simulateScenario(s, city, END).readings.slice(0, 500)).toEqual(sim.readings.slice(0, 500));
  });
  it('floods its track and leaves the west dry; gusts on the track, a breeze off it', () => {
    for (const id of s.expect.closed) expect(sim.peaks[id]).toBeGreaterThan(40);
    for (const id of s.expect.open) expect(sim.peaks[id]).toBeLessThan(10);
    expect(sim.gusts['RG-191']).toBeGreaterThan(20.8); // yellow gale (force 9 gusts) on the track
    const westGauge = city.sensors.find((x) => x.kind === 'rain' && city.sites.find((y) => y.id === x.site)?.district === 'qingpu')!;
    expect(sim.gusts[westGauge.id]).toBeLessThan(13.9); // below blue off the track
  });
  it('reports wind only from rain stations, and every reading passes the device contract', () => {
    const windy = sim.readings.filter((r) => r.fields['gust_ms'] !== undefined);
    expect(windy.length).toBeGreaterThan(0);
    expect(windy.every((r) => r.kind === 'rain')).toBe(true);
    for (const send of sim.plan.sends.slice(0, 2000)) expect(parseReadingPayload(send.kind, send.sensorId, send.payload).errors).toEqual([]);
  });
});
