/**
 * Backtesting: replay recorded readings through the same engine the service runs, print every
 * transition with its time, and — given labelled events (when a road really had to close, when a
 * river really crossed its level) — score the rules: hits, misses, false alarms and lead time.
 *
 * Input: NDJSON (one reading per line: the device payload plus `sensor`, or `{topic, payload}`
 * as recorded from MQTT) or CSV with a header (`sensor,ts,` then field columns, or `value` for the
 * kind's main field). Time in the replay is the readings' own: arrival = sensor time, and silent
 * sensors are checked every simulated minute.
 */
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import type { Reading } from '../contracts/index.ts';
export { detectFormat, parseRecording, summariseProblems, type InputProblem } from '../contracts/recording.ts';
import { isoInZone, parseZone, type Zone } from '../lib/zone.ts';
import { FloodgateError } from '../lib/errors.ts';
import { ID_PATTERN } from '../contracts/index.ts';
import { parseRegistry, type Registry } from '../config/registry.ts';
import { evaluate, newEngineState, tick, type EngineContext, type Transition } from './engine.ts';

/** The demo city's zone: times print in it unless the recording's zone is given. */
export const DEFAULT_ZONE: Zone = parseZone('+08:00')!;

/**
 * Replay in time order; arrival = sensor time. `offline`: check silent sensors once per simulated
 * minute. Off by default: a recording's gaps (between recorded events, or a file of floods only)
 * are not outages, and tens of thousands of sensor-offline transitions would bury the score.
 */
export function replay(readings: Reading[], ctx: EngineContext, opts: { offline?: boolean } = {}): { transitions: Transition[]; flags: number; stale: number } {
  // Recordings are mostly in time order already: checked in one pass, sorted (a copy) only if not.
  let inOrder = true;
  for (let i = 1; i < readings.length && inOrder; i++) inOrder = readings[i - 1]!.ts <= readings[i]!.ts;
  const sorted = inOrder ? readings : [...readings].sort((a, b) => a.ts - b.ts);
  const state = newEngineState();
  const transitions: Transition[] = [];
  let flags = 0;
  let stale = 0;
  let nextTick = sorted.length ? sorted[0]!.ts + 60_000 : 0;
  for (const r of sorted) {
    while (opts.offline && r.ts >= nextTick) {
      transitions.push(...tick(state, nextTick, ctx).transitions);
      nextTick += 60_000;
    }
    const out = evaluate(state, r, r.ts, ctx);
    for (const t of out.transitions) transitions.push(t);
    flags += out.flags.length;
    if (out.stale) stale++;
  }
  return { transitions, flags, stale };
}

export const LabelFile = z.strictObject({
  /** How early a firing still counts as a hit (ms of lead allowed before the labelled start). */
  earlyToleranceS: z.number().int().min(0).default(1800),
  events: z.array(
    z.strictObject({
      rule: z.string().min(1),
      subject: z.string().min(1),
      start: z.iso.datetime({ offset: true }),
      end: z.iso.datetime({ offset: true }),
      /** false: a period known to be without a flood (a firing in it is a false alarm). */
      flood: z.boolean().default(true),
      note: z.string().optional(),
    }),
  ),
});
export type LabelFile = z.infer<typeof LabelFile>;

export function parseLabels(text: string): LabelFile {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new FloodgateError('CONFIG_INVALID', `labels refused: not YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  const r = LabelFile.safeParse(raw);
  if (!r.success) throw new FloodgateError('CONFIG_INVALID', `labels refused:\n${r.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`).join('\n')}`);
  return r.data;
}

export interface RuleScore {
  rule: string;
  hits: number;
  misses: number;
  falseAlarms: number;
  /** Firings outside every labelled period, where the labels mark "no flood" periods (neither hit nor false alarm). */
  unlabelled: number;
  /** Lead time of each hit in seconds (positive: fired before the labelled start). */
  leadS: number[];
}

/**
 * Score firings against labelled events, per rule. A hit is the first firing of the labelled
 * rule and subject within [start − earlyTolerance, end]; a flood without one is a miss. A firing
 * that matches no flood is a false alarm — where the labels mark "no flood" periods for the rule
 * (`flood: false`), only a firing inside one of them: the rest of the recording is unlabelled,
 * and its firings are counted as such.
 */
export function score(transitions: Transition[], labels: LabelFile): RuleScore[] {
  const tol = labels.earlyToleranceS * 1000;
  const rules = [...new Set(labels.events.map((e) => e.rule))];
  return rules.map((rule) => {
    const firings = transitions.filter((t) => t.ruleId === rule && t.state === 'firing');
    // A level change while firing (rain) is the same alert: count an alert's first firing only.
    const firsts = firings.filter((t, i) => firings.findIndex((f) => f.alertId === t.alertId) === i);
    const used = new Set<Transition>();
    const s: RuleScore = { rule, hits: 0, misses: 0, falseAlarms: 0, unlabelled: 0, leadS: [] };
    const events = labels.events.filter((x) => x.rule === rule);
    for (const e of events.filter((x) => x.flood)) {
      const start = Date.parse(e.start);
      const end = Date.parse(e.end);
      const f = firsts.find((t) => !used.has(t) && t.subjectId === e.subject && t.ts >= start - tol && t.ts <= end);
      if (f) {
        used.add(f);
        s.hits++;
        s.leadS.push(Math.round((start - f.ts) / 1000));
      } else s.misses++;
    }
    const quiet = events.filter((x) => !x.flood);
    const inQuiet = (t: Transition) => quiet.some((q) => q.subject === t.subjectId && t.ts >= Date.parse(q.start) && t.ts <= Date.parse(q.end));
    for (const t of firsts.filter((x) => !used.has(x))) {
      if (quiet.length === 0 || inQuiet(t)) s.falseAlarms++;
      else s.unlabelled++;
    }
    return s;
  });
}

/** Labels that cannot be scored as meant: a subject or rule the registry and rules do not know (its floods could only be misses). */
export function labelProblems(labels: LabelFile, known: { subjects: Set<string>; rules: Set<string> }): string[] {
  const count = (ids: string[]) => [...new Set(ids)].map((id) => ({ id, n: ids.filter((x) => x === id).length }));
  return [
    ...count(labels.events.filter((e) => !known.rules.has(e.rule)).map((e) => e.rule)).map(({ id, n }) => `labels: rule ${id} is not a rule of this rule set (${n} event(s))`),
    ...count(labels.events.filter((e) => !known.subjects.has(e.subject)).map((e) => e.subject)).map(({ id, n }) => `labels: subject ${id} is in no site, sensor or district of the registry (${n} event(s) can only be misses)`),
  ];
}

/**
 * A recording from another city: its unknown sensors become ponding sensors, each at an
 * underpass of its own (id `auto-<sensor>`), in one synthetic district `backtest` whose notices
 * go nowhere. Ids the registry cannot hold are returned as refused.
 */
/** Can a registry hold this sensor id, and its underpass `auto-<id>`? */
export const canAutoRegister = (id: string): boolean => ID_PATTERN.test(`auto-${id}`);

export function autoRegister(registry: Registry, sensorIds: Iterable<string>): { registry: Registry; added: string[]; refused: string[] } {
  const known = new Set(registry.sensors.map((s) => s.id));
  const ids = [...new Set(sensorIds)].filter((id) => !known.has(id));
  const added = ids.filter(canAutoRegister);
  const refused = ids.filter((id) => !added.includes(id));
  if (added.length === 0) return { registry, added, refused };
  const district = { id: 'backtest', name: 'backtest (auto-registered)', police: { url: '$FLOODGATE_POLICE_URL', secretRef: 'FLOODGATE_POLICE_SECRET' } };
  const next = {
    ...registry,
    districts: [...registry.districts.filter((d) => d.id !== district.id), district],
    sites: [...registry.sites, ...added.map((id) => ({ id: `auto-${id}`, kind: 'underpass' as const, name: id, road: '', district: district.id, lat: 0, lon: 0 }))],
    sensors: [...registry.sensors, ...added.map((id) => ({ id, kind: 'ponding' as const, site: `auto-${id}` }))],
  };
  return { registry: parseRegistry(next, 'auto-registered recording'), added, refused };
}

export function formatTransition(t: Transition, zone: Zone = DEFAULT_ZONE): string {
  const lvl = t.level ? ` ${t.level}` : '';
  return `${isoInZone(t.ts, zone)}  ${t.state.padEnd(8)} ${t.ruleId.padEnd(20)} ${t.subjectId.padEnd(10)} ${t.sensorId.padEnd(8)} ${t.severity}${lvl}  ${t.reason}`;
}

/** The p-th percentile (nearest rank) of sorted numbers. */
const rank = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;

/** One line per rule: hits, misses, false alarms (and unlabelled firings), lead time p10 / median / p90. */
export function formatScores(scores: RuleScore[]): string {
  const rows = scores.map((s) => {
    const sorted = [...s.leadS].sort((a, b) => a - b);
    const lead = sorted.length ? `lead p10 ${rank(sorted, 10)} s, median ${rank(sorted, 50)} s, p90 ${rank(sorted, 90)} s (min ${sorted[0]} s, max ${sorted[sorted.length - 1]} s; negative = after the labelled start)` : 'lead n/a';
    const unlabelled = s.unlabelled ? `  unlabelled ${s.unlabelled}` : '';
    return `${s.rule.padEnd(20)} hits ${String(s.hits).padStart(3)}  misses ${String(s.misses).padStart(3)}  false alarms ${String(s.falseAlarms).padStart(3)}${unlabelled}  ${lead}`;
  });
  return rows.join('\n');
}

