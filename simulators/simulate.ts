/**
 * A scenario's readings, computed: pure and seeded (same scenario and seed → the same readings).
 * Rain falls per district along a Chicago design storm (moving cell: each next district later);
 * each underpass fills from its catchment and is pumped out (a failed pump stops); rain gauges
 * tip and report every 5 minutes; ponding sensors report every 5 minutes, every minute in a storm,
 * and at once on a change of 2 cm. Timestamps end at `endMs` (a run replays them at its speed).
 */
import type { Reading } from '../contracts/index.ts';
import { indexRegistry, type Registry } from '../config/registry.ts';
import { prng } from '../lib/prng.ts';
import { depthCm, measure, pondStep, rainBetween, shouldReport, tideLevel, tipBucket, type DesignStorm, type Underpass } from './physics.ts';
import type { Scenario } from './scenario.ts';

export interface Simulation {
  readings: Reading[];
  /** Noise-free peak ponding per underpass site (cm): what really happened. */
  peaks: Record<string, number>;
  sensors: string[];
}

const PONDING_CADENCE = { normalMin: 5, stormMin: 1, changeDelta: 2 };

export function simulateScenario(s: Scenario, registry: Registry, endMs: number): Simulation {
  const index = indexRegistry(registry);
  const rand = prng(s.seed);
  const t0 = endMs - s.durationMin * 60_000;
  const readings: Reading[] = [];
  const peaks: Record<string, number> = {};
  const sensors: string[] = [];
  const storm: DesignStorm | undefined = s.rain && { returnPeriodYears: s.rain.returnPeriodYears, durationMin: s.rain.durationMin, peak: s.rain.peak };
  const rainIn = (districtIdx: number, t: number, dt: number) => {
    if (!storm || !s.rain) return 0;
    const off = s.rain.startMin + districtIdx * s.rain.moveMinPerDistrict;
    return rainBetween(storm, t - off, t - off + dt, 0.1);
  };

  s.districts.forEach((d, di) => {
    if (!index.district(d)) throw new Error(`scenario ${s.name}: district ${d} is not in the registry`);
    const underpasses = registry.sites.filter((x) => x.kind === 'underpass' && x.district === d).slice(0, s.underpassesPerDistrict);
    for (const site of underpasses) {
      const sensor = registry.sensors.find((x) => x.site === site.id && x.kind === 'ponding');
      if (!sensor) continue;
      sensors.push(sensor.id);
      const failure = s.underpass.pumpFailures.find((f) => f.site === site.id);
      const u: Underpass = { ...s.underpass, ...(failure ? { pumpFailsAtMin: failure.atMin } : {}) };
      let volume = 0;
      let last: { t: number; v: number } | undefined;
      let seq = 0;
      peaks[site.id] = 0;
      for (let t = 0; t < s.durationMin; t++) {
        const mm = rainIn(di, t, 1);
        volume = pondStep(u, volume, mm, t, 1);
        const depth = depthCm(u, volume);
        peaks[site.id] = Math.max(peaks[site.id]!, depth);
        const value = measure(depth, 0.3, 0.1, rand, 0);
        if (shouldReport(PONDING_CADENCE, t, last?.t, last?.v, value, mm > 0 || depth > 5)) {
          readings.push({ kind: 'ponding', sensorId: sensor.id, ts: t0 + t * 60_000, seq: seq++, fields: { depth_cm: value, battery_v: 3.6 } });
          last = { t, v: value };
        }
      }
    }
    const gauges = registry.sensors.filter((x) => x.kind === 'rain' && index.site(x.site)?.district === d).slice(0, s.gaugesPerDistrict);
    for (const g of gauges) {
      sensors.push(g.id);
      let carry = 0;
      for (let t = 5, seq = 0; t <= s.durationMin; t += 5, seq++) {
        const tip = tipBucket(carry, rainIn(di, t - 5, 5), s.rain?.tipMm ?? 0.5);
        carry = tip.carryMm;
        readings.push({ kind: 'rain', sensorId: g.id, ts: t0 + t * 60_000 - 1, seq, fields: { rain_mm: tip.reportedMm, interval_s: 300 } });
      }
    }
  });
  if (s.tide) {
    const { stations, ...tide } = s.tide;
    for (const station of stations) {
      const sensor = registry.sensors.find((x) => x.site === station && x.kind === 'water-level');
      if (!sensor) throw new Error(`scenario ${s.name}: no water-level sensor at ${station}`);
      sensors.push(sensor.id);
      for (let t = 0, seq = 0; t < s.durationMin; t += 5, seq++) {
        const level = tideLevel(tide, t, rainIn(0, t - 360, 360));
        readings.push({ kind: 'water-level', sensorId: sensor.id, ts: t0 + t * 60_000, seq, fields: { level_m: measure(level, 0.01, 0.01, rand) } });
      }
    }
  }
  readings.sort((a, b) => a.ts - b.ts || (a.sensorId < b.sensorId ? -1 : 1));
  return { readings, peaks, sensors };
}
