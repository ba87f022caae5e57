/**
 * A labelled ponding corpus for the rules (issue 22's acceptance): underpass sensors at a 1-minute
 * cadence (or sparser), each trace one class of what real ultrasonic depth sensors show, with the
 * noise-free truth as labels — when the road really was above the closing depth (a flood), and,
 * for the traces without one, that nothing happened (`flood: false`: a closure there is a false
 * alarm). Deterministic: the same seed gives the same readings and labels.
 *
 *   storm           a rain-driven flood: rise over 20–40 min to 32–45 cm, hold, drain
 *   fast-rise       the same, rising 3–5 cm a minute
 *   short-peak      above 25 cm for one or two readings (≤ 2 min), then down
 *   one-step        dry, then 45 cm in one step (a real rise the 1-minute sensor missed), held
 *   sparse          a flood seen by a sensor reporting every 10–30 min
 *   parked-vehicle  a dry road, a car under the sensor for 30–60 min (a fixed height, no noise)
 *   object          an object under the sensor: 122.2, 122.7, 122.7 … for an hour
 *   baseline-shift  no rain, the reading's baseline moved to 15–18 cm and wandering, for 17 h
 *   dry             a dry road, the sensor's noise only
 *   vehicle-in-rain a car parked under the sensor for 30–60 min while it rains and the road is wet (3 cm)
 */
import type { Reading } from '../contracts/index.ts';
import type { Registry } from '../config/registry.ts';
import { score, type LabelFile } from '../rules/backtest.ts';
import type { Transition } from '../rules/engine.ts';
import { prng } from '../lib/prng.ts';
import { isoWithOffset } from '../lib/time.ts';
import { metresBetween } from '../lib/geo.ts';

// New classes go last: each class's traces draw from one random sequence in this order, and the
// traces of the classes before stay the readings "before" was measured on.
export const CORPUS_CLASSES = ['storm', 'fast-rise', 'short-peak', 'one-step', 'sparse', 'parked-vehicle', 'object', 'baseline-shift', 'dry', 'vehicle-in-rain'] as const;
export type CorpusClass = (typeof CORPUS_CLASSES)[number];
const FLOODS: ReadonlySet<CorpusClass> = new Set(['storm', 'fast-rise', 'short-peak', 'one-step', 'sparse']);

export interface Corpus {
  readings: Reading[];
  labels: LabelFile;
  /** The class of each underpass (site id). */
  classOf: Map<string, CorpusClass>;
  /** The ponding sensor of each of those underpasses. */
  sensorOf: Map<string, string>;
  /** The rain gauge nearest each of those underpasses, which reports the trace's rain (0 mm on dry days). */
  gaugeOf: Map<string, string>;
  /** When each baseline-shift trace's shift began. */
  shiftAt: Map<string, number>;
}

const CLOSE_CM = 25;
/** A baseline shift begins this many minutes into its trace. */
const SHIFT_AT_MIN = 60;
/** The site's rain gauge reports every 5 minutes, as the demo city's do. */
const RAIN_EVERY_MIN = 5;
const T0 = Date.parse('2026-07-01T12:00:00+08:00');

interface Truth {
  minutes: number;
  cadenceMin: number;
  /** The water's depth at minute m (cm). */
  depth(m: number): number;
  noiseCm: number;
  /** What the sensor sees instead of the water (a vehicle's roof, an object), when something is there. */
  seen?(m: number): number | undefined;
  /** The rain at the site's gauge (mm/h) in minute m: it rains before and while the water rises; the other classes are dry. */
  rain(m: number): number;
}

const DRY = () => 0;

/**
 * The noise-free depth of a class's trace at minute m (of `minutes`), with its own random shape.
 * The rain draws from its own generator: the ponding readings are the same as before the corpus had
 * rain (stop 29's rules were measured on them: docs/rules-corpus.md's "before").
 */
function truthOf(cls: CorpusClass, rand: () => number, rainRand: () => number): Truth {
  const r = (lo: number, hi: number) => lo + rand() * (hi - lo);
  const rr = (lo: number, hi: number) => lo + rainRand() * (hi - lo);
  // Rain of `mmPerH` from `lead` minutes before `from` until `to`: the water follows the rain.
  const rainBetween = (from: number, to: number, lead = Math.round(rr(15, 30)), mmPerH = rr(20, 60)) => (m: number) => (m >= from - lead && m < to ? mmPerH : 0);
  const flood = (riseMin: number, peak: number) => {
    const onset = Math.round(r(20, 40));
    const peakAt = onset + riseMin;
    const drained = peakAt + Math.round(r(40, 80));
    return {
      depth: (m: number) => (m <= onset || m >= drained ? 1 : m <= peakAt ? 1 + (peak - 1) * ((m - onset) / riseMin) : 1 + (peak - 1) * ((drained - m) / (drained - peakAt))),
      rain: rainBetween(onset, peakAt, Math.min(onset, Math.round(rr(15, 30)))),
    };
  };
  switch (cls) {
    case 'storm':
      return { minutes: 180, cadenceMin: 1, ...flood(Math.round(r(20, 40)), r(32, 45)), noiseCm: 0.3 };
    case 'fast-rise': {
      const peak = r(38, 48);
      return { minutes: 180, cadenceMin: 1, ...flood(Math.round(peak / r(3, 5)), peak), noiseCm: 0.3 };
    }
    case 'short-peak': {
      const at = Math.round(r(40, 80));
      const width = rand() < 0.5 ? 1 : 2;
      const peak = r(26.5, 30);
      // A quick rise and fall in a cloudburst: above 25 cm at `width` readings only.
      return { minutes: 150, cadenceMin: 1, depth: (m) => (m >= at && m < at + width ? peak : m >= at - 3 && m < at + width + 3 ? 20 : 1), noiseCm: 0.3, rain: rainBetween(at - 3, at + width) };
    }
    case 'one-step': {
      const at = Math.round(r(30, 60));
      return { minutes: 150, cadenceMin: 1, depth: (m) => (m >= at && m < at + 40 ? 45.5 : 2), noiseCm: 0.3, rain: rainBetween(at, at + 30) };
    }
    case 'sparse': {
      return { minutes: 360, cadenceMin: Math.round(r(10, 30)), ...flood(Math.round(r(40, 80)), r(35, 50)), noiseCm: 0.3 };
    }
    case 'parked-vehicle': {
      const at = Math.round(r(30, 60));
      const height = r(30, 70);
      const until = at + Math.round(r(30, 60));
      // The water stays at 1 cm; the sensor sees the car's roof.
      return { minutes: 180, cadenceMin: 1, depth: () => 1, noiseCm: 0.3, seen: (m) => (m >= at && m < until ? height : undefined), rain: DRY };
    }
    case 'object': {
      const at = Math.round(r(30, 60));
      return { minutes: 180, cadenceMin: 1, depth: () => 1, noiseCm: 0.3, seen: (m) => (m >= at && m < at + 60 ? 122.2 + (m % 3 === 0 ? 0 : 0.5) : undefined), rain: DRY };
    }
    case 'baseline-shift': {
      const base = r(15, 18);
      return { minutes: 17 * 60, cadenceMin: 1, depth: (m) => (m < SHIFT_AT_MIN ? 1 : base + 1.5 * Math.sin(m / 97)), noiseCm: 0.3, rain: DRY };
    }
    case 'dry':
      return { minutes: 180, cadenceMin: 1, depth: () => 1, noiseCm: 0.3, rain: DRY };
    case 'vehicle-in-rain': {
      const at = Math.round(r(30, 60));
      const height = r(30, 70);
      const until = at + Math.round(r(30, 60));
      // Rain all along, the road wet but far from ponding; the sensor sees the car's roof.
      return { minutes: 180, cadenceMin: 1, depth: () => 3, noiseCm: 0.3, seen: (m) => (m >= at && m < until ? height : undefined), rain: rainBetween(0, 180, 0, rr(15, 40)) };
    }
  }
}

/** `perClass` underpasses of each class, on the registry's first underpass sensors. */
export function buildCorpus(registry: Registry, o: { perClass: number; seed: number }): Corpus {
  const rand = prng(o.seed);
  const rainRand = prng(o.seed + 1);
  const gaugeNear = nearestGauge(registry);
  const underpasses = registry.sites.filter((s) => s.kind === 'underpass');
  const sensorAt = new Map(registry.sensors.filter((s) => s.kind === 'ponding').map((s) => [s.site, s.id]));
  if (underpasses.length < CORPUS_CLASSES.length * o.perClass) throw new Error(`the corpus needs ${CORPUS_CLASSES.length * o.perClass} underpasses, the registry has ${underpasses.length}`);
  const readings: Reading[] = [];
  const events: LabelFile['events'] = [];
  const classOf = new Map<string, CorpusClass>();
  const sensorOf = new Map<string, string>();
  const gaugeOf = new Map<string, string>();
  const shiftAt = new Map<string, number>();
  let k = 0;
  for (const cls of CORPUS_CLASSES) {
    for (let i = 0; i < o.perClass; i++, k++) {
      const site = underpasses[k]!;
      const sensorId = sensorAt.get(site.id)!;
      classOf.set(site.id, cls);
      sensorOf.set(site.id, sensorId);
      const t = truthOf(cls, rand, rainRand);
      // Each trace on its own day: the traces never meet in time (the rules judge on sensor time).
      const start = T0 + k * 86_400_000;
      const gauge = gaugeNear(site);
      gaugeOf.set(site.id, gauge);
      if (cls === 'baseline-shift') shiftAt.set(site.id, start + SHIFT_AT_MIN * 60_000);
      for (let m = RAIN_EVERY_MIN, seq = 0; m <= t.minutes; m += RAIN_EVERY_MIN) {
        let mm = 0;
        for (let j = m - RAIN_EVERY_MIN + 1; j <= m; j++) mm += t.rain(j) / 60;
        readings.push({ kind: 'rain', sensorId: gauge, ts: start + m * 60_000, seq: seq++, fields: { rain_mm: Math.round(mm * 10) / 10, interval_s: RAIN_EVERY_MIN * 60 } });
      }
      let above: number | undefined;
      for (let m = 0, seq = 0; m < t.minutes; m++) {
        const d = t.depth(m);
        if (d > CLOSE_CM && above === undefined) above = m;
        if (d <= CLOSE_CM && above !== undefined) {
          events.push({ rule: 'underpass-closure', subject: site.id, start: isoWithOffset(start + above * 60_000), end: isoWithOffset(start + (m - 1) * 60_000), flood: true, note: cls });
          above = undefined;
        }
        if (m % t.cadenceMin !== 0) continue;
        // A parked car or an object reflects the sound at a fixed height: no noise on it.
        const fixed = t.seen?.(m);
        const value = fixed ?? Math.max(0, d + (rand() - 0.5) * 2 * t.noiseCm);
        readings.push({ kind: 'ponding', sensorId, ts: start + m * 60_000, seq: seq++, fields: { depth_cm: Math.round(value * 10) / 10, battery_v: 3.6 } });
      }
      if (!FLOODS.has(cls)) events.push({ rule: 'underpass-closure', subject: site.id, start: isoWithOffset(start), end: isoWithOffset(start + t.minutes * 60_000), flood: false, note: cls });
    }
  }
  readings.sort((a, b) => a.ts - b.ts);
  return { readings, labels: { earlyToleranceS: 1800, events }, classOf, sensorOf, gaugeOf, shiftAt };
}

/** The rain gauge nearest a site (the corpus's rain falls there). */
function nearestGauge(registry: Registry): (site: Registry['sites'][number]) => string {
  const sites = new Map(registry.sites.map((s) => [s.id, s]));
  const gauges = registry.sensors.filter((s) => s.kind === 'rain' && !s.loadTest).map((s) => ({ id: s.id, at: sites.get(s.site)! }));
  return (site) => gauges.reduce((best, g) => (metresBetween(site, g.at) < metresBetween(site, best.at) ? g : best)).id;
}

export interface CorpusRow {
  cls: CorpusClass;
  underpasses: number;
  floods: number;
  hits: number;
  misses: number;
  falseAlarms: number;
  /** Lead of each hit, seconds (positive: closed before the water crossed). */
  leadS: number[];
  /** Underpasses of the class with a sensor data-quality alert. */
  dataQuality: number;
  /** … of them for a baseline shift, and how many of those within an hour of the shift. */
  baselineShift: number;
  baselineShiftWithinHour: number;
}

/** The corpus's closures and data-quality alerts scored per class. */
export function scoreCorpus(corpus: Corpus, transitions: Transition[]): CorpusRow[] {
  return CORPUS_CLASSES.map((cls) => {
    const sites = new Set([...corpus.classOf].filter(([, c]) => c === cls).map(([s]) => s));
    const labels = { ...corpus.labels, events: corpus.labels.events.filter((e) => sites.has(e.subject)) };
    const s = score(transitions.filter((t) => sites.has(t.subjectId)), labels).find((x) => x.rule === 'underpass-closure')!;
    const sensors = new Set([...sites].map((site) => corpus.sensorOf.get(site)));
    const dqAlerts = transitions.filter((t) => t.ruleId === 'sensor-data-quality' && t.state === 'firing' && sensors.has(t.sensorId));
    const dq = new Set(dqAlerts.map((t) => t.sensorId));
    // The first baseline-shift alert of each site's sensor, and whether it came within an hour of the shift.
    const shifted = [...sites].map((site) => ({ at: corpus.shiftAt.get(site), alert: dqAlerts.find((t) => t.sensorId === corpus.sensorOf.get(site) && t.why?.key === 'quality.baseline-shift') })).filter((x) => x.alert);
    const withinHour = shifted.filter((x) => x.at !== undefined && x.alert!.ts - x.at <= 3_600_000).length;
    return { cls, underpasses: sites.size, floods: labels.events.filter((e) => e.flood).length, hits: s.hits, misses: s.misses, falseAlarms: s.falseAlarms, leadS: s.leadS, dataQuality: dq.size, baselineShift: shifted.length, baselineShiftWithinHour: withinHour };
  });
}

const pct = (sorted: number[], p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]! : undefined);
const minutes = (s: number | undefined) => (s === undefined ? '–' : (s / 60).toFixed(1));

/** The table docs/rules-corpus.md shows. */
export function corpusTable(rows: CorpusRow[]): string {
  const head = ['| class | underpasses | floods | hits | misses | false alarms | lead p10 / median / p90 (min) | data-quality alerts | of them baseline shift (within 1 h of it) |', '|---|---|---|---|---|---|---|---|---|'];
  const all = rows.flatMap((r) => r.leadS).sort((a, b) => a - b);
  type Counted = 'underpasses' | 'floods' | 'hits' | 'misses' | 'falseAlarms' | 'dataQuality' | 'baselineShift' | 'baselineShiftWithinHour';
  const line = (r: Pick<CorpusRow, Counted> & { name: string; lead: number[] }) => {
    const sorted = [...r.lead].sort((a, b) => a - b);
    return `| ${r.name} | ${r.underpasses} | ${r.floods} | ${r.hits} | ${r.misses} | ${r.falseAlarms} | ${r.floods ? `${minutes(pct(sorted, 10))} / ${minutes(pct(sorted, 50))} / ${minutes(pct(sorted, 90))}` : '–'} | ${r.dataQuality} | ${r.baselineShift} (${r.baselineShiftWithinHour}) |`;
  };
  const sum = (k: Counted) => rows.reduce((n, r) => n + r[k], 0);
  const total = Object.fromEntries((['underpasses', 'floods', 'hits', 'misses', 'falseAlarms', 'dataQuality', 'baselineShift', 'baselineShiftWithinHour'] as const).map((k) => [k, sum(k)])) as Pick<CorpusRow, Counted>;
  return [...head, ...rows.map((r) => line({ ...r, name: r.cls, lead: r.leadS })), line({ ...total, name: '**all**', lead: all })].join('\n');
}

/** One run of the corpus under a variant of the rules: what it turns off, and how. */
export interface OptionRun {
  option: string;
  setting: string;
  rows: CorpusRow[];
}

/** The corpus's totals under each rule option (docs/rules-corpus.md): what each new option buys, and costs. */
export function optionsTable(runs: OptionRun[]): string {
  const head = ['| rules | setting | hits | misses | false alarms | lead p10 / median / p90 (min) | baseline shifts alerted within 1 h |', '|---|---|---|---|---|---|---|'];
  const line = (r: OptionRun) => {
    const sum = (k: 'hits' | 'misses' | 'falseAlarms' | 'baselineShiftWithinHour') => r.rows.reduce((n, x) => n + x[k], 0);
    const lead = r.rows.flatMap((x) => x.leadS).sort((a, b) => a - b);
    const shifts = r.rows.find((x) => x.cls === 'baseline-shift')?.underpasses ?? 0;
    return `| ${r.option} | ${r.setting} | ${sum('hits')} | ${sum('misses')} | ${sum('falseAlarms')} | ${minutes(pct(lead, 10))} / ${minutes(pct(lead, 50))} / ${minutes(pct(lead, 90))} | ${sum('baselineShiftWithinHour')} of ${shifts} |`;
  };
  return [...head, ...runs.map(line)].join('\n');
}
