/**
 * A scenario's readings, computed: pure and seeded (same scenario and seed → the same readings).
 * Rain falls per district along a Chicago design storm (moving cell: each next district later);
 * each underpass fills from its catchment and is pumped out (a failed pump stops); rain gauges
 * tip and report every 5 minutes; ponding sensors report every 5 minutes, every minute in a storm,
 * and at once on a change of 2 cm; rain stations with an anemometer report the gust front of a
 * thunderstorm (wind_ms, gust_ms); river gauges rise with the rain of the last six hours; tide
 * stations follow the tide. Timestamps end at `endMs` (a run replays them at its speed). The
 * scenario's faults (faults.ts) then turn the clean readings into what the devices send.
 */
import type { Reading } from '../contracts/index.ts';
import { indexRegistry, type Registry } from '../config/registry.ts';
import { prng } from '../lib/prng.ts';
import { depthCm, gustFrontWind, measure, pondStep, rainBetween, shouldReport, tideLevel, tipBucket, type DesignStorm, type Underpass } from './physics.ts';
import { applyFaults, type FaultPlan } from './faults.ts';
import type { Scenario } from './scenario.ts';

export interface Simulation {
  /** The clean readings (what the sensors measured) … */
  readings: Reading[];
  /** … and what the devices send, faults applied (the same readings when there are none). */
  plan: FaultPlan;
  /** Noise-free peak ponding per underpass site (cm): what really happened. */
  peaks: Record<string, number>;
  /** Peak gust per rain station sensor (m/s), when the scenario has wind. */
  gusts: Record<string, number>;
  sensors: string[];
  /** The scenario's start (epoch ms). */
  t0: number;
}

const PONDING_CADENCE = { normalMin: 5, stormMin: 1, changeDelta: 2 };

/** A site's own factor in [1 − v, 1 + v], from its id (the same every run). */
function siteFactor(id: string, v: number, salt: number): number {
  if (v === 0) return 1;
  let h = salt >>> 0;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 16_777_619) >>> 0;
  return 1 + (prng(h)() * 2 - 1) * v;
}

/** The scenario's districts in storm order: as listed, or all of them west to east. */
export function scenarioDistricts(s: Scenario, registry: Registry): string[] {
  if (s.districts !== 'all') return s.districts;
  const lon = (d: string) => {
    const sites = registry.sites.filter((x) => x.district === d);
    return sites.reduce((m, x) => m + x.lon, 0) / Math.max(1, sites.length);
  };
  return registry.districts.map((d) => d.id).sort((a, b) => lon(a) - lon(b));
}

const take = <T>(xs: T[], n: number | 'all') => (n === 'all' ? xs : xs.slice(0, n));

export function simulateScenario(s: Scenario, registry: Registry, endMs: number): Simulation {
  const index = indexRegistry(registry);
  const rand = prng(s.seed);
  const t0 = endMs - s.durationMin * 60_000;
  const readings: Reading[] = [];
  const peaks: Record<string, number> = {};
  const gusts: Record<string, number> = {};
  const sensors: string[] = [];
  const storm: DesignStorm | undefined = s.rain && { returnPeriodYears: s.rain.returnPeriodYears, durationMin: s.rain.durationMin, peak: s.rain.peak };
  const startOf = (districtIdx: number) => (s.rain ? s.rain.startMin + districtIdx * s.rain.moveMinPerDistrict : 0);
  const districts = scenarioDistricts(s, registry);
  const track = s.rain?.track && new Set(s.rain.track);
  /** How much of the storm a district gets (1 on the cell's track). */
  const share = (districtIdx: number) => (!track || track.has(districts[districtIdx]!) ? 1 : s.rain!.outsideTrack);
  const rainIn = (districtIdx: number, t: number, dt: number) => {
    if (!storm || !s.rain) return 0;
    const off = startOf(districtIdx);
    return share(districtIdx) * rainBetween(storm, t - off, t - off + dt, 0.1);
  };
  const tideStations = new Set(s.tide?.stations ?? []);

  districts.forEach((d, di) => {
    if (!index.district(d)) throw new Error(`scenario ${s.name}: district ${d} is not in the registry`);
    const underpasses = take(registry.sites.filter((x) => x.kind === 'underpass' && x.district === d), s.underpassesPerDistrict);
    for (const site of underpasses) {
      const sensor = registry.sensors.find((x) => x.site === site.id && x.kind === 'ponding');
      if (!sensor) continue;
      sensors.push(sensor.id);
      const failure = s.underpass.pumpFailures.find((f) => f.site === site.id);
      const { variation, pumpFailures: _f, ...base } = s.underpass;
      const u: Underpass = {
        ...base,
        catchmentM2: base.catchmentM2 * siteFactor(site.id, variation, 1),
        pumpM3PerMin: base.pumpM3PerMin * siteFactor(site.id, variation, 2),
        ...(failure ? { pumpFailsAtMin: failure.atMin } : {}),
      };
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
    const gauges = take(registry.sensors.filter((x) => x.kind === 'rain' && index.site(x.site)?.district === d), s.gaugesPerDistrict);
    for (const g of gauges) {
      sensors.push(g.id);
      let carry = 0;
      for (let t = 5, seq = 0; t <= s.durationMin; t += 5, seq++) {
        const tip = tipBucket(carry, rainIn(di, t - 5, 5), s.rain?.tipMm ?? 0.5);
        carry = tip.carryMm;
        const fields: Record<string, number> = { rain_mm: tip.reportedMm, interval_s: 300 };
        if (s.wind) {
          // The station reports the 10-minute mean and the strongest gust of its interval; off the
          // cell's track the front arrives weakened like the rain.
          const w = { ...s.wind, peakGustMs: s.wind.baseMs * 1.4 + (s.wind.peakGustMs - s.wind.baseMs * 1.4) * share(di), peakMeanMs: s.wind.baseMs + (s.wind.peakMeanMs - s.wind.baseMs) * share(di) };
          let gust = 0;
          for (let m = t - 5; m < t; m++) gust = Math.max(gust, gustFrontWind(w, m - startOf(di)).gustMs);
          fields['wind_ms'] = measure(gustFrontWind(w, t - startOf(di)).meanMs, 0.3, 0.1, rand, 0);
          fields['gust_ms'] = measure(gust, 0.5, 0.1, rand, 0);
          gusts[g.id] = Math.max(gusts[g.id] ?? 0, gust);
        }
        readings.push({ kind: 'rain', sensorId: g.id, ts: t0 + t * 60_000 - 1, seq, fields });
      }
    }
    const rivers = take(registry.sensors.filter((x) => x.kind === 'water-level' && !tideStations.has(x.site) && index.site(x.site)?.district === d), s.riversPerDistrict);
    for (const w of rivers) {
      sensors.push(w.id);
      const warning = index.site(w.site)?.warningLevelM ?? 4;
      let rain6h = 0;
      for (let t = 0, seq = 0; t < s.durationMin; t += 5, seq++) {
        rain6h = rainIn(di, t - 360, 360);
        const level = warning - s.river.belowWarningM + s.river.rainResponseMPerMm * rain6h;
        readings.push({ kind: 'water-level', sensorId: w.id, ts: t0 + t * 60_000, seq, fields: { level_m: measure(level, 0.01, 0.01, rand) } });
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
  const plan = applyFaults(readings, s.faults, { t0, seed: s.seed });
  return { readings, plan, peaks, gusts, sensors, t0 };
}
