/**
 * Recorded readings as files (what `floodgate backtest` scores and `floodgate sim replay` sends):
 * NDJSON — one reading per line, the device payload plus `sensor`, or `{topic, payload}` as
 * recorded from MQTT — or CSV with a header (`sensor,ts,` then field columns, or `value` for the
 * kind's main field). Every line is validated as a device payload; bad lines are reported with
 * their line number and the kind of problem, and skipped.
 *
 * Times are read as recordings from elsewhere write them (lib/zone.ts): a space or `T`, any
 * fraction, `Z` or an offset, epoch seconds or milliseconds, or local time placed by the
 * recording's zone. A device's own payload stays strict (contracts/readings.ts).
 */
import { parse } from 'csv-parse/sync';
import { FloodgateError } from '../lib/errors.ts';
import { parseTimestamp, type Zone } from '../lib/zone.ts';
import type { SensorKind } from './kinds.ts';
import { FAST_RULES, fastReading, MAIN_FIELD, MIN_EPOCH_MS, parseReadingValue, type FieldRule, type Reading } from './readings.ts';
import { parseSensorTopic } from './topics.ts';

/** What was wrong with a line, as the summary groups them. */
export type ProblemKind = 'not-json' | 'not-a-reading' | 'no-sensor' | 'unknown-sensor' | 'time' | 'invalid' | 'csv';

export interface InputProblem {
  line: number;
  kind: ProblemKind;
  message: string;
}

export type RecordingFormat = 'ndjson' | 'csv';

/** NDJSON if the first line that holds anything is a JSON object, else CSV: the content decides, not the file's name. */
export function detectFormat(text: string): RecordingFormat {
  const first = /^\s*(\S)/.exec(text)?.[1];
  return first === '{' ? 'ndjson' : 'csv';
}

/** A recorded `ts` as epoch ms (a number under 10^11 is taken for seconds), or the problem with it. */
function recordedTime(ts: unknown, zone: Zone | undefined): { ms: number } | { error: string } {
  if (typeof ts === 'number') return { ms: ts < 1e11 ? Math.round(ts * 1000) : ts };
  if (typeof ts === 'string') return parseTimestamp(ts, zone);
  return { error: 'no "ts" (the reading\'s time)' };
}

/** Parse recorded readings; bad lines are reported (with their line number and kind) and skipped, never fatal. */
export function parseRecording(text: string, format: RecordingFormat, kindOf: (sensorId: string) => SensorKind | undefined, opts: { zone?: Zone } = {}): { readings: Reading[]; problems: InputProblem[] } {
  const readings: Reading[] = [];
  const problems: InputProblem[] = [];
  const problem = (line: number, kind: ProblemKind, message: string) => void problems.push({ line, kind, message });
  // `payload` is this parse's own object (JSON.parse's, or built from a CSV line): its time is
  // replaced in place, no copy per reading.
  const add = (line: number, sensorId: string, kind: SensorKind | undefined, payload: Record<string, unknown>, ignore?: string) => {
    if (!kind) return problem(line, 'unknown-sensor', `sensor ${sensorId} is not in the registry`);
    const time = recordedTime(payload['ts'], opts.zone);
    if ('error' in time) return problem(line, 'time', time.error);
    payload['ts'] = time.ms;
    const fast = fastReading(FAST_RULES[kind], kind, sensorId, payload, ignore);
    if (fast) return void readings.push(fast);
    const r = parseReadingValue(kind, sensorId, payload);
    if (r.fatal) return problem(line, 'invalid', r.fatal.message);
    for (const e of r.errors) problem(line, 'invalid', `${e.path ? e.path + ': ' : ''}${e.message}`);
    for (const x of r.readings) readings.push(x);
  };
  if (format === 'ndjson') {
    text.split('\n').forEach((raw, i) => {
      if (!raw.trim()) return;
      let obj: Record<string, unknown>;
      try {
        obj = JSON.parse(raw) as Record<string, unknown>;
      } catch {
        return problem(i + 1, 'not-json', 'not JSON');
      }
      if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) return problem(i + 1, 'not-json', 'not a JSON object');
      if (typeof obj['topic'] === 'string') {
        const t = parseSensorTopic(obj['topic']);
        if (!t || t.leaf !== 'reading') return problem(i + 1, 'not-a-reading', `not a reading topic: ${obj['topic']}`);
        if (typeof obj['payload'] !== 'object' || obj['payload'] === null) return problem(i + 1, 'not-a-reading', 'no "payload" object');
        if (Array.isArray(obj['payload'])) return void (obj['payload'] as unknown[]).forEach((p) => add(i + 1, t.sensorId, kindOf(t.sensorId), { ...(p as Record<string, unknown>) }));
        return add(i + 1, t.sensorId, kindOf(t.sensorId), obj['payload'] as Record<string, unknown>);
      }
      const sensor = obj['sensor'];
      if (typeof sensor !== 'string') return problem(i + 1, 'no-sensor', 'no "sensor" (or "topic") field');
      // `sensor` stays in the object (deleting a key makes V8 slow on it): the fast check skips it, zod strips it.
      return add(i + 1, sensor, kindOf(sensor), obj, 'sensor');
    });
    return { readings, problems };
  }
  csvRecords(text, problem, (names, cells, line) => {
    let sensor = '';
    let ts = '';
    for (let c = 0; c < names.length && c < cells.length; c++) {
      if (names[c] === 'sensor') sensor = cells[c]!.trim();
      else if (names[c] === 'ts') ts = cells[c]!.trim();
    }
    const kind = kindOf(sensor);
    const direct = kind && directReading(kind, sensor, ts, names, cells, opts.zone);
    if (direct) return void readings.push(direct);
    const payload: Record<string, unknown> = { ts };
    for (let c = 0; c < names.length && c < cells.length; c++) {
      const h = names[c]!;
      if (h === 'sensor' || h === 'ts') continue;
      const v = cells[c]!.trim();
      if (v !== '') payload[h === 'value' && kind ? MAIN_FIELD[kind].field : h] = Number(v);
    }
    if (kind === 'rain' && payload['interval_s'] === undefined) payload['interval_s'] = 60;
    add(line, sensor, kind, payload);
  });
  return { readings, problems };
}

/** Per column of a CSV header, for a kind: its field's bounds, or null for sensor and ts; undefined when a column is no field of the kind. */
type ColumnPlan = Array<(FieldRule & { field: string }) | null> | undefined;
const plans = new WeakMap<string[], Map<SensorKind, ColumnPlan>>();
function planOf(kind: SensorKind, names: string[]): ColumnPlan {
  let byKind = plans.get(names);
  if (!byKind) plans.set(names, (byKind = new Map()));
  if (byKind.has(kind)) return byKind.get(kind);
  const rules = FAST_RULES[kind];
  let plan: ColumnPlan = [];
  const seen = new Set<string>();
  for (const name of names) {
    if (name === 'sensor' || name === 'ts') {
      plan.push(null);
      continue;
    }
    const field = name === 'value' ? MAIN_FIELD[kind].field : name;
    const rule = rules?.find((r) => r.key === field);
    // seq, a field twice, or one the kind does not have: the general way, which says what is wrong.
    if (!rule || field === 'seq' || seen.has(field)) {
      plan = undefined;
      break;
    }
    seen.add(field);
    plan.push({ ...rule, field });
  }
  // Rain needs its interval_s default; every required field must have its column.
  if (kind === 'rain' || rules === null || (plan && rules.some((r) => !r.optional && !seen.has(r.key)))) plan = undefined;
  byKind.set(kind, plan);
  return plan;
}

/**
 * A CSV line straight to a reading, without a payload object in between, when every value column
 * is one of the kind's numeric fields and within its bounds, and the time parses (what recorders
 * write: the speed of `floodgate backtest` on a city's year). Anything else: undefined, and the
 * line goes the general way, which validates it as a device payload and says what is wrong.
 */
function directReading(kind: SensorKind, sensorId: string, ts: string, names: string[], cells: string[], zone: Zone | undefined): Reading | undefined {
  const plan = planOf(kind, names);
  if (!plan || cells.length < names.length) return undefined;
  const time = parseTimestamp(ts, zone);
  if ('error' in time || time.ms < MIN_EPOCH_MS) return undefined;
  const fields: Record<string, number> = {};
  for (let c = 0; c < plan.length; c++) {
    const rule = plan[c];
    if (!rule) continue;
    const text = cells[c]!.trim();
    if (text === '') {
      if (rule.optional) continue;
      return undefined;
    }
    const v = Number(text);
    if (!Number.isFinite(v) || v < rule.min || v > rule.max || (rule.int && !Number.isSafeInteger(v))) return undefined;
    fields[rule.field] = v;
  }
  return { kind, sensorId, ts: time.ms, seq: undefined, fields };
}

const headerOf = (header: string[]): string[] => {
  const names = header.map((h) => h.trim());
  if (!names.includes('sensor') || !names.includes('ts')) throw new FloodgateError('CONFIG_INVALID', 'CSV needs a header with at least "sensor" and "ts" columns');
  return names;
};

/**
 * A CSV recording's records with their line numbers. Without a quote anywhere in the text (what
 * recorders write) a record is a line and a field what lies between commas, trimmed: split here,
 * at about twice csv-parse's speed (its per-record `info`, needed for the line numbers, was most
 * of backtest's time on CSV). A text with quotes goes to csv-parse (RFC 4180: quoted fields,
 * commas and newlines inside quotes, "" escapes); a record it cannot parse is reported and skipped.
 */
function csvRecords(text: string, problem: (line: number, kind: ProblemKind, message: string) => void, each: (names: string[], cells: string[], line: number) => void): void {
  if (!text.includes('"')) {
    const lines = text.split('\n');
    let names: string[] | undefined;
    for (let i = 0; i < lines.length; i++) {
      const raw = lines[i]!;
      if (raw.trim() === '') continue;
      const cells = raw.split(',');
      if (!names) names = headerOf(cells);
      else each(names, cells, i + 1);
    }
    return;
  }
  let names: string[] = [];
  const records = parse(text, {
    columns: (header: string[]) => (names = headerOf(header)),
    skip_empty_lines: true,
    trim: true,
    relax_column_count: true,
    info: true,
    skip_records_with_error: true,
    on_skip: (err) => void (err && problem((err as { lines?: number }).lines ?? 0, 'csv', err.message)),
  }) as Array<{ record: Record<string, string>; info: { lines: number } }>;
  for (const r of records) each(names, names.map((n) => r.record[n] ?? ''), r.info.lines);
}

/** Problems by kind, most frequent first: how many, and the first line of each. */
export function summariseProblems(problems: InputProblem[]): Array<{ kind: ProblemKind; count: number; first: InputProblem }> {
  const byKind = new Map<ProblemKind, { kind: ProblemKind; count: number; first: InputProblem }>();
  for (const p of problems) {
    const k = byKind.get(p.kind);
    if (k) k.count++;
    else byKind.set(p.kind, { kind: p.kind, count: 1, first: p });
  }
  return [...byKind.values()].sort((a, b) => b.count - a.count);
}
