/**
 * The rules engine's core: readings in, alert transitions out, no I/O and no clock of its own.
 *
 *   evaluate(state, reading, now) → { transitions, flags }   one reading (sensor time = reading.ts)
 *   tick(state, now)              → { transitions }          sensors that went silent
 *
 * `now` is the arrival time (the service's clock; in a backtest, the reading's own time): it only
 * decides "offline". Every other decision uses the readings' timestamps, so a replay or a late
 * batch gives the same answer as live traffic. Corroboration (rules/corroboration.ts) reads other
 * sensors' readings at or before the judged reading's time, as far as they have arrived: when the
 * rain's come after the underpass's (a failover's replay), a closure may come a reading later, and
 * is the same episode with the same id (named by its first reading above closeCm).
 *
 * State is owned by the engine and updated in place (the benchmark's 500,000 readings/s per core
 * leave no room for a copy per reading): a sensor's record, its recent history and a rain gauge's
 * minute buckets. The decisions themselves are pure: `stepFsm` (fsm.ts) returns a new phase
 * object only when something changed, and the rule functions below only read their inputs.
 */
import { ALERT_RULES, MAIN_FIELD, renderReason, type Reading, type ReasonKey, type SensorKind, type Why } from '../contracts/index.ts';
import { alertIdFor, NORMAL, stepFsm, type Fsm, type Hold, isActive } from './fsm.ts';
import { RAIN_LEVELS, RAIN_WINDOWS, type RainLevel, type RainWindow, type SiteRules } from './spec.ts';
import { confirms, neighbourAbove, NOBODY, rainNear, skyOf, trackBaseline, type BaselineTrack, type Evidence, type Near, type Sky } from './corroboration.ts';

export const RULE_IDS = ALERT_RULES;
export type RuleId = (typeof RULE_IDS)[keyof typeof RULE_IDS];

export type Severity = 'info' | 'warning' | 'critical';

export interface Transition {
  ruleId: RuleId;
  subjectId: string;
  sensorId: string;
  alertId: string;
  state: 'firing' | 'resolved';
  severity: Severity;
  /** Rain levels (blue … red); a change of level while firing is a firing transition of the same alertId. */
  level?: RainLevel;
  value: number;
  threshold: number;
  unit: string;
  /** Sensor time of the reading that caused it (arrival time for offline). */
  ts: number;
  /** English, rendered from `why` (logs, notices, backtests). */
  reason: string;
  /** The reason as a template key and parameters (contracts/reasons.ts): the console renders it in the reader's language. */
  why?: Why;
}

/** A transition's reason: the English sentence and the key and parameters it was rendered from. */
function because(key: ReasonKey, params: Why['params']): { reason: string; why: Why } {
  const why = { key, params };
  return { reason: renderReason('en', why), why };
}

export type SuspectReason = 'out-of-range' | 'spike' | 'flatline' | 'parked-vehicle' | 'baseline-shift';
export interface Flag {
  sensorId: string;
  ts: number;
  reason: SuspectReason;
}

/** What the engine needs to know about a sensor (from the registry). */
export interface SensorInfo {
  id: string;
  kind: SensorKind;
  siteId: string;
  district: string;
}

export interface RainState {
  /** Minute buckets (mm) of the last 24 h, indexed by minute mod 1440; `head` = newest minute seen. */
  buckets: Float64Array;
  head: number;
  /** Window totals (mm), in the order of RAIN_WINDOWS ('10m' … '24h'); see rainTotals(). */
  sums: number[];
  /** Timestamps already counted (a redelivery must not add rain twice), pruned to 24 h. */
  seen: Set<number>;
  /** Shown level index (-1 = none), with the alert and when totals first fell below it. */
  shown: number;
  alertId?: string;
  belowSince?: number;
}

export interface SensorState {
  lastTs?: number;
  lastArrival: number;
  /** Recent non-suspect readings (times and values, newest last, bounded): rates, spikes. */
  recentTs: number[];
  recentV: number[];
  spikes: number[];
  /** Flat line: the current run of identical values. */
  flatValue?: number;
  flatSince?: number;
  flatCount?: number;
  /** A parked-vehicle episode: the value the step jumped to, and how far from it still counts as the same object. */
  step?: number;
  stepTolerance?: number;
  /** Ponding: the current run at or above health.baselineShiftCm, judged for a baseline shift. */
  baseline?: BaselineTrack;
  /** Ponding: the first of the readings in a row above closeCm, suspect ones included (the closure's episode id). */
  aboveSince?: number;
  /** An officer trusts its readings (trustReadings): no vehicle, object or baseline shift until it reads dry again. */
  trusted?: { alertId: string; by: string };
  quality: Fsm;
  qualityReason?: SuspectReason;
  battery: Fsm;
  offline?: { alertId: string };
  // ponding
  closure?: Fsm;
  warning?: Fsm;
  advisory?: Fsm;
  // water level
  wlWarning?: Fsm;
  wlDanger?: Fsm;
  wlRise?: Fsm;
  // rain
  rain?: RainState;
  /** Gale signal shown for a station with an anemometer (-1 none). */
  wind?: { shown: number; belowSince?: number; alertId?: string };
}

export interface DistrictState {
  /** Shown rain level index per gauge of the district (-1 = none). */
  gauges: Map<string, number>;
  level: number;
  alertId?: string;
}

export interface EngineState {
  sensors: Map<string, SensorState>;
  districts: Map<string, DistrictState>;
}

export interface EngineContext {
  sensor(id: string): SensorInfo | undefined;
  rules(siteId: string): SiteRules | undefined;
  /** District-level parameters (the rules file's defaults). */
  districtMinGauges: number;
  /** The rain gauges and neighbouring underpasses of a site (corroboration); none when absent. */
  near?(siteId: string): Near;
}

export const newEngineState = (): EngineState => ({ sensors: new Map(), districts: new Map() });

const RECENT_MAX = 64;
const HOUR = 3_600_000;
const DAY_MIN = 1440;
const WINDOWS = Object.keys(RAIN_WINDOWS) as RainWindow[];
const WINDOW_MIN = WINDOWS.map((w) => RAIN_WINDOWS[w] / 60);
const NW = WINDOWS.length;
const zeroSums = (): number[] => new Array<number>(NW).fill(0);

/** A gauge's window totals by name. */
export function rainTotals(r: RainState): Record<RainWindow, number> {
  return Object.fromEntries(WINDOWS.map((w, i) => [w, r.sums[i]!])) as Record<RainWindow, number>;
}

export function newSensorState(now: number): SensorState {
  return { lastArrival: now, recentTs: [], recentV: [], spikes: [], quality: NORMAL, battery: NORMAL };
}

export function newRainState(): RainState {
  return { buckets: new Float64Array(DAY_MIN), head: -1, sums: zeroSums(), seen: new Set(), shown: -1 };
}

const round = (v: number, d = 2) => Math.round(v * 10 ** d) / 10 ** d;

// ---------------------------------------------------------------------------------------------
// Rain: rolling accumulations in minute buckets. In order, the window sums move incrementally;
// a late reading (store-and-forward after a link outage) is added to the windows it falls in.

/** Add `mm` at minute `m` (epoch minutes). Returns false if `m` is older than 24 h behind the head. */
export function addRain(r: RainState, m: number, mm: number): boolean {
  if (r.head < 0) r.head = m;
  if (m > r.head) {
    const steps = Math.min(m - r.head, DAY_MIN);
    if (steps === DAY_MIN) {
      r.buckets.fill(0);
      r.sums = zeroSums();
    } else {
      for (let t = r.head + 1; t <= r.head + steps; t++) {
        // Minute t enters every window; minute t - W leaves window W. The 24 h window's leaving
        // minute shares t's slot, so it is subtracted before the slot is cleared.
        for (let i = 0; i < NW; i++) r.sums[i]! -= r.buckets[(t - WINDOW_MIN[i]! + DAY_MIN) % DAY_MIN]!;
        r.buckets[t % DAY_MIN] = 0;
      }
      for (let i = 0; i < NW; i++) if (r.sums[i]! < 1e-9) r.sums[i] = 0; // float dust
    }
    r.head = m;
  }
  if (m <= r.head - DAY_MIN) return false;
  r.buckets[m % DAY_MIN]! += mm;
  for (let i = 0; i < NW; i++) if (m > r.head - WINDOW_MIN[i]!) r.sums[i]! += mm;
  return true;
}

/** The highest level any of whose windows is reached, as an index into RAIN_LEVELS (-1 = none). */
export function rainLevel(sums: number[], levels: SiteRules['rain']['levels']): number {
  const table = levelTable(levels);
  for (let i = table.length - 1; i >= 0; i--) {
    const th = table[i]!;
    for (let w = 0; w < NW; w++) if (sums[w]! >= th[w]!) return i;
  }
  return -1;
}

const levelTables = new WeakMap<object, number[][]>();
/** Thresholds per level as arrays in window order (Infinity where a level has none), cached. */
function levelTable(levels: SiteRules['rain']['levels']): number[][] {
  let t = levelTables.get(levels);
  if (!t) {
    t = RAIN_LEVELS.map((l) => WINDOWS.map((w) => levels[l][w] ?? Infinity));
    levelTables.set(levels, t);
  }
  return t;
}

/** Shown level: up at once, down only after the totals stayed below it for `clearHoldS`. */
export function nextShownLevel(shown: number, belowSince: number | undefined, computed: number, ts: number, clearHoldS: number): { shown: number; belowSince: number | undefined } {
  if (computed >= shown) return { shown: computed, belowSince: undefined };
  const since = belowSince ?? ts;
  if (ts - since >= clearHoldS * 1000) return { shown: computed, belowSince: undefined };
  return { shown, belowSince: since };
}

const RAIN_SEVERITY: Severity[] = ['warning', 'warning', 'critical', 'critical'];

/** The window that reached `level` (for the reason text). */
function rainCause(sums: number[], level: number, levels: SiteRules['rain']['levels']): { window: RainWindow; mm: number; threshold: number } {
  const th = levelTable(levels)[level]!;
  for (let w = 0; w < NW; w++) if (sums[w]! >= th[w]!) return { window: WINDOWS[w]!, mm: sums[w]!, threshold: th[w]! };
  return { window: '1h', mm: sums[1]!, threshold: 0 };
}

// ---------------------------------------------------------------------------------------------
// Data quality, per reading (ponding and water level; rain only for its plausible rate).

interface Quality {
  suspect?: SuspectReason;
  /** The previous reading turned out to be a spike (known only now that the next one is back). */
  spikeAt?: number;
  step?: number;
}

/**
 * The sensor's own noise: a robust spread (1.4826 × the median absolute difference between
 * successive readings, over its last 16) before `before` readings from the end. An ultrasonic
 * sensor over a dry road reads within a few millimetres; over water, or with its cone clipping a
 * wall, more. 0 before it has three readings.
 */
export function noiseOf(recentV: readonly number[], before = 0): number {
  const end = recentV.length - before;
  const diffs: number[] = [];
  for (let i = Math.max(1, end - 16); i < end; i++) diffs.push(Math.abs(recentV[i]! - recentV[i - 1]!));
  if (diffs.length < 2) return 0;
  diffs.sort((a, b) => a - b);
  return 1.4826 * diffs[diffs.length >> 1]!;
}

export function assessQuality(s: SensorState, kind: SensorKind, ts: number, v: number, h: SiteRules['health'], sky: () => Sky = () => 'unknown'): Quality {
  const q: Quality = { step: s.step };
  if (kind === 'rain') return q; // rate checked by the rain rule
  const [lo, hi] = h.range[kind];
  if (v < lo || v > hi) return { ...q, suspect: 'out-of-range' };

  // Spike: the previous reading left the one before it and this one returned.
  const n = s.recentV.length;
  const spike = h.spike[kind];
  if (n >= 2) {
    const a = s.recentV[n - 2]!;
    const b = s.recentV[n - 1]!;
    const bTs = s.recentTs[n - 1]!;
    if (Math.abs(b - a) > spike && Math.abs(b - v) > spike && Math.sign(b - a) === Math.sign(b - v) && Math.abs(v - a) < spike / 2) q.spikeAt = bTs;
  }

  // Flat line: identical values (a dry road's 0 cm is not a flat line).
  if (s.flatValue === v) s.flatCount = (s.flatCount ?? 0) + 1;
  else {
    s.flatValue = v;
    s.flatSince = ts;
    s.flatCount = 1;
  }
  const stuck = s.flatCount >= h.flatlineReadings && ts - s.flatSince! >= h.flatlineMinS * 1000 && !(kind === 'ponding' && v === 0);

  // Parked vehicle (ponding): a jump from a dry road straight to a value that then holds still —
  // as still as the sensor's own noise (stepNoiseFactor × its robust spread on the dry road, at
  // least stepToleranceCm): an object returned 122.2, 122.7, 122.7 cm, beyond a fixed 0.3 cm.
  // "Dry" is below stepFromCm, or within the sensor's noise above it (a dry road reads 0.7–1.3 cm)
  // when the gauges near the site say it is not raining. A jump while it rains near the site or a
  // neighbour stands in water is water (issue 22: a real rise to 45.5 cm in one step was dropped).
  if (kind === 'ponding') {
    const prev = n > 0 ? s.recentV[n - 1] : undefined;
    if (s.step !== undefined && Math.abs(v - s.step) <= (s.stepTolerance ?? h.stepToleranceCm)) q.step = s.step;
    else if (s.step === undefined && prev !== undefined && v - prev >= h.stepJumpCm && isVehicle(prev, s.recentV, h, sky)) {
      q.step = v;
      s.stepTolerance = Math.max(h.stepToleranceCm, h.stepNoiseFactor * noiseOf(s.recentV));
    } else if (s.step === undefined && heldLikeARoof(s.recentV, v, h)) {
      // A jump taken for water (it rains) that then holds exactly still: a roof. Water's surface
      // moves by the sensor's noise at least; the example storm's car parked under a sensor read
      // 32.0 cm for 20 minutes in a downpour.
      q.step = v;
      s.stepTolerance = h.stepToleranceCm;
    } else q.step = undefined;
    if (q.step !== undefined) return { ...q, suspect: 'parked-vehicle' };
  }
  if (stuck) return { ...q, suspect: 'flatline' };
  return q;
}

/** This reading and the two before it identical, just after a jump (from a dry road or a wet one: a car parks in the rain). */
function heldLikeARoof(recentV: readonly number[], v: number, h: SiteRules['health']): boolean {
  const n = recentV.length;
  return n >= 3 && recentV[n - 1] === v && recentV[n - 2] === v && v - recentV[n - 3]! >= h.stepJumpCm;
}

/** A jump of stepJumpCm from `prev`: a vehicle, or water? Asks the sky only for a jump from a (nearly) dry road. */
function isVehicle(prev: number, recentV: readonly number[], h: SiteRules['health'], sky: () => Sky): boolean {
  const noisyDry = h.stepFromCm + h.stepNoiseFactor * noiseOf(recentV);
  if (prev >= Math.max(h.stepFromCm, noisyDry)) return false;
  const said = sky();
  return said === 'dry' || (said === 'unknown' && prev < h.stepFromCm);
}

// ---------------------------------------------------------------------------------------------

interface Out {
  transitions: Transition[];
  flags: Flag[];
}

/** Push the transition of a step that changed something; `describe` runs only then (no strings per reading). */
function emit(out: Out, step: { change?: 'fired' | 'resolved'; fsm: Fsm }, prev: Fsm, describe: () => Omit<Transition, 'alertId' | 'state'>): void {
  if (step.change === 'fired') out.transitions.push({ ...describe(), alertId: step.fsm.alertId!, state: 'firing' });
  else if (step.change === 'resolved') out.transitions.push({ ...describe(), alertId: prev.alertId!, state: 'resolved' });
}

interface Holds {
  battery: Hold;
  quality: Hold;
  warning: Hold;
  closure: Hold;
  advisory: Hold;
  level: Hold;
  rise: Hold;
}
const holdsCache = new WeakMap<SiteRules, Holds>();
/** The hold durations of a site's rules, computed once per rules object (not per reading). */
function holdsOf(r: SiteRules): Holds {
  let h = holdsCache.get(r);
  if (!h) {
    const hold = (forS: number, forReadings: number, clearForS: number, clearForReadings: number): Hold => ({ forS, forReadings, clearForS, clearForReadings });
    const u = r.underpass;
    h = {
      battery: hold(0, r.health.batteryReadings, 0, r.health.batteryReadings),
      // Two suspect readings in a row: one passing truck on a dry road is flagged, not alerted.
      quality: hold(0, 2, 0, r.health.cleanReadings),
      warning: hold(u.warnHoldS, 1, 0, 1),
      closure: hold(u.closeSustainS, u.closeMinReadings, u.reopenHoldS, u.closeMinReadings),
      advisory: hold(0, 1, r.advisory.clearHoldS, 1),
      level: hold(0, r.waterLevel.sustainReadings, 0, r.waterLevel.sustainReadings),
      rise: hold(0, 1, 0, 2),
    };
    holdsCache.set(r, h);
  }
  return h;
}

/** The sensor's own reporting interval: the median of its last (up to 8) gaps; undefined before its second reading. */
export function cadenceMs(recentTs: readonly number[], ts: number): number | undefined {
  // Eight numbers, insertion-sorted in a reused array: this runs for most ponding readings.
  const gaps = GAPS;
  let n = 0;
  let next = ts;
  for (let i = recentTs.length - 1; i >= 0 && n < 8; i--, n++) {
    const g = next - recentTs[i]!;
    next = recentTs[i]!;
    let j = n;
    for (; j > 0 && gaps[j - 1]! > g; j--) gaps[j] = gaps[j - 1]!;
    gaps[j] = g;
  }
  return n === 0 ? undefined : gaps[n >> 1];
}
const GAPS = new Float64Array(8);

/**
 * How many readings a hold needs, in the sensor's own cadence: "held `forS` over at least
 * `forReadings` readings" is the rule, but a sensor reporting every 30 min would wait an hour for
 * three readings of a 120 s hold. Where the readings would take more than one of the sensor's
 * intervals beyond `forS`, the hold needs the readings that fit in `forS`, plus the first (at
 * least two: one high reading alone never closes a road on time alone). A hold with no time
 * (`forS` 0) is a count the operator chose, and stays one.
 */
export function readingsInCadence(forS: number, forReadings: number, cadence: number | undefined): number {
  if (forS <= 0 || cadence === undefined || cadence <= 0 || (forReadings - 1) * cadence <= forS * 1000 + cadence) return forReadings;
  return Math.max(2, Math.min(forReadings, 1 + Math.ceil((forS * 1000) / cadence)));
}

/** The closure's hold for this sensor now: the site's, with its reading counts in the sensor's cadence. */
function closureHold(base: Hold, s: SensorState, ts: number): Hold {
  const cadence = cadenceMs(s.recentTs, ts);
  const forReadings = readingsInCadence(base.forS, base.forReadings, cadence);
  const clearForReadings = readingsInCadence(base.clearForS, base.clearForReadings, cadence);
  return forReadings === base.forReadings && clearForReadings === base.clearForReadings ? base : { ...base, forReadings, clearForReadings };
}

/**
 * May one reading above closeCm close, once rain or a neighbour confirms it? When it climbed there
 * (less than a spike's jump above the reading before) — a vehicle passing in the rain jumps, and is
 * gone by the next reading (issue 22: "a sudden jump confirmed by the next reading") — and, right
 * after a jump, moved as water does: a car's roof reads the same again. Over water already above
 * the warning depth, a jump of less than surgeMaxCm is a surge of water: a vehicle's roof stands a
 * metre above the water, not 10 cm (a short peak of issue 22 went 19.7 → 30.1 → 20.1 cm; the
 * sensor-faults scenario's lorries through 16 cm of water read 45 cm more, and stay spikes).
 */
function settled(s: SensorState, v: number, jumpCm: number, u: SiteRules['underpass'], surgeMaxCm: number): boolean {
  const n = s.recentV.length;
  const prev = s.recentV[n - 1];
  if (prev === undefined) return false;
  if (v - prev >= jumpCm) return prev >= u.warnCm && v - prev < surgeMaxCm;
  const before = s.recentV[n - 2];
  return !(v === prev && before !== undefined && prev - before >= jumpCm);
}

/** Rise over the recent readings within `windowMs` before `ts`: value now − the lowest of them. */
function riseWithin(s: SensorState, ts: number, v: number, windowMs: number): { rise: number; fromTs: number } {
  let min = v;
  let fromTs = ts;
  for (let i = s.recentTs.length - 1; i >= 0; i--) {
    const t = s.recentTs[i]!;
    const x = s.recentV[i]!;
    if (ts - t > windowMs) break;
    if (x < min) {
      min = x;
      fromTs = t;
    }
  }
  return { rise: v - min, fromTs };
}

/**
 * Issue 22's forecast: when the sensor's own steady rise will carry it past closeCm within the
 * horizon — or before its next reading is due, whichever is later (a 30-minute reporter is not left
 * to report the water already over the road). A least-squares slope of its readings over the
 * window, from at least 3 readings, each higher than the one before by less than a spike's jump
 * (water climbs; a vehicle jumps). Only the sensor's own history: the forecast never depends on
 * what other sensors reported (the rain near the site only shows in its reason).
 */
export function forecastCrossing(s: Pick<SensorState, 'recentTs' | 'recentV'>, ts: number, v: number, u: { closeCm: number; forecastHorizonS: number; forecastWindowS: number; forecastMinRateCmPerMin: number }, jumpCm: number): { inMin: number; rate: number } | undefined {
  const last = s.recentV.length - 1;
  if (u.forecastHorizonS <= 0 || v >= u.closeCm || last < 1) return undefined;
  // Rising over the last three readings, checked first: most readings are not, and need no fit.
  if (!(v > s.recentV[last]! && s.recentV[last]! > s.recentV[last - 1]!)) return undefined;
  // The window, or three of a sparse reporter's intervals; back to the last jump at most (a rise
  // fitted across a step is the step's, not the water's).
  const cadenceMs = ts - s.recentTs[s.recentTs.length - 1]!;
  const windowMs = Math.max(u.forecastWindowS * 1000, 2.5 * cadenceMs);
  // A jump is a spike's height within two minutes (a vehicle arrives at once; a sparse reporter's
  // readings may rise that much between them, as water does).
  const jump = (dv: number, dtMin: number) => Math.abs(dv) >= jumpCm && dtMin <= 2;
  // Newest first: minutes before `ts` and values, back to the window's start or the last jump.
  const xs: number[] = [0];
  const ys: number[] = [v];
  for (let i = last; i >= 0 && ts - s.recentTs[i]! <= windowMs && !jump(ys[ys.length - 1]! - s.recentV[i]!, xs[xs.length - 1]! - (s.recentTs[i]! - ts) / 60_000); i--) {
    xs.push((s.recentTs[i]! - ts) / 60_000);
    ys.push(s.recentV[i]!);
  }
  const n = xs.length;
  if (n < 3) return undefined;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i]! - mx) * (ys[i]! - my);
    sxx += (xs[i]! - mx) ** 2;
  }
  // The rise now, from the last three readings, if slower: water nearing its peak slows down, and
  // a line through the whole window would carry it past a depth it never reaches.
  const recent = (ys[0]! - ys[2]!) / (xs[0]! - xs[2]!);
  const rate = Math.min(sxx > 0 ? sxy / sxx : 0, recent);
  if (rate < u.forecastMinRateCmPerMin) return undefined;
  const inMin = (u.closeCm - v) / rate;
  return inMin <= Math.max(u.forecastHorizonS / 60, cadenceMs / 60_000) ? { inMin, rate } : undefined;
}

/**
 * Evaluate one reading. Returns `stale` for a reading at or before the sensor's last timestamp
 * (a duplicate or a late arrival: it cannot re-fire or flap an alert), except rain, whose late
 * readings are folded into the totals they belong to.
 */
export function evaluate(state: EngineState, reading: Reading, now: number, ctx: EngineContext): Out & { stale?: true } {
  const out: Out = { transitions: [], flags: [] };
  const info = ctx.sensor(reading.sensorId);
  if (!info) return out;
  const rules = ctx.rules(info.siteId);
  if (!rules) return out;
  let s = state.sensors.get(info.id);
  if (!s) {
    s = newSensorState(now);
    state.sensors.set(info.id, s);
  }
  const ts = reading.ts;
  if (now > s.lastArrival) s.lastArrival = now;
  const late = s.lastTs !== undefined && ts <= s.lastTs;
  if (late && info.kind !== 'rain') return { ...out, stale: true };
  if (!late) s.lastTs = ts;
  const holds = holdsOf(rules);

  // A reading arrived: an offline sensor is back.
  if (s.offline) {
    out.transitions.push({ ruleId: RULE_IDS.sensorOffline, subjectId: info.id, sensorId: info.id, alertId: s.offline.alertId, state: 'resolved', severity: 'warning', value: 0, threshold: 0, unit: 's', ts, ...because('offline.back', {}) });
    s.offline = undefined;
  }

  // Battery (hysteresis: clears only above low + margin).
  const bv = reading.fields['battery_v'];
  if (bv !== undefined && !late) {
    const h = rules.health;
    const step = stepFsm(s.battery, { on: bv < h.lowBatteryV, off: bv >= h.lowBatteryV + h.batteryHysteresisV }, ts, holds.battery, RULE_IDS.sensorBattery, info.id);
    if (step.fsm !== s.battery) {
      emit(out, step, s.battery, () => ({ ruleId: RULE_IDS.sensorBattery, subjectId: info.id, sensorId: info.id, severity: 'info', value: bv, threshold: h.lowBatteryV, unit: 'V', ts, ...(step.change === 'resolved' ? because('battery.ok', { v: bv }) : because('battery.low', { v: bv, min: h.lowBatteryV })) }));
      s.battery = step.fsm;
    }
  }

  if (info.kind === 'rain') {
    if (!late && (reading.fields['wind_ms'] !== undefined || reading.fields['gust_ms'] !== undefined)) evaluateWind(s, info, reading, rules.wind, out);
    evaluateRain(state, s, info, reading, rules, ctx, late, out);
  } else {
    const v = reading.fields[MAIN_FIELD[info.kind].field] ?? 0;
    judging(state, ctx, info.siteId, ts, rules.corroboration);
    const q = assessQuality(s, info.kind, ts, v, rules.health, skyNow);
    s.step = q.step;
    if (info.kind === 'ponding') {
      s.aboveSince = v > rules.underpass.closeCm ? (s.aboveSince ?? ts) : undefined;
      if (s.trusted) trusting(s, q, v, rules.health);
      // A baseline shift begins as a jump from a dry road, which the step check takes for a vehicle
      // until the value wanders: the run counts from the jump, and after baselineShiftS it is judged.
      else if (!q.suspect || q.suspect === 'parked-vehicle') {
        s.baseline = trackBaseline(s.baseline, ts, v, rules.health, nearNow, gaugeNow);
        if (s.baseline?.shifted) q.suspect = 'baseline-shift';
      }
    }
    if (q.spikeAt !== undefined) out.flags.push({ sensorId: info.id, ts: q.spikeAt, reason: 'spike' });
    if (q.spikeAt !== undefined || (s.spikes.length > 0 && ts - s.spikes[0]! >= HOUR)) {
      s.spikes = s.spikes.filter((t) => ts - t < HOUR);
      if (q.spikeAt !== undefined) s.spikes.push(q.spikeAt);
    }
    if (q.suspect) out.flags.push({ sensorId: info.id, ts, reason: q.suspect });
    qualityAlert(s, info, ts, v, q, rules, holds, out);
    if (q.suspect === 'baseline-shift' || q.suspect === 'parked-vehicle') withdrawWarning(s, info, ts, v, out);
    if (!q.suspect) {
      if (info.kind === 'ponding') evaluatePonding(state, s, info, ts, v, rules, holds, out, evidenceNow);
      else evaluateWaterLevel(s, info, ts, v, rules, holds, out);
      // A reading found to be a spike leaves the history: it must not be the baseline of the next
      // check. The history is owned by this state and updated in place (linear use).
      if (q.spikeAt !== undefined) {
        s.recentTs.pop();
        s.recentV.pop();
      }
      s.recentTs.push(ts);
      s.recentV.push(v);
      if (s.recentTs.length > RECENT_MAX) {
        s.recentTs.shift();
        s.recentV.shift();
      }
    }
  }
  return out;
}

const baselineWhy = (s: SensorState, ts: number, v: number, h: SiteRules['health']) => because('quality.baseline-shift', { v, min: Math.round((ts - (s.baseline?.since ?? ts)) / 60_000), mm: s.baseline?.shifted?.mm ?? 0, dryH: round(h.baselineDryS / 3600, 1) });

function qualityAlert(s: SensorState, info: SensorInfo, ts: number, v: number, q: Quality, rules: SiteRules, holds: Holds, out: Out): void {
  const h = rules.health;
  const bad = q.suspect ?? (s.spikes.length >= h.spikesPerHour ? 'spike' : undefined);
  const step = stepFsm(s.quality, { on: bad !== undefined, off: bad === undefined }, ts, holds.quality, RULE_IDS.sensorDataQuality, info.id);
  // Judged a baseline shift while already suspect (a jump taken for a vehicle that stayed): the
  // alert says so, the same alert updated (a firing transition of its id, as a rain level's change).
  if (bad === 'baseline-shift' && s.qualityReason !== bad && step.fsm.phase === 'firing' && s.quality.phase === 'firing') {
    out.transitions.push({ ruleId: RULE_IDS.sensorDataQuality, subjectId: info.id, sensorId: info.id, alertId: s.quality.alertId!, state: 'firing', severity: 'warning', value: v, threshold: 0, unit: 'cm', ts, ...baselineWhy(s, ts, v, h) });
    s.qualityReason = bad;
  }
  if (step.fsm === s.quality) return;
  emit(out, step, s.quality, () => {
    const fired: Record<SuspectReason, () => ReturnType<typeof because>> = {
      'out-of-range': () => because('quality.out-of-range', { v }),
      spike: () => because('quality.spike', { n: s.spikes.length }),
      flatline: () => because('quality.flatline', { v, n: s.flatCount ?? 0 }),
      'parked-vehicle': () => because('quality.parked-vehicle', { v }),
      'baseline-shift': () => baselineWhy(s, ts, v, h),
    };
    const why = step.change === 'fired' ? fired[bad!]() : because('quality.clean', { n: h.cleanReadings, was: s.qualityReason ?? 'suspect' });
    return { ruleId: RULE_IDS.sensorDataQuality, subjectId: info.id, sensorId: info.id, severity: 'warning', value: v, threshold: 0, unit: info.kind === 'ponding' ? 'cm' : 'm', ts, ...why };
  });
  if (step.change === 'fired') s.qualityReason = bad;
  s.quality = step.fsm;
}

/** A trusted sensor's reading: water, not a vehicle; dry again (below baselineShiftCm), the trust has done its work. */
function trusting(s: SensorState, q: Quality, v: number, h: SiteRules['health']): void {
  if (v < h.baselineShiftCm) {
    s.trusted = undefined;
    return;
  }
  if (q.suspect === 'parked-vehicle') {
    q.suspect = undefined;
    q.step = undefined;
    s.step = undefined;
  }
}

/**
 * An officer trusts a suspect sensor's readings (contracts/overrides.ts; issue 22: "officers can
 * override"). When `o.alertId` is the sensor's firing data-quality alert, the suspicion ends: the
 * alert resolves ("readings trusted by …") and the sensor's readings count as water — no vehicle,
 * object or baseline shift — until it reads below health.baselineShiftCm again. Any other
 * override (an older alert's, read again from the retained topic after a restart) changes nothing.
 */
export function trustReadings(state: EngineState, o: { sensorId: string; alertId: string; by: string; note: string }, now: number): Out {
  const out: Out = { transitions: [], flags: [] };
  const s = state.sensors.get(o.sensorId);
  if (!s || !isActive(s.quality) || s.quality.alertId !== o.alertId) return out;
  s.trusted = { alertId: o.alertId, by: o.by };
  s.step = undefined;
  s.baseline = undefined;
  const v = s.recentV[s.recentV.length - 1] ?? 0;
  out.transitions.push({ ruleId: RULE_IDS.sensorDataQuality, subjectId: o.sensorId, sensorId: o.sensorId, alertId: o.alertId, state: 'resolved', severity: 'warning', value: v, threshold: 0, unit: 'cm', ts: s.lastTs ?? now, ...because('quality.trusted', { by: o.by, note: o.note }) });
  s.quality = NORMAL;
  s.qualityReason = undefined;
  return out;
}

/**
 * The reading being evaluated, for the checks that ask what the sensors around its site say: the
 * evidence is worked out at most once per reading, and only when a check asks (few do). Module
 * scratch rather than closures per reading (they cost the engine a third of its speed): evaluate
 * is synchronous and never re-entered.
 */
const judged: { state?: EngineState; ctx?: EngineContext; siteId: string; ts: number; rule?: SiteRules['corroboration']; ev?: Evidence } = { siteId: '', ts: 0 };
function judging(state: EngineState, ctx: EngineContext, siteId: string, ts: number, rule: SiteRules['corroboration']): void {
  judged.state = state;
  judged.ctx = ctx;
  judged.siteId = siteId;
  judged.ts = ts;
  judged.rule = rule;
  judged.ev = undefined;
}
const evidenceNow = (): Evidence => (judged.ev ??= evidenceAt(judged.ts, judged.rule!));
const skyNow = (): Sky => skyOf(evidenceNow(), judged.rule!);
const gaugeNow = (id: string) => judged.state!.sensors.get(id)?.rain;
const nearNow = (): Near => judged.ctx!.near?.(judged.siteId) ?? NOBODY;

const historyNow = (id: string) => judged.state!.sensors.get(id);

/** What the rain gauges and neighbours of the judged reading's site say at its sensor time `ts` (rules/corroboration.ts). */
function evidenceAt(ts: number, r: SiteRules['corroboration']): Evidence {
  const near = nearNow();
  const e: Evidence = {};
  if (near.gauges.length > 0) {
    const rain = rainNear(near, gaugeNow, ts, r.rainWindowS);
    if (rain) e.rain = { ...rain, district: judged.ctx!.sensor(rain.gaugeId)?.district ?? '' };
  }
  const neighbour = near.neighbours.length > 0 ? neighbourAbove(near, historyNow, ts, r.neighbourWindowS, r.neighbourCm) : undefined;
  if (neighbour) e.neighbour = neighbour;
  return e;
}

/**
 * The evidence as a closure reason's tail: the rain near, or that the gauges near measured none
 * (doubt the duty officer should see: a closure under a dry sky may be a sensor's fault), and the
 * neighbour.
 */
function evidenceParams(e: Evidence, windowS: number): Why['params'] {
  return {
    ...(e.rain && e.rain.mm > 0 ? { rain: e.rain.mmPerH, district: e.rain.district, gauge: e.rain.gaugeId } : {}),
    ...(e.rain && e.rain.mm === 0 ? { dry: e.rain.gaugeId, dryMin: Math.round(windowS / 60) } : {}),
    ...(e.neighbour ? { neighbour: e.neighbour.sensorId, nv: e.neighbour.cm } : {}),
  };
}

/**
 * A suspect sensor's readings warn of nothing: a warning it raised is withdrawn (issue 22: a
 * stuck sensor warned for 17 hours; a car parked in the rain warns until it is seen to be a roof,
 * two readings later). A closure stays: a road is not reopened on a suspicion — the
 * duty officers see the data-quality alert beside it and decide.
 */
function withdrawWarning(s: SensorState, info: SensorInfo, ts: number, v: number, out: Out): void {
  const w = s.warning;
  if (!w || !isActive(w)) return;
  out.transitions.push({ ruleId: RULE_IDS.underpassWarning, subjectId: info.siteId, sensorId: info.id, alertId: w.alertId!, state: 'resolved', severity: 'warning', value: v, threshold: 0, unit: 'cm', ts, ...because('underpass.warn-suspect', { v }) });
  s.warning = NORMAL;
}

function evaluatePonding(state: EngineState, s: SensorState, info: SensorInfo, ts: number, v: number, rules: SiteRules, holds: Holds, out: Out, evidence: () => Evidence): void {
  const u = rules.underpass;
  const site = info.siteId;
  const base = { subjectId: site, sensorId: info.id, value: v, unit: 'cm', ts };

  // Warning stage.
  const warning = s.warning ?? NORMAL;
  const w = stepFsm(warning, { on: v > u.warnCm, off: v < u.warnClearCm }, ts, holds.warning, RULE_IDS.underpassWarning, site);
  if (w.fsm !== warning) {
    emit(out, w, warning, () => ({ ...base, ruleId: RULE_IDS.underpassWarning, severity: 'warning', threshold: w.change === 'resolved' ? u.warnClearCm : u.warnCm, ...(w.change === 'resolved' ? because('underpass.warn-clear', { clearCm: u.warnClearCm, v }) : because('underpass.warn', { warnCm: u.warnCm, v })) }));
    s.warning = w.fsm;
  }

  // Closure: sustained above closeCm, or early on a steady fast rise over ≥2 readings above it.
  const closure = s.closure ?? NORMAL;
  let early = false;
  let rate = 0;
  if (closure.phase === 'pending' && v > u.closeCm) {
    const rise = riseWithin(s, ts, v, 5 * 60_000);
    const minutes = (ts - rise.fromTs) / 60_000;
    rate = minutes >= 0.5 ? rise.rise / minutes : 0;
    // Steady: the last three readings each higher than the one before, by less than a spike's
    // jump (two vehicles in a row jump; water climbs).
    const n = s.recentV.length;
    const jump = rules.health.spike.ponding;
    const a = n >= 2 ? s.recentV[n - 2]! : NaN;
    const b = n >= 1 ? s.recentV[n - 1]! : NaN;
    const steady = b > a && v > b && b - a < jump && v - b < jump;
    early = steady && rate >= u.earlyRiseCmPerMin;
  }
  const forecast = !isActive(closure) && v >= (u.forecastFromCm ?? u.warnCm) ? forecastCrossing(s, ts, v, u, rules.health.spike.ponding) : undefined;
  const confirmed = !early && !forecast && !isActive(closure) && v > u.closeCm && settled(s, v, rules.health.spike.ponding, u, rules.corroboration.surgeMaxCm) && confirms(evidence(), rules.corroboration);
  // The episode is named by the first reading above closeCm, whatever was made of it then: a jump
  // taken for a vehicle while the rain's readings were still on their way is water once they are
  // in, and the closure it leads to is the same episode whichever came first (a failover's replay).
  const on = v > u.closeCm;
  const force = early || forecast !== undefined || confirmed;
  // The hold in the sensor's cadence, only where a step uses it (a dry normal road's does not).
  const hold = closure.phase === 'normal' && !on && !force ? holds.closure : closureHold(holds.closure, s, ts);
  const c = stepFsm(closure, { on, off: v < u.reopenCm, force, began: s.aboveSince }, ts, hold, RULE_IDS.underpassClosure, site);
  if (c.fsm !== closure) {
    emit(out, c, closure, () => {
      if (c.change === 'fired') {
        const heldS = Math.round((ts - (closure.phase === 'pending' ? closure.since : ts)) / 1000);
        const tail = evidenceParams(evidence(), rules.corroboration.rainWindowS);
        const why = forecast
          ? because('closure.forecast', { closeCm: u.closeCm, inMin: round(forecast.inMin, 1), rate: round(forecast.rate, 1), v, ...tail })
          : early
            ? because('closure.early', { rate: round(rate, 1), earlyRate: u.earlyRiseCmPerMin, v, closeCm: u.closeCm, ...tail })
            : confirmed
              ? because('closure.confirmed', { closeCm: u.closeCm, v, ...tail })
              : because('closure.sustained', { closeCm: u.closeCm, heldS, n: closure.count + 1, v, ...tail });
        return { ...base, ruleId: RULE_IDS.underpassClosure, severity: 'critical', threshold: u.closeCm, ...why };
      }
      const heldS = Math.round((ts - closure.since) / 1000);
      return { ...base, ruleId: RULE_IDS.underpassClosure, severity: 'critical', threshold: u.reopenCm, ...because('closure.reopen', { reopenCm: u.reopenCm, heldS, n: closure.count + 1, v }) };
    });
    s.closure = c.fsm;
  }

  // Pump advisory: heavy rain in the district while ponding rises here.
  const a = rules.advisory;
  const district = state.districts.get(info.district);
  const districtMax = district ? maxLevel(district) : -1;
  const raining = districtMax >= RAIN_LEVELS.indexOf(a.rainLevel);
  const advisory = s.advisory ?? NORMAL;
  if (!raining && advisory.phase === 'normal') return; // the common case: no rain, nothing to check
  const rise = raining && v >= a.minDepthCm ? riseWithin(s, ts, v, a.windowS * 1000).rise : 0;
  const adv = stepFsm(advisory, { on: raining && rise >= a.pondingRiseCm && v >= a.minDepthCm, off: !raining || v < a.minDepthCm }, ts, holds.advisory, RULE_IDS.pumpAdvisory, site);
  if (adv.fsm !== advisory) {
    emit(out, adv, advisory, () => ({
      ...base,
      ruleId: RULE_IDS.pumpAdvisory,
      severity: 'warning',
      threshold: a.pondingRiseCm,
      ...(adv.change === 'fired' ? because('pump.advise', { level: RAIN_LEVELS[districtMax]!, district: info.district, rise: round(rise, 1), windowMin: a.windowS / 60, v }) : because('pump.clear', { minDepthCm: a.minDepthCm, clearMin: a.clearHoldS / 60 })),
    }));
    s.advisory = adv.fsm;
  }
}

function evaluateWaterLevel(s: SensorState, info: SensorInfo, ts: number, v: number, rules: SiteRules, holds: Holds, out: Out): void {
  const r = rules.waterLevel;
  const site = info.siteId;
  const base = { subjectId: site, sensorId: info.id, value: v, unit: 'm', ts };
  if (r.warningM !== undefined) {
    const danger = r.dangerM ?? round(r.warningM + r.dangerAboveWarningM, 3);
    const w = s.wlWarning ?? NORMAL;
    const ws = stepFsm(w, { on: v >= r.warningM, off: v < r.warningM - r.hysteresisM }, ts, holds.level, RULE_IDS.waterLevelWarning, site);
    if (ws.fsm !== w) {
      const level = r.warningM;
      emit(out, ws, w, () => ({ ...base, ruleId: RULE_IDS.waterLevelWarning, severity: 'warning', threshold: level, ...(ws.change === 'resolved' ? because('level.warn-clear', { v, below: round(level - r.hysteresisM, 3) }) : because('level.warn', { v, level })) }));
      s.wlWarning = ws.fsm;
    }
    const d = s.wlDanger ?? NORMAL;
    const ds = stepFsm(d, { on: v >= danger, off: v < danger - r.hysteresisM }, ts, holds.level, RULE_IDS.waterLevelDanger, site);
    if (ds.fsm !== d) {
      emit(out, ds, d, () => ({ ...base, ruleId: RULE_IDS.waterLevelDanger, severity: 'critical', threshold: danger, ...(ds.change === 'resolved' ? because('level.danger-clear', { v, below: round(danger - r.hysteresisM, 3) }) : because('level.danger', { v, level: danger })) }));
      s.wlDanger = ds.fsm;
    }
  }
  const { rise } = riseWithin(s, ts, v, r.riseWindowS * 1000);
  const f = s.wlRise ?? NORMAL;
  const step = stepFsm(f, { on: rise >= r.riseM, off: rise < r.riseM / 2 }, ts, holds.rise, RULE_IDS.waterLevelRise, site);
  if (step.fsm !== f) {
    emit(out, step, f, () => ({ ...base, ruleId: RULE_IDS.waterLevelRise, severity: 'warning', value: round(rise, 3), threshold: r.riseM, ...(step.change === 'resolved' ? because('rise.clear', { rise: round(rise, 2) }) : because('rise.fire', { rise: round(rise, 2), windowMin: r.riseWindowS / 60, v })) }));
    s.wlRise = step.fsm;
  }
}

function evaluateRain(state: EngineState, s: SensorState, info: SensorInfo, reading: Reading, rules: SiteRules, ctx: EngineContext, late: boolean, out: Out): void {
  const mm = reading.fields['rain_mm'] ?? 0;
  const intervalS = reading.fields['interval_s'] ?? 60;
  const ts = reading.ts;
  const r = s.rain ?? newRainState();
  s.rain = r;
  if (r.seen.has(ts)) return; // the same report again: counted once
  if (mm / (intervalS / 60) > rules.health.range.rainMmPerMin) {
    out.flags.push({ sensorId: info.id, ts, reason: 'out-of-range' });
    return;
  }
  if (!addRain(r, Math.floor(ts / 60_000), mm)) return; // older than 24 h: no window holds it
  r.seen.add(ts);
  if (r.seen.size > 2 * DAY_MIN) for (const t of r.seen) if (t < ts - 86_400_000) r.seen.delete(t);

  const rr = rules.rain;
  const computed = rainLevel(r.sums, rr.levels);
  const at = late ? s.lastTs! : ts; // a late reading changes the totals as of the newest time
  const next = nextShownLevel(r.shown, r.belowSince, computed, at, rr.clearHoldS);
  r.belowSince = next.belowSince;
  if (next.shown === r.shown) return;
  const was = r.shown;
  r.shown = next.shown;
  const base = { ruleId: RULE_IDS.rainstorm, subjectId: info.id, sensorId: info.id, unit: 'mm', ts: at };
  if (next.shown < 0) {
    out.transitions.push({ ...base, alertId: r.alertId!, state: 'resolved', severity: RAIN_SEVERITY[was]!, value: round(r.sums[1]!, 1), threshold: 0, ...because('rain.clear', { clearMin: rr.clearHoldS / 60 }) });
    r.alertId = undefined;
  } else {
    const cause = rainCause(r.sums, next.shown, rr.levels);
    r.alertId ??= alertIdFor(RULE_IDS.rainstorm, info.id, at);
    const level = RAIN_LEVELS[next.shown]!;
    out.transitions.push({ ...base, alertId: r.alertId, state: 'firing', severity: RAIN_SEVERITY[next.shown]!, level, value: round(cause.mm, 1), threshold: cause.threshold, ...because('rain.level', { level, mm: round(cause.mm, 1), window: cause.window, threshold: cause.threshold, ...(was >= 0 ? { was: RAIN_LEVELS[was]! } : {}) }) });
  }
  districtRain(state, info, next.shown, at, ctx, out);
}

/** Gale signal of a station: the highest level its mean wind or its gust reached (either suffices). */
export function windLevel(meanMs: number, gustMs: number, levels: SiteRules['wind']['levels']): number {
  for (let i = RAIN_LEVELS.length - 1; i >= 0; i--) {
    const th = levels[RAIN_LEVELS[i]!];
    if (meanMs >= th.meanMs || gustMs >= th.gustMs) return i;
  }
  return -1;
}

function evaluateWind(s: SensorState, info: SensorInfo, reading: Reading, wr: SiteRules['wind'], out: Out): void {
  const mean = reading.fields['wind_ms'] ?? 0;
  const gust = reading.fields['gust_ms'] ?? mean;
  const w = s.wind ?? { shown: -1 };
  s.wind = w;
  const ts = reading.ts;
  const next = nextShownLevel(w.shown, w.belowSince, windLevel(mean, gust, wr.levels), ts, wr.clearHoldS);
  w.belowSince = next.belowSince;
  if (next.shown === w.shown) return;
  const was = w.shown;
  w.shown = next.shown;
  const base = { ruleId: RULE_IDS.gale, subjectId: info.id, sensorId: info.id, unit: 'm/s', ts, value: gust };
  if (next.shown < 0) {
    out.transitions.push({ ...base, alertId: w.alertId!, state: 'resolved', severity: RAIN_SEVERITY[was]!, threshold: 0, ...because('gale.clear', { clearMin: wr.clearHoldS / 60 }) });
    w.alertId = undefined;
    return;
  }
  w.alertId ??= alertIdFor(RULE_IDS.gale, info.id, ts);
  const level = RAIN_LEVELS[next.shown]!;
  const th = wr.levels[level];
  out.transitions.push({
    ...base,
    alertId: w.alertId,
    state: 'firing',
    severity: RAIN_SEVERITY[next.shown]!,
    level,
    threshold: gust >= th.gustMs ? th.gustMs : th.meanMs,
    ...because('gale.level', { level, gust, mean, gustMs: th.gustMs, meanMs: th.meanMs, ...(was >= 0 ? { was: RAIN_LEVELS[was]! } : {}) }),
  });
}

function maxLevel(d: DistrictState): number {
  let m = -1;
  for (const l of d.gauges.values()) if (l > m) m = l;
  return m;
}

/** District level: the highest level at least `districtMinGauges` gauges of the district reached. */
export function districtLevel(levels: Iterable<number>, minGauges: number): number {
  const counts = new Array<number>(RAIN_LEVELS.length).fill(0);
  for (const l of levels) for (let i = 0; i <= l; i++) counts[i]!++;
  for (let i = RAIN_LEVELS.length - 1; i >= 0; i--) if (counts[i]! >= minGauges) return i;
  return -1;
}

function districtRain(state: EngineState, info: SensorInfo, gaugeLevel: number, ts: number, ctx: EngineContext, out: Out): void {
  const d: DistrictState = state.districts.get(info.district) ?? { gauges: new Map(), level: -1 };
  state.districts.set(info.district, d);
  if (gaugeLevel < 0) d.gauges.delete(info.id);
  else d.gauges.set(info.id, gaugeLevel);
  const level = districtLevel(d.gauges.values(), ctx.districtMinGauges);
  if (level === d.level) return;
  const was = d.level;
  d.level = level;
  const n = [...d.gauges.values()].filter((l) => l >= Math.max(level, 0)).length;
  const base = { ruleId: RULE_IDS.districtRainstorm, subjectId: info.district, sensorId: info.id, unit: 'gauges', ts, value: n, threshold: ctx.districtMinGauges };
  if (level < 0) {
    out.transitions.push({ ...base, alertId: d.alertId!, state: 'resolved', severity: RAIN_SEVERITY[was]!, ...because('district.clear', { min: ctx.districtMinGauges }) });
    d.alertId = undefined;
  } else {
    d.alertId ??= alertIdFor(RULE_IDS.districtRainstorm, info.district, ts);
    out.transitions.push({ ...base, alertId: d.alertId, state: 'firing', severity: RAIN_SEVERITY[level]!, level: RAIN_LEVELS[level], ...because('district.level', { n, district: info.district, level: RAIN_LEVELS[level]!, ...(was >= 0 ? { was: RAIN_LEVELS[was]! } : {}) }) });
  }
}

/** Sensors silent for offlineFactor × their expected interval (arrival time) go offline. */
export function tick(state: EngineState, now: number, ctx: EngineContext): { transitions: Transition[] } {
  const transitions: Transition[] = [];
  for (const [id, s] of state.sensors) {
    if (s.offline) continue;
    const info = ctx.sensor(id);
    const rules = info && ctx.rules(info.siteId);
    if (!info || !rules) continue;
    const limitMs = rules.health.expectedIntervalS[info.kind] * 1000 * rules.health.offlineFactor;
    const silentMs = now - s.lastArrival;
    if (silentMs <= limitMs) continue;
    const alertId = alertIdFor(RULE_IDS.sensorOffline, id, now);
    s.offline = { alertId };
    transitions.push({ ruleId: RULE_IDS.sensorOffline, subjectId: id, sensorId: id, alertId, state: 'firing', severity: 'warning', value: Math.round(silentMs / 1000), threshold: limitMs / 1000, unit: 's', ts: now, ...because('offline.silent', { silentS: Math.round(silentMs / 1000), everyS: limitMs / 1000 / rules.health.offlineFactor }) });
  }
  return { transitions };
}

