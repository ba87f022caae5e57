import { z } from 'zod';
import type { SensorKind } from './kinds.ts';

/** Sensor timestamps: ISO-8601 with an explicit offset (or Z), or epoch milliseconds. */
export const Timestamp = z
  .union([
    z.iso.datetime({ offset: true, error: 'ts must be ISO-8601 with an offset (e.g. 2026-04-12T18:03:00+08:00) or epoch ms' }),
    z.number().int().min(946_684_800_000, 'epoch ms ts is before 2000-01-01: is it in seconds?'),
  ])
  .transform((v) => (typeof v === 'number' ? v : Date.parse(v)));

/** Extra values a device measures beside its main one (an SL 651 station's other elements, a temperature): stored as fields `x_<name>`. */
export const MAX_EXTRA = 32;
const Extra = z
  .record(z.string().regex(/^[A-Za-z0-9_]{1,16}$/, 'extra value names are letters, digits and "_" (max 16)'), z.number().finite())
  .refine((o) => Object.keys(o).length <= MAX_EXTRA, `at most ${MAX_EXTRA} extra values`);

const common = {
  ts: Timestamp,
  seq: z.number().int().min(0).optional(),
  battery_v: z.number().min(0).max(60).optional(),
  extra: Extra.optional(),
};

/** Physical ranges: a value outside them is a broken sensor or a unit mistake, not a flood. */
export const WaterLevelReading = z.object({ ...common, level_m: z.number().min(-20).max(30) });
export const RainReading = z.object({
  ...common,
  rain_mm: z.number().min(0).max(500),
  interval_s: z.number().int().min(1).max(86_400),
  /** Stations with an anemometer: 10-minute mean wind and the strongest gust of the interval (m/s). */
  wind_ms: z.number().min(0).max(120).optional(),
  gust_ms: z.number().min(0).max(150).optional(),
});
export const PondingReading = z.object({ ...common, depth_cm: z.number().min(0).max(500) });

/** The field that carries each kind's measurement, and its unit (the rest is metadata). */
export const MAIN_FIELD = {
  ponding: { field: 'depth_cm', unit: 'cm' },
  'water-level': { field: 'level_m', unit: 'm' },
  rain: { field: 'rain_mm', unit: 'mm' },
} as const satisfies Record<SensorKind, { field: string; unit: string }>;

export const READING_SCHEMAS = {
  'water-level': WaterLevelReading,
  rain: RainReading,
  ponding: PondingReading,
} as const satisfies Record<SensorKind, z.ZodType>;

export type WaterLevelReading = z.infer<typeof WaterLevelReading>;
export type RainReading = z.infer<typeof RainReading>;
export type PondingReading = z.infer<typeof PondingReading>;

/** Store-and-forward after a link outage: devices may send an array (bounded). */
export const MAX_BATCH = 1000;

/** A reading after validation, the same shape for all kinds. */
export interface Reading {
  kind: SensorKind;
  sensorId: string;
  /** epoch ms, from the sensor */
  ts: number;
  seq: number | undefined;
  /** numeric fields as stored: depth_cm | level_m | rain_mm + interval_s, and battery_v */
  fields: Record<string, number>;
}

export interface ItemError {
  index: number;
  path: string;
  message: string;
}

export interface ParsedPayload {
  readings: Reading[];
  errors: ItemError[];
  /** Set when the payload as a whole could not be used (not JSON, not an object/array, too big). */
  fatal?: { code: 'PAYLOAD_NOT_JSON' | 'PAYLOAD_INVALID'; message: string };
}

/**
 * Parse a reading payload. Each element of an array is validated on its own, so one bad element
 * does not cost the good ones in the same batch.
 */
export function parseReadingPayload(kind: SensorKind, sensorId: string, raw: Buffer | string): ParsedPayload {
  let json: unknown;
  try {
    json = JSON.parse(typeof raw === 'string' ? raw : raw.toString('utf8'));
  } catch (err) {
    return { readings: [], errors: [], fatal: { code: 'PAYLOAD_NOT_JSON', message: `payload is not JSON: ${(err as Error).message}` } };
  }
  return parseReadingValue(kind, sensorId, json);
}

/** The same, for a payload already parsed from JSON (a recording's line: no second JSON round trip). */
export function parseReadingValue(kind: SensorKind, sensorId: string, json: unknown): ParsedPayload {
  const items = Array.isArray(json) ? json : [json];
  if (items.length === 0) return { readings: [], errors: [], fatal: { code: 'PAYLOAD_INVALID', message: 'empty array' } };
  if (items.length > MAX_BATCH) {
    return { readings: [], errors: [], fatal: { code: 'PAYLOAD_INVALID', message: `batch of ${items.length} readings exceeds ${MAX_BATCH}` } };
  }
  const schema = READING_SCHEMAS[kind];
  const rules = FAST_RULES[kind];
  const readings: Reading[] = [];
  const errors: ItemError[] = [];
  items.forEach((item, index) => {
    const fast = fastReading(rules, kind, sensorId, item);
    if (fast) return void readings.push(fast);
    const r = schema.safeParse(item);
    if (!r.success) {
      for (const issue of r.error.issues) errors.push({ index, path: issue.path.join('.'), message: issue.message });
      return;
    }
    const { ts, seq, extra, ...fields } = r.data as unknown as { ts: number; seq?: number; extra?: Record<string, number> } & Record<string, number | undefined>;
    const numeric: Record<string, number> = {};
    for (const [k, v] of Object.entries(fields)) if (typeof v === 'number') numeric[k] = v;
    for (const [k, v] of Object.entries(extra ?? {})) numeric[`x_${k}`] = v;
    readings.push({ kind, sensorId, ts, seq, fields: numeric });
  });
  return { readings, errors };
}

/**
 * The common case without zod: a plain object with an epoch-ms `ts` and only the schema's fields,
 * each a number within its bounds. Everything else (ISO timestamps, unknown keys, anything out of
 * range or of another type) goes to the zod schema, which decides and explains. The rules are read
 * off the zod schemas, so the two cannot drift apart; contracts.test.ts checks on random input that
 * whatever this accepts, zod accepts with the same output, key order included (the ingest spool
 * compares serialized fields). Every service parses every reading: this is 3–4× faster than zod.
 */
export interface FieldRule {
  key: string;
  optional: boolean;
  min: number;
  max: number;
  int: boolean;
}

/** epoch ms before 2000-01-01 is refused by `Timestamp` (seconds sent for ms). */
export const MIN_EPOCH_MS = 946_684_800_000;

export function fieldRules(schema: z.ZodObject): FieldRule[] | null {
  const rules: FieldRule[] = [];
  for (const [key, field] of Object.entries(schema.shape)) {
    // `extra` is zod's alone: a reading that has it is not the common case (fastReading's key count sends it there).
    if (key === 'ts' || key === 'extra') continue;
    const optional = field instanceof z.ZodOptional;
    const inner = optional ? (field as z.ZodOptional).unwrap() : field;
    if (!(inner instanceof z.ZodNumber) || inner.minValue === null || inner.maxValue === null) return null; // not a plain bounded number: zod only
    // minValue/maxValue do not say whether a bound is exclusive (`.positive()` reads as min 0):
    // the JSON Schema view does. Exclusive bounds stay with zod.
    const json = z.toJSONSchema(inner) as { exclusiveMinimum?: number; exclusiveMaximum?: number };
    if (json.exclusiveMinimum !== undefined || json.exclusiveMaximum !== undefined) return null;
    rules.push({ key, optional, min: inner.minValue, max: inner.maxValue, int: inner.isInt });
  }
  return rules;
}

export const FAST_RULES = Object.fromEntries(Object.entries(READING_SCHEMAS).map(([kind, schema]) => [kind, fieldRules(schema)])) as Record<SensorKind, FieldRule[] | null>;

/** `ignore`: a key of `item` that is not the reading's (a recording's `sensor`), neither read nor counted. */
export function fastReading(rules: FieldRule[] | null, kind: SensorKind, sensorId: string, item: unknown, ignore?: string): Reading | undefined {
  if (rules === null || typeof item !== 'object' || item === null || Array.isArray(item)) return undefined;
  const o = item as Record<string, unknown>;
  const ts = o['ts'];
  if (typeof ts !== 'number' || !Number.isSafeInteger(ts) || ts < MIN_EPOCH_MS) return undefined;
  let known = 1;
  let seq: number | undefined;
  const fields: Record<string, number> = {};
  for (const r of rules) {
    const v = o[r.key];
    if (v === undefined) {
      if (!r.optional || r.key in o) return undefined;
      continue;
    }
    if (typeof v !== 'number' || !Number.isFinite(v) || v < r.min || v > r.max || (r.int && !Number.isSafeInteger(v))) return undefined;
    known++;
    if (r.key === 'seq') seq = v;
    else fields[r.key] = v;
  }
  let keys = 0;
  for (const k in o) if (k !== ignore && Object.hasOwn(o, k)) keys++;
  if (keys !== known) return undefined; // unknown keys: zod strips them, and says nothing; let it
  return { kind, sensorId, ts, seq, fields };
}

/** Readings whose timestamp is too far in the future are refused: a clock fault, not data. */
export const MAX_FUTURE_SKEW_MS = 10 * 60_000;
/** Store-and-forward can deliver days late; beyond this a reading is a stale buffer or a reset clock. */
export const DEFAULT_MAX_AGE_MS = 30 * 86_400_000;

export function checkTimestamp(ts: number, nowMs: number, maxAgeMs = DEFAULT_MAX_AGE_MS): string | null {
  if (ts > nowMs + MAX_FUTURE_SKEW_MS) return `ts ${new Date(ts).toISOString()} is more than 10 min in the future (device clock?)`;
  if (ts < nowMs - maxAgeMs) return `ts ${new Date(ts).toISOString()} is more than ${Math.round(maxAgeMs / 86_400_000)} days old (stale buffer or reset clock?)`;
  return null;
}

/** What ingest publishes on floodgate/rejects/{kind}/{sensorId}, for the engineer who sent it. */
export const RejectMessage = z.object({
  topic: z.string(),
  code: z.string(),
  reason: z.string(),
  errors: z.array(z.object({ index: z.number(), path: z.string(), message: z.string() })),
  accepted: z.number().int(),
  rejected: z.number().int(),
  receivedAt: z.string(),
});
export type RejectMessage = z.infer<typeof RejectMessage>;
