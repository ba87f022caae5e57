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
export { parseRecording, type InputProblem } from '../contracts/recording.ts';
import { isoWithOffset } from '../lib/time.ts';
import { FloodgateError } from '../lib/errors.ts';
import { evaluate, newEngineState, tick, type EngineContext, type Transition } from './engine.ts';

/** Replay in time order; arrival = sensor time; offline checks once per simulated minute. */
export function replay(readings: Reading[], ctx: EngineContext): { transitions: Transition[]; flags: number; stale: number } {
  const sorted = [...readings].sort((a, b) => a.ts - b.ts);
  const state = newEngineState();
  const transitions: Transition[] = [];
  let flags = 0;
  let stale = 0;
  let nextTick = sorted.length ? sorted[0]!.ts + 60_000 : 0;
  for (const r of sorted) {
    while (r.ts >= nextTick) {
      transitions.push(...tick(state, nextTick, ctx).transitions);
      nextTick += 60_000;
    }
    const out = evaluate(state, r, r.ts, ctx);
    transitions.push(...out.transitions);
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
  /** Lead time of each hit in seconds (positive: fired before the labelled start). */
  leadS: number[];
}

/**
 * Score firings against labelled events, per rule. A hit is the first firing of the labelled
 * rule and subject within [start − earlyTolerance, end]; a labelled event without one is a miss;
 * a firing of a labelled rule that matches no event is a false alarm.
 */
export function score(transitions: Transition[], labels: LabelFile): RuleScore[] {
  const tol = labels.earlyToleranceS * 1000;
  const rules = [...new Set(labels.events.map((e) => e.rule))];
  return rules.map((rule) => {
    const firings = transitions.filter((t) => t.ruleId === rule && t.state === 'firing');
    // A level change while firing (rain) is the same alert: count an alert's first firing only.
    const firsts = firings.filter((t, i) => firings.findIndex((f) => f.alertId === t.alertId) === i);
    const used = new Set<Transition>();
    const s: RuleScore = { rule, hits: 0, misses: 0, falseAlarms: 0, leadS: [] };
    for (const e of labels.events.filter((x) => x.rule === rule)) {
      const start = Date.parse(e.start);
      const end = Date.parse(e.end);
      const f = firsts.find((t) => !used.has(t) && t.subjectId === e.subject && t.ts >= start - tol && t.ts <= end);
      if (f) {
        used.add(f);
        s.hits++;
        s.leadS.push(Math.round((start - f.ts) / 1000));
      } else s.misses++;
    }
    s.falseAlarms = firsts.filter((t) => !used.has(t)).length;
    return s;
  });
}

export function formatTransition(t: Transition): string {
  const lvl = t.level ? ` ${t.level}` : '';
  return `${isoWithOffset(t.ts)}  ${t.state.padEnd(8)} ${t.ruleId.padEnd(20)} ${t.subjectId.padEnd(10)} ${t.sensorId.padEnd(8)} ${t.severity}${lvl}  ${t.reason}`;
}

export function formatScores(scores: RuleScore[]): string {
  const rows = scores.map((s) => {
    const sorted = [...s.leadS].sort((a, b) => a - b);
    const median = sorted.length ? sorted[Math.floor(sorted.length / 2)]! : undefined;
    const lead = median === undefined ? 'n/a' : `${median} s (min ${sorted[0]} s, max ${sorted[sorted.length - 1]} s; negative = after the labelled start)`;
    return `${s.rule.padEnd(20)} hits ${String(s.hits).padStart(3)}  misses ${String(s.misses).padStart(3)}  false alarms ${String(s.falseAlarms).padStart(3)}  median lead ${lead}`;
  });
  return rows.join('\n');
}

