/**
 * Recorded readings as files (what `floodgate backtest` scores and `floodgate sim replay` sends):
 * NDJSON — one reading per line, the device payload plus `sensor`, or `{topic, payload}` as
 * recorded from MQTT — or CSV with a header (`sensor,ts,` then field columns, or `value` for the
 * kind's main field). Every line is validated as a device payload; bad lines are reported with
 * their line number and skipped.
 */
import { parse } from 'csv-parse/sync';
import { FloodgateError } from '../lib/errors.ts';
import type { SensorKind } from './kinds.ts';
import { MAIN_FIELD, parseReadingPayload, type Reading } from './readings.ts';
import { parseSensorTopic } from './topics.ts';

export interface InputProblem {
  line: number;
  message: string;
}

/** Parse recorded readings; bad lines are reported (with their line number) and skipped, never fatal. */
export function parseRecording(text: string, format: 'ndjson' | 'csv', kindOf: (sensorId: string) => SensorKind | undefined): { readings: Reading[]; problems: InputProblem[] } {
  const readings: Reading[] = [];
  const problems: InputProblem[] = [];
  const add = (line: number, sensorId: string, payload: unknown) => {
    const kind = kindOf(sensorId);
    if (!kind) return problems.push({ line, message: `sensor ${sensorId} is not in the registry` });
    const r = parseReadingPayload(kind, sensorId, Buffer.from(JSON.stringify(payload)));
    if (r.fatal) return problems.push({ line, message: r.fatal.message });
    for (const e of r.errors) problems.push({ line, message: `${e.path ? e.path + ': ' : ''}${e.message}` });
    readings.push(...r.readings);
  };
  if (format === 'ndjson') {
    text.split(/\r?\n/).forEach((raw, i) => {
      if (!raw.trim()) return;
      let obj: Record<string, unknown>;
      try {
        obj = JSON.parse(raw) as Record<string, unknown>;
      } catch {
        return problems.push({ line: i + 1, message: 'not JSON' });
      }
      if (typeof obj['topic'] === 'string') {
        const t = parseSensorTopic(obj['topic']);
        if (!t || t.leaf !== 'reading') return problems.push({ line: i + 1, message: `not a reading topic: ${obj['topic']}` });
        return add(i + 1, t.sensorId, obj['payload']);
      }
      const { sensor, ...payload } = obj;
      if (typeof sensor !== 'string') return problems.push({ line: i + 1, message: 'no "sensor" (or "topic") field' });
      return add(i + 1, sensor, payload);
    });
    return { readings, problems };
  }
  // CSV by a real parser (RFC 4180: quoted fields, commas and newlines inside quotes, "" escapes);
  // a record that does not parse is reported with its line and skipped.
  const records = parse(text, {
    columns: (header: string[]) => {
      const names = header.map((h) => h.trim());
      if (!names.includes('sensor') || !names.includes('ts')) throw new FloodgateError('CONFIG_INVALID', 'CSV needs a header with at least "sensor" and "ts" columns');
      return names;
    },
    skip_empty_lines: true,
    trim: true,
    relax_column_count: true,
    info: true,
    skip_records_with_error: true,
    on_skip: (err) => void (err && problems.push({ line: (err as { lines?: number }).lines ?? 0, message: err.message })),
  }) as Array<{ record: Record<string, string>; info: { lines: number } }>;
  for (const { record: row, info } of records) {
    const sensor = row['sensor'] ?? '';
    const kind = kindOf(sensor);
    const ts = row['ts'] ?? '';
    const payload: Record<string, unknown> = { ts: /^\d+$/.test(ts) ? Number(ts) : ts };
    for (const [h, v] of Object.entries(row)) {
      if (h === 'sensor' || h === 'ts' || v === '' || v === undefined) continue;
      payload[h === 'value' && kind ? MAIN_FIELD[kind].field : h] = Number(v);
    }
    if (kind === 'rain' && payload['interval_s'] === undefined) payload['interval_s'] = 60;
    add(info.lines, sensor, payload);
  }
  return { readings, problems };
}

