/**
 * The rules engine's core: readings in, alert transitions out, no I/O and no clock of its own.
 *
 *   evaluate(state, reading, now) → { transitions, flags }   one reading (sensor time = reading.ts)
 *   tick(state, now)              → { transitions }          sensors that went silent
 *
 * `now` is the arrival time (the service's clock; in a backtest, the reading's own time): it only
 * decides "offline". Every other decision uses the readings' timestamps, so a replay or a late
 * batch gives the same answer as live traffic.
 *
 * State is owned by the engine: `evaluate` replaces a sensor's state object on each reading, and a
 * rain gauge's minute buckets are updated in place (linear use: an older state object is not
 * evaluated again). Transition decisions are the pure `stepFsm` (fsm.ts) and the functions below.
 */
import { ALERT_RULES, type Reading, type SensorKind } from '../contracts/index.ts';
import { alertIdFor, NORMAL, stepFsm, type Fsm, type Hold } from './fsm.ts';
import { RAIN_LEVELS, RAIN_WINDOWS, type RainLevel, type RainWindow, type SiteRules } from './spec.ts';

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
  reason: string;
}

export type SuspectReason = 'out-of-range' | 'spike' | 'flatline' | 'parked-vehicle';
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
  sums: Record<RainWindow, number>;
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
  /** Recent non-suspect readings [ts, value], newest last, bounded (rates, spikes). */
  recent: Array<[number, number]>;
  spikes: number[];
  flat?: { value: number; since: number; count: number };
  /** A parked-vehicle episode: the value the step jumped to. */
  step?: number;
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
}

export const newEngineState = (): EngineState => ({ sensors: new Map(), districts: new Map() });

const RECENT_MAX = 64;
const HOUR = 3_600_000;
const DAY_MIN = 1440;
const WINDOW_MIN = Object.fromEntries(Object.entries(RAIN_WINDOWS).map(([w, s]) => [w, s / 60])) as Record<RainWindow, number>;
const WINDOWS = Object.keys(RAIN_WINDOWS) as RainWindow[];
const zeroSums = (): Record<RainWindow, number> => ({ '10m': 0, '1h': 0, '3h': 0, '6h': 0, '12h': 0, '24h': 0 });

export function newSensorState(now: number): SensorState {
  return { lastArrival: now, recent: [], spikes: [], quality: NORMAL, battery: NORMAL };
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
        for (const w of WINDOWS) r.sums[w] -= r.buckets[(((t - WINDOW_MIN[w]) % DAY_MIN) + DAY_MIN) % DAY_MIN]!;
        r.buckets[t % DAY_MIN] = 0;
      }
      for (const w of WINDOWS) if (r.sums[w] < 1e-9) r.sums[w] = 0; // float dust
    }
    r.head = m;
  }
  if (m <= r.head - DAY_MIN) return false;
  r.buckets[((m % DAY_MIN) + DAY_MIN) % DAY_MIN]! += mm;
  for (const w of WINDOWS) if (m > r.head - WINDOW_MIN[w]) r.sums[w] += mm;
  return true;
}

/** The highest level any of whose windows is reached, as an index into RAIN_LEVELS (-1 = none). */
export function rainLevel(sums: Record<RainWindow, number>, levels: SiteRules['rain']['levels']): number {
  for (let i = RAIN_LEVELS.length - 1; i >= 0; i--) {
    const th = levels[RAIN_LEVELS[i]!];
    for (const w of WINDOWS) {
      const t = th[w];
      if (t !== undefined && sums[w] >= t) return i;
    }
  }
  return -1;
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
function rainCause(sums: Record<RainWindow, number>, level: number, levels: SiteRules['rain']['levels']): { window: RainWindow; mm: number; threshold: number } {
  const th = levels[RAIN_LEVELS[level]!];
  for (const w of WINDOWS) {
    const t = th[w];
    if (t !== undefined && sums[w] >= t) return { window: w, mm: sums[w], threshold: t };
  }
  return { window: '1h', mm: sums['1h'], threshold: th['1h'] ?? 0 };
}

// ---------------------------------------------------------------------------------------------
// Data quality, per reading (ponding and water level; rain only for its plausible rate).

interface Quality {
  suspect?: SuspectReason;
  /** The previous reading turned out to be a spike (known only now that the next one is back). */
  spikeAt?: number;
  flat?: SensorState['flat'];
  step?: number;
}

export function assessQuality(s: SensorState, kind: SensorKind, ts: number, v: number, h: SiteRules['health']): Quality {
  const q: Quality = { flat: s.flat, step: s.step };
  if (kind === 'rain') return q; // rate checked by the rain rule
  const [lo, hi] = h.range[kind];
  if (v < lo || v > hi) return { ...q, suspect: 'out-of-range' };

  // Spike: the previous reading left the one before it and this one returned.
  const n = s.recent.length;
  const spike = h.spike[kind];
  if (n >= 2) {
    const a = s.recent[n - 2]![1];
    const [bTs, b] = s.recent[n - 1]!;
    if (Math.abs(b - a) > spike && Math.abs(b - v) > spike && Math.sign(b - a) === Math.sign(b - v) && Math.abs(v - a) < spike / 2) q.spikeAt = bTs;
  }

  // Flat line: identical values (a dry road's 0 cm is not a flat line).
  if (s.flat && s.flat.value === v) q.flat = { value: v, since: s.flat.since, count: s.flat.count + 1 };
  else q.flat = { value: v, since: ts, count: 1 };
  const stuck = q.flat.count >= h.flatlineReadings && ts - q.flat.since >= h.flatlineMinS * 1000 && !(kind === 'ponding' && v === 0);

  // Parked vehicle (ponding): a jump from a dry road straight to a value that then holds still.
  if (kind === 'ponding') {
    const prev = n > 0 ? s.recent[n - 1]![1] : undefined;
    if (s.step !== undefined && Math.abs(v - s.step) <= h.stepToleranceCm) q.step = s.step;
    else if (s.step === undefined && prev !== undefined && prev < h.stepFromCm && v - prev >= h.stepJumpCm) q.step = v;
    else q.step = undefined;
    if (q.step !== undefined) return { ...q, suspect: 'parked-vehicle' };
  }
  if (stuck) return { ...q, suspect: 'flatline' };
  return q;
}

// ---------------------------------------------------------------------------------------------

interface Out {
  transitions: Transition[];
  flags: Flag[];
}

function emit(out: Out, t: Omit<Transition, 'alertId' | 'state'>, step: { change?: 'fired' | 'resolved'; fsm: Fsm }, prev: Fsm): void {
  if (step.change === 'fired') out.transitions.push({ ...t, alertId: step.fsm.alertId!, state: 'firing' });
  else if (step.change === 'resolved') out.transitions.push({ ...t, alertId: prev.alertId!, state: 'resolved' });
}

function holdOf(forS: number, forReadings: number, clearForS: number, clearForReadings: number): Hold {
  return { forS, forReadings, clearForS, clearForReadings };
}

/** Rise over the recent readings within `windowMs` before `ts`: value now − the lowest of them. */
function riseWithin(recent: Array<[number, number]>, ts: number, v: number, windowMs: number): { rise: number; fromTs: number } {
  let min = v;
  let fromTs = ts;
  for (let i = recent.length - 1; i >= 0; i--) {
    const [t, x] = recent[i]!;
    if (ts - t > windowMs) break;
    if (x < min) {
      min = x;
      fromTs = t;
    }
  }
  return { rise: v - min, fromTs };
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
  const prev = state.sensors.get(info.id) ?? newSensorState(now);
  const ts = reading.ts;
  const late = prev.lastTs !== undefined && ts <= prev.lastTs;
  if (late && info.kind !== 'rain') {
    if (prev.lastArrival < now) state.sensors.set(info.id, { ...prev, lastArrival: now });
    return { ...out, stale: true };
  }
  const s: SensorState = { ...prev, lastArrival: Math.max(prev.lastArrival, now), lastTs: late ? prev.lastTs : ts };

  // A reading arrived: an offline sensor is back.
  if (prev.offline) {
    out.transitions.push({ ruleId: RULE_IDS.sensorOffline, subjectId: info.id, sensorId: info.id, alertId: prev.offline.alertId, state: 'resolved', severity: 'warning', value: 0, threshold: 0, unit: 's', ts, reason: 'reporting again' });
    s.offline = undefined;
  }

  // Battery (hysteresis: clears only above low + margin).
  const bv = reading.fields['battery_v'];
  if (bv !== undefined && !late) {
    const h = rules.health;
    const step = stepFsm(s.battery, { on: bv < h.lowBatteryV, off: bv >= h.lowBatteryV + h.batteryHysteresisV }, ts, holdOf(0, h.batteryReadings, 0, h.batteryReadings), alertIdFor(RULE_IDS.sensorBattery, info.id, ts));
    emit(out, { ruleId: RULE_IDS.sensorBattery, subjectId: info.id, sensorId: info.id, severity: 'info', value: bv, threshold: h.lowBatteryV, unit: 'V', ts, reason: `battery ${bv} V (low below ${h.lowBatteryV} V)` }, step, s.battery);
    s.battery = step.fsm;
  }

  if (info.kind === 'rain') evaluateRain(state, s, info, reading, rules, ctx, late, out);
  else {
    const v = info.kind === 'ponding' ? (reading.fields['depth_cm'] ?? 0) : (reading.fields['level_m'] ?? 0);
    const q = assessQuality(s, info.kind, ts, v, rules.health);
    s.flat = q.flat;
    s.step = q.step;
    if (q.spikeAt !== undefined) out.flags.push({ sensorId: info.id, ts: q.spikeAt, reason: 'spike' });
    if (q.spikeAt !== undefined || (s.spikes.length > 0 && ts - s.spikes[0]! >= HOUR)) {
      s.spikes = s.spikes.filter((t) => ts - t < HOUR);
      if (q.spikeAt !== undefined) s.spikes.push(q.spikeAt);
    }
    if (q.suspect) out.flags.push({ sensorId: info.id, ts, reason: q.suspect });
    qualityAlert(s, info, ts, v, q, rules, out);
    if (!q.suspect) {
      if (info.kind === 'ponding') evaluatePonding(state, s, info, ts, v, rules, out);
      else evaluateWaterLevel(s, info, ts, v, rules, out);
      // A reading found to be a spike leaves the history: it must not be the baseline of the next check.
      const kept = q.spikeAt !== undefined ? s.recent.slice(0, -1) : s.recent;
      s.recent = kept.length >= RECENT_MAX ? [...kept.slice(1), [ts, v]] : [...kept, [ts, v]];
    }
  }
  state.sensors.set(info.id, s);
  return out;
}

function qualityAlert(s: SensorState, info: SensorInfo, ts: number, v: number, q: Quality, rules: SiteRules, out: Out): void {
  const h = rules.health;
  const spiky = s.spikes.length >= h.spikesPerHour;
  const bad = q.suspect ?? (spiky ? 'spike' : undefined);
  // Two suspect readings in a row: one passing truck on a dry road is flagged, not alerted.
  const step = stepFsm(s.quality, { on: bad !== undefined, off: bad === undefined }, ts, holdOf(0, 2, 0, h.cleanReadings), alertIdFor(RULE_IDS.sensorDataQuality, info.id, ts));
  const why: Record<SuspectReason, string> = {
    'out-of-range': `value ${v} outside the plausible range`,
    spike: `${s.spikes.length} single-reading spikes within an hour`,
    flatline: `the same value ${v} for ${q.flat?.count ?? 0} readings`,
    'parked-vehicle': `jumped from a dry road to ${v} cm and holds still: a vehicle under the sensor?`,
  };
  const reason = step.change === 'fired' ? why[bad!] : `clean for ${h.cleanReadings} readings (was: ${s.qualityReason ?? 'suspect'})`;
  emit(out, { ruleId: RULE_IDS.sensorDataQuality, subjectId: info.id, sensorId: info.id, severity: 'warning', value: v, threshold: 0, unit: info.kind === 'ponding' ? 'cm' : 'm', ts, reason }, step, s.quality);
  if (step.change === 'fired') s.qualityReason = bad;
  s.quality = step.fsm;
}

function evaluatePonding(state: EngineState, s: SensorState, info: SensorInfo, ts: number, v: number, rules: SiteRules, out: Out): void {
  const u = rules.underpass;
  const site = info.siteId;
  const base = { subjectId: site, sensorId: info.id, value: v, unit: 'cm', ts };

  // Warning stage.
  const warning = s.warning ?? NORMAL;
  const w = stepFsm(warning, { on: v > u.warnCm, off: v < u.warnClearCm }, ts, holdOf(u.warnHoldS, 1, 0, 1), alertIdFor(RULE_IDS.underpassWarning, site, ts));
  emit(out, { ...base, ruleId: RULE_IDS.underpassWarning, severity: 'warning', threshold: w.change === 'resolved' ? u.warnClearCm : u.warnCm, reason: w.change === 'resolved' ? `ponding below ${u.warnClearCm} cm, now ${v} cm` : `ponding above ${u.warnCm} cm, now ${v} cm` }, w, warning);
  s.warning = w.fsm;

  // Closure: sustained above closeCm, or early on a fast rise over ≥2 readings above it.
  const closure = s.closure ?? NORMAL;
  const rise = riseWithin(s.recent, ts, v, 5 * 60_000);
  const minutes = (ts - rise.fromTs) / 60_000;
  const rate = minutes >= 0.5 ? rise.rise / minutes : 0;
  // Early close only on a steady rise: the last three readings each higher than the one before,
  // by less than a spike's jump (two vehicles in a row jump; water climbs).
  const n = s.recent.length;
  const steady = n >= 2 && [s.recent[n - 2]![1], s.recent[n - 1]![1], v].every((x, i, a) => i === 0 || (x > a[i - 1]! && x - a[i - 1]! < rules.health.spike.ponding));
  const early = closure.phase === 'pending' && v > u.closeCm && steady && rate >= u.earlyRiseCmPerMin;
  const c = stepFsm(closure, { on: v > u.closeCm, off: v < u.reopenCm, force: early }, ts, holdOf(u.closeSustainS, u.closeMinReadings, u.reopenHoldS, u.closeMinReadings), alertIdFor(RULE_IDS.underpassClosure, site, ts));
  if (c.change === 'fired') {
    const heldS = Math.round((ts - (closure.phase === 'pending' ? closure.since : ts)) / 1000);
    const reason = early ? `ponding rising ${round(rate, 1)} cm/min (early close at ${u.earlyRiseCmPerMin}), now ${v} cm above ${u.closeCm} cm` : `ponding above ${u.closeCm} cm for ${heldS} s (${closure.count + 1} readings), now ${v} cm`;
    emit(out, { ...base, ruleId: RULE_IDS.underpassClosure, severity: 'critical', threshold: u.closeCm, reason }, c, closure);
  } else if (c.change === 'resolved') {
    const heldS = Math.round((ts - closure.since) / 1000);
    emit(out, { ...base, ruleId: RULE_IDS.underpassClosure, severity: 'critical', threshold: u.reopenCm, reason: `ponding below ${u.reopenCm} cm for ${heldS} s (${closure.count + 1} readings), now ${v} cm` }, c, closure);
  }
  s.closure = c.fsm;

  // Pump advisory: heavy rain in the district while ponding rises here.
  const a = rules.advisory;
  const district = state.districts.get(info.district);
  const districtMax = district ? maxLevel(district) : -1;
  const raining = districtMax >= RAIN_LEVELS.indexOf(a.rainLevel);
  const rising = riseWithin(s.recent, ts, v, a.windowS * 1000).rise >= a.pondingRiseCm;
  const advisory = s.advisory ?? NORMAL;
  const adv = stepFsm(advisory, { on: raining && rising && v >= a.minDepthCm, off: !raining || v < a.minDepthCm }, ts, holdOf(0, 1, a.clearHoldS, 1), alertIdFor(RULE_IDS.pumpAdvisory, site, ts));
  const reason =
    adv.change === 'fired'
      ? `pre-position pump trucks: ${RAIN_LEVELS[districtMax]} rain in ${info.district} and ponding up ${round(riseWithin(s.recent, ts, v, a.windowS * 1000).rise, 1)} cm within ${a.windowS / 60} min, now ${v} cm`
      : `rain eased or ponding below ${a.minDepthCm} cm for ${a.clearHoldS / 60} min`;
  emit(out, { ...base, ruleId: RULE_IDS.pumpAdvisory, severity: 'warning', threshold: a.pondingRiseCm, reason }, adv, advisory);
  s.advisory = adv.fsm;
}

function evaluateWaterLevel(s: SensorState, info: SensorInfo, ts: number, v: number, rules: SiteRules, out: Out): void {
  const r = rules.waterLevel;
  const site = info.siteId;
  const base = { subjectId: site, sensorId: info.id, value: v, unit: 'm', ts };
  const hold = holdOf(0, r.sustainReadings, 0, r.sustainReadings);
  if (r.warningM !== undefined) {
    const danger = r.dangerM ?? round(r.warningM + r.dangerAboveWarningM, 3);
    for (const [key, ruleId, level, severity] of [
      ['wlWarning', RULE_IDS.waterLevelWarning, r.warningM, 'warning'],
      ['wlDanger', RULE_IDS.waterLevelDanger, danger, 'critical'],
    ] as const) {
      const f = s[key] ?? NORMAL;
      const step = stepFsm(f, { on: v >= level, off: v < level - r.hysteresisM }, ts, hold, alertIdFor(ruleId, site, ts));
      const reason = step.change === 'resolved' ? `level ${v} m, below ${round(level - r.hysteresisM, 3)} m` : `level ${v} m at or above the ${severity === 'critical' ? 'danger' : 'warning'} level ${level} m`;
      emit(out, { ...base, ruleId, severity, threshold: level, reason }, step, f);
      s[key] = step.fsm;
    }
  }
  const { rise } = riseWithin(s.recent, ts, v, r.riseWindowS * 1000);
  const f = s.wlRise ?? NORMAL;
  const step = stepFsm(f, { on: rise >= r.riseM, off: rise < r.riseM / 2 }, ts, holdOf(0, 1, 0, 2), alertIdFor(RULE_IDS.waterLevelRise, site, ts));
  emit(out, { ...base, ruleId: RULE_IDS.waterLevelRise, severity: 'warning', value: round(rise, 3), threshold: r.riseM, reason: step.change === 'resolved' ? `rise eased to ${round(rise, 2)} m` : `level rose ${round(rise, 2)} m within ${r.riseWindowS / 60} min, now ${v} m` }, step, f);
  s.wlRise = step.fsm;
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
    out.transitions.push({ ...base, alertId: r.alertId!, state: 'resolved', severity: RAIN_SEVERITY[was]!, value: round(r.sums['1h'], 1), threshold: 0, reason: `rain totals below the blue level for ${rr.clearHoldS / 60} min` });
    r.alertId = undefined;
  } else {
    const cause = rainCause(r.sums, next.shown, rr.levels);
    r.alertId ??= alertIdFor(RULE_IDS.rainstorm, info.id, at);
    const level = RAIN_LEVELS[next.shown]!;
    out.transitions.push({ ...base, alertId: r.alertId, state: 'firing', severity: RAIN_SEVERITY[next.shown]!, level, value: round(cause.mm, 1), threshold: cause.threshold, reason: `${level}: ${round(cause.mm, 1)} mm in ${cause.window} (≥ ${cause.threshold} mm)${was >= 0 ? `, was ${RAIN_LEVELS[was]}` : ''}` });
  }
  districtRain(state, info, next.shown, at, ctx, out);
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
    out.transitions.push({ ...base, alertId: d.alertId!, state: 'resolved', severity: RAIN_SEVERITY[was]!, reason: `fewer than ${ctx.districtMinGauges} gauges at a rainstorm level` });
    d.alertId = undefined;
  } else {
    d.alertId ??= alertIdFor(RULE_IDS.districtRainstorm, info.district, ts);
    out.transitions.push({ ...base, alertId: d.alertId, state: 'firing', severity: RAIN_SEVERITY[level]!, level: RAIN_LEVELS[level], reason: `${n} gauges of ${info.district} at ${RAIN_LEVELS[level]} or above${was >= 0 ? `, was ${RAIN_LEVELS[was]}` : ''}` });
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
    state.sensors.set(id, { ...s, offline: { alertId } });
    transitions.push({ ruleId: RULE_IDS.sensorOffline, subjectId: id, sensorId: id, alertId, state: 'firing', severity: 'warning', value: Math.round(silentMs / 1000), threshold: limitMs / 1000, unit: 's', ts: now, reason: `nothing for ${Math.round(silentMs / 1000)} s (expected every ${limitMs / 1000 / rules.health.offlineFactor} s)` });
  }
  return { transitions };
}

