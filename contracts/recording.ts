/**
 * Recorded readings as files (what `floodgate backtest` scores and `floodgate sim replay` sends):
 * NDJSON — one reading per line, the device payload plus `sensor`, or `{topic, payload}` as
 * recorded from MQTT — or CSV with a header (`sensor,ts,` then field columns, or `value` for the
 * kind's main field). Every line is validated as a device payload; bad lines are reported with
 * their line number and skipped.
 */
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
  const lines = text.split(/\r?\n/);
  const add = (line: number, sensorId: string, payload: unknown) => {
    const kind = kindOf(sensorId);
    if (!kind) return problems.push({ line, message: `sensor ${sensorId} is not in the registry` });
    const r = parseReadingPayload(kind, sensorId, Buffer.from(JSON.stringify(payload)));
    if (r.fatal) return problems.push({ line, message: r.fatal.message });
    for (const e of r.errors) problems.push({ line, message: `${e.path ? e.path + ': ' : ''}${e.message}` });
    readings.push(...r.readings);
  };
  if (format === 'ndjson') {
    lines.forEach((raw, i) => {
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
  const header = (lines[0] ?? '').split(',').map((h) => h.trim());
  if (!header.includes('sensor') || !header.includes('ts')) throw new FloodgateError('CONFIG_INVALID', 'CSV needs a header with at least "sensor" and "ts" columns');
  lines.slice(1).forEach((raw, i) => {
    if (!raw.trim()) return;
    const cells = raw.split(',').map((c) => c.trim());
    const row = Object.fromEntries(header.map((h, k) => [h, cells[k] ?? '']));
    const sensor = row['sensor']!;
    const kind = kindOf(sensor);
    const payload: Record<string, unknown> = { ts: /^\d+$/.test(row['ts']!) ? Number(row['ts']) : row['ts'] };
    for (const [h, v] of Object.entries(row)) {
      if (h === 'sensor' || h === 'ts' || v === '') continue;
      payload[h === 'value' && kind ? MAIN_FIELD[kind].field : h] = Number(v);
    }
    if (kind === 'rain' && payload['interval_s'] === undefined) payload['interval_s'] = 60;
    add(i + 2, sensor, payload);
  });
  return { readings, problems };
}

