/**
 * The physics the simulators drive sensors with: pure, seeded, deterministic (DESIGN.md, Domain
 * defaults). Time is in minutes from the start of a scenario unless a name says otherwise.
 *
 * - Rain: the Shanghai storm intensity formula q = 1600(1 + 0.846 lg P) / (t + 7)^0.656 L/(s·ha),
 *   i = 0.006 q mm/min (the average intensity over a duration t, for a return period P in years),
 *   shaped in time by a Chicago hyetograph with peak position r ≈ 0.37; tipping-bucket gauges.
 * - Ponding: each underpass a small reservoir — rain over its catchment in, pumps out up to their
 *   capacity; a pump can fail.
 * - River / tide: irregular semidiurnal tide (M2 period 12.42 h, a quarter-diurnal overtide that
 *   makes the rise short and the fall long), a spring–neap cycle, a storm surge and a rain response.
 * - Sensors: noise, resolution, and when they report (normal interval, storm interval, an extra
 *   report on a large change).
 */

// ---------------------------------------------------------------------------------------------
// Rain

/** Shanghai IDF as i(t) = a / (t + b)^n mm/min: a = 0.006 · 1600 (1 + 0.846 lg P), b = 7, n = 0.656. */
export function shanghaiIdf(returnPeriodYears: number): { a: number; b: number; n: number } {
  return { a: 0.006 * 1600 * (1 + 0.846 * Math.log10(returnPeriodYears)), b: 7, n: 0.656 };
}

/** Average intensity (mm/min) over a storm of `durationMin`: the formula itself. */
export function averageIntensity(returnPeriodYears: number, durationMin: number): number {
  const { a, b, n } = shanghaiIdf(returnPeriodYears);
  return a / (durationMin + b) ** n;
}

/** Total depth (mm) of a design storm of `durationMin`. */
export function designDepth(returnPeriodYears: number, durationMin: number): number {
  return averageIntensity(returnPeriodYears, durationMin) * durationMin;
}

export interface DesignStorm {
  returnPeriodYears: number;
  durationMin: number;
  /** Peak position as a fraction of the duration (Shanghai practice ≈ 0.37). */
  peak: number;
}

/**
 * Instantaneous intensity (mm/min) of the Chicago hyetograph at minute `t` of the storm (0 outside
 * it). Built so that the most intense window of every length around the peak has the IDF's depth;
 * the whole storm integrates to `designDepth`.
 */
export function chicagoIntensity(s: DesignStorm, t: number): number {
  if (t < 0 || t > s.durationMin) return 0;
  const { a, b, n } = shanghaiIdf(s.returnPeriodYears);
  const tp = s.peak * s.durationMin;
  const x = t < tp ? (tp - t) / s.peak : (t - tp) / (1 - s.peak);
  return (a * ((1 - n) * x + b)) / (x + b) ** (1 + n);
}

/** Depth (mm) fallen between minute t0 and t1 (numerical, fine steps: the curve is smooth). */
export function rainBetween(s: DesignStorm, t0: number, t1: number, stepMin = 0.05): number {
  let sum = 0;
  for (let t = t0; t < t1 - 1e-12; t += stepMin) {
    const h = Math.min(stepMin, t1 - t);
    sum += ((chicagoIntensity(s, t) + chicagoIntensity(s, t + h)) / 2) * h;
  }
  return sum;
}

/** A tipping-bucket gauge: rain accumulates; each report gives whole tips (0.1, 0.2 or 0.5 mm). */
export function tipBucket(carryMm: number, fallenMm: number, tipMm: number): { reportedMm: number; carryMm: number } {
  const total = carryMm + fallenMm;
  const tips = Math.floor(total / tipMm + 1e-9);
  return { reportedMm: Math.round(tips * tipMm * 1000) / 1000, carryMm: total - tips * tipMm };
}

// ---------------------------------------------------------------------------------------------
// Ponding: an underpass as a reservoir

export interface Underpass {
  /** Area of the sag's floor (m²): depth = volume / area (a prismatic basin). */
  basinM2: number;
  /** Road catchment draining into it (m²) and its runoff coefficient. */
  catchmentM2: number;
  runoff: number;
  /** Pump capacity (m³/min) and, if it fails, the minute it stops. */
  pumpM3PerMin: number;
  pumpFailsAtMin?: number;
}

/** One step: rain intensity (mm/min) in, pumps out up to capacity; returns the new volume (m³). */
export function pondStep(u: Underpass, volumeM3: number, rainMmPerMin: number, t: number, dtMin: number): number {
  const inflow = ((u.runoff * rainMmPerMin) / 1000) * u.catchmentM2; // m³/min
  const pump = u.pumpFailsAtMin !== undefined && t >= u.pumpFailsAtMin ? 0 : u.pumpM3PerMin;
  return Math.max(0, volumeM3 + (inflow - pump) * dtMin);
}

export const depthCm = (u: Underpass, volumeM3: number) => (volumeM3 / u.basinM2) * 100;

// ---------------------------------------------------------------------------------------------
// River / tide

export interface Tide {
  /** Mean level (m above datum), M2 amplitude (m) and phase (minutes of the first high water). */
  meanM: number;
  amplitudeM: number;
  highWaterAtMin: number;
  /** Spring–neap: the amplitude swings ± this fraction over 14.77 days; `springAtMin` = a spring tide. */
  springNeap: number;
  springAtMin: number;
  /** Quarter-diurnal overtide relative to M2: > 0 makes the rise shorter than the fall. */
  overtide: number;
  /** A storm surge (m) peaking at `surgeAtMin`, lasting about `surgeHours`. */
  surgeM?: number;
  surgeAtMin?: number;
  surgeHours?: number;
  /** Level rise (m) per mm of rain over the previous 6 hours (local runoff into the river). */
  rainResponseMPerMm?: number;
}

export const M2_PERIOD_MIN = 12.42 * 60;
const SPRING_NEAP_MIN = 14.77 * 24 * 60;

/** Water level (m above datum) at minute t; `rain6hMm` = rain over the previous 6 hours. */
export function tideLevel(tide: Tide, t: number, rain6hMm = 0): number {
  const w = (2 * Math.PI) / M2_PERIOD_MIN;
  const amp = tide.amplitudeM * (1 + tide.springNeap * Math.cos((2 * Math.PI * (t - tide.springAtMin)) / SPRING_NEAP_MIN));
  const phase = w * (t - tide.highWaterAtMin);
  // M2 + M4: with the overtide in this phase the flood (rise) is short and the ebb (fall) long.
  const astro = amp * (Math.cos(phase) - tide.overtide * Math.sin(2 * phase));
  const surge = tide.surgeM && tide.surgeAtMin !== undefined ? tide.surgeM * Math.exp(-(((t - tide.surgeAtMin) / ((tide.surgeHours ?? 12) * 30)) ** 2)) : 0;
  return tide.meanM + astro + surge + (tide.rainResponseMPerMm ?? 0) * rain6hMm;
}

// ---------------------------------------------------------------------------------------------
// Wind: the gust front of a thunderstorm

export interface GustFront {
  /** Background mean wind (m/s) before the front. */
  baseMs: number;
  /** Peak gust (m/s) as the front passes, and the 10-minute mean wind at that moment. */
  peakGustMs: number;
  peakMeanMs: number;
  /** The front arrives this many minutes before the rain does, and dies down with this e-folding time. */
  leadMin: number;
  decayMin: number;
}

/**
 * Mean wind and gust (m/s) `t` minutes after the rain began at a place (negative: before). The
 * outflow of a thunderstorm cell reaches the ground ahead of its rain: the wind jumps within a
 * couple of minutes, peaks, then decays back to the background wind.
 */
export function gustFrontWind(w: GustFront, t: number): { meanMs: number; gustMs: number } {
  const since = t + w.leadMin;
  if (since < 0) return { meanMs: w.baseMs, gustMs: w.baseMs * 1.4 };
  const ramp = Math.min(1, since / 2);
  const decay = Math.exp(-Math.max(0, since - 2) / w.decayMin);
  const k = ramp * decay;
  return { meanMs: w.baseMs + (w.peakMeanMs - w.baseMs) * k, gustMs: w.baseMs * 1.4 + (w.peakGustMs - w.baseMs * 1.4) * k };
}

// ---------------------------------------------------------------------------------------------
// Sensors

/** A standard normal draw from a seeded uniform source (Box–Muller). */
export function gaussian(rand: () => number): number {
  const u = Math.max(rand(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
}

/** What a sensor reads: truth plus noise, rounded to its resolution, clamped at its floor. */
export function measure(truth: number, noiseSd: number, resolution: number, rand: () => number, floor = -Infinity): number {
  const v = Math.max(floor, truth + gaussian(rand) * noiseSd);
  const r = Math.round(v / resolution) * resolution;
  return Number(r.toFixed(Math.max(0, -Math.floor(Math.log10(resolution)))));
}

export interface Cadence {
  normalMin: number;
  stormMin: number;
  /** An extra report when the value moved at least this much since the last report. */
  changeDelta: number;
}

/** Whether a sensor reports at minute t (pure: its last report and value decide). */
export function shouldReport(c: Cadence, t: number, lastReportMin: number | undefined, lastValue: number | undefined, value: number, stormy: boolean): boolean {
  if (lastReportMin === undefined || lastValue === undefined) return true;
  const every = stormy ? c.stormMin : c.normalMin;
  return t - lastReportMin >= every || Math.abs(value - lastValue) >= c.changeDelta;
}
