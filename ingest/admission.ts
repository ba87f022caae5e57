/**
 * Which of a message's readings ingest admits (pure): the topic must name a known sensor of its
 * kind, the payload must be a valid reading or batch (contracts/readings.ts), and each reading's
 * timestamp must be plausible. Good readings of a batch are kept when others are refused.
 */
import { checkTimestamp, parseReadingPayload, parseSensorTopic, type ItemError, type SensorKind } from '../contracts/index.ts';
import type { RegistryIndex } from '../config/registry.ts';
import type { ErrorCode } from '../lib/errors.ts';
import { tagsFor } from './line-protocol.ts';
import type { StoredReading } from './rows.ts';

export type Admission =
  /** The whole message refused (unknown sensor, wrong kind, not a reading at all). */
  | { kind: SensorKind; sensorId: string; refused: { code: ErrorCode; reason: string } }
  /** Readings kept, and the problems of those refused (by index in the batch). */
  | { kind: SensorKind; sensorId: string; good: StoredReading[]; errors: ItemError[] };

/** null: not a reading topic (not ingest's). */
export function admit(topic: string, payload: Buffer, index: RegistryIndex, nowMs: number, maxReadingAgeMs: number): Admission | null {
  const t = parseSensorTopic(topic);
  if (!t || t.leaf !== 'reading') return null;
  const sensor = index.sensor(t.sensorId);
  if (!sensor) return { kind: t.kind, sensorId: t.sensorId, refused: { code: 'SENSOR_UNKNOWN', reason: `sensor ${t.sensorId} is not in the registry` } };
  if (sensor.kind !== t.kind) return { kind: t.kind, sensorId: t.sensorId, refused: { code: 'SENSOR_KIND_MISMATCH', reason: `sensor ${t.sensorId} is a ${sensor.kind} sensor` } };
  const parsed = parseReadingPayload(t.kind, t.sensorId, payload);
  if (parsed.fatal) return { kind: t.kind, sensorId: t.sensorId, refused: { code: parsed.fatal.code, reason: parsed.fatal.message } };
  const errors = [...parsed.errors];
  const good: StoredReading[] = [];
  // The parsed readings are the batch's valid items in order: the k-th is the k-th index with no
  // error. A time refused here is reported at that index, the sender's own (it used to be k).
  const invalid = parsed.errors.length > 0 ? new Set(parsed.errors.map((e) => e.index)) : undefined;
  let at = 0;
  for (const reading of parsed.readings) {
    while (invalid?.has(at)) at++;
    const skew = checkTimestamp(reading.ts, nowMs, maxReadingAgeMs);
    if (skew) errors.push({ index: at, path: 'ts', message: skew });
    else good.push({ reading, tags: tagsFor(reading, index) });
    at++;
  }
  if (invalid) errors.sort((a, b) => a.index - b.index);
  return { kind: t.kind, sensorId: t.sensorId, good, errors };
}
