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
import { MAIN_FIELD, parseReadingValue, type Reading } from './readings.ts';
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
  const add = (line: number, sensorId: string, raw: unknown) => {
    const kind = kindOf(sensorId);
    if (!kind) return problem(line, 'unknown-sensor', `sensor ${sensorId} is not in the registry`);
    const payload = { ...(raw as Record<string, unknown>) };
    const time = recordedTime(payload['ts'], opts.zone);
    if ('error' in time) return problem(line, 'time', time.error);
    payload['ts'] = time.ms;
    const r = parseReadingValue(kind, sensorId, payload);
    if (r.fatal) return problem(line, 'invalid', r.fatal.message);
    for (const e of r.errors) problem(line, 'invalid', `${e.path ? e.path + ': ' : ''}${e.message}`);
    readings.push(...r.readings);
  };
  if (format === 'ndjson') {
    text.split(/\r?\n/).forEach((raw, i) => {
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
        return add(i + 1, t.sensorId, obj['payload']);
      }
      const { sensor, ...payload } = obj;
      if (typeof sensor !== 'string') return problem(i + 1, 'no-sensor', 'no "sensor" (or "topic") field');
      return add(i + 1, sensor, payload);
    });
    return { readings, problems };
  }
  for (const { record: row, line } of csvRecords(text, problem)) {
    const sensor = row['sensor'] ?? '';
    const kind = kindOf(sensor);
    const payload: Record<string, unknown> = { ts: row['ts'] ?? '' };
    for (const h in row) {
      const v = row[h];
      if (h === 'sensor' || h === 'ts' || v === '' || v === undefined) continue;
      payload[h === 'value' && kind ? MAIN_FIELD[kind].field : h] = Number(v);
    }
    if (kind === 'rain' && payload['interval_s'] === undefined) payload['interval_s'] = 60;
    add(line, sensor, payload);
  }
  return { readings, problems };
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
function csvRecords(text: string, problem: (line: number, kind: ProblemKind, message: string) => void): Array<{ record: Record<string, string>; line: number }> {
  if (!text.includes('"')) {
    const lines = text.split('\n');
    let names: string[] | undefined;
    const out: Array<{ record: Record<string, string>; line: number }> = [];
    for (let i = 0; i < lines.length; i++) {
      const raw = lines[i]!;
      if (raw.trim() === '') continue;
      const cells = raw.split(',');
      if (!names) {
        names = headerOf(cells);
        continue;
      }
      const record: Record<string, string> = {};
      for (let c = 0; c < names.length && c < cells.length; c++) record[names[c]!] = cells[c]!.trim();
      out.push({ record, line: i + 1 });
    }
    return out;
  }
  const records = parse(text, {
    columns: headerOf,
    skip_empty_lines: true,
    trim: true,
    relax_column_count: true,
    info: true,
    skip_records_with_error: true,
    on_skip: (err) => void (err && problem((err as { lines?: number }).lines ?? 0, 'csv', err.message)),
  }) as Array<{ record: Record<string, string>; info: { lines: number } }>;
  return records.map((r) => ({ record: r.record, line: r.info.lines }));
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
