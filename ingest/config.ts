import { z } from 'zod';
import { join } from 'node:path';
import { parseConfig, optionalString } from '../lib/env.ts';
import { SharedEnv, sharedFromEnv, type SharedConfig } from '../lib/shared-config.ts';
import type { InfluxConfig } from './influx-sink.ts';
import type { BackoffPolicy } from '../lib/backoff.ts';

const INFLUX_VARS = ['INFLUX_URL', 'INFLUX_TOKEN', 'INFLUX_ORG', 'INFLUX_BUCKET'] as const;

const IngestEnv = SharedEnv.extend({
  INFLUX_URL: optionalString.pipe(z.url({ error: 'INFLUX_URL must be an http(s) URL' }).optional()),
  INFLUX_TOKEN: optionalString,
  INFLUX_ORG: optionalString,
  INFLUX_BUCKET: optionalString,
  INFLUX_TIMEOUT_MS: z.coerce.number().int().min(100).max(300_000).default(10_000),
  FLOODGATE_INGEST_CLIENT_ID: z.string().min(1).max(64).default('floodgate-ingest'),
}).superRefine((e, ctx) => {
  // All four or none: half an InfluxDB configuration is a mistake, not a request for the embedded store.
  const set = INFLUX_VARS.filter((k) => e[k] !== undefined);
  if (set.length > 0 && set.length < INFLUX_VARS.length) {
    for (const k of INFLUX_VARS.filter((k) => e[k] === undefined)) {
      ctx.addIssue({ code: 'custom', path: [k], message: `required when ${set.join(', ')} ${set.length > 1 ? 'are' : 'is'} set` });
    }
  }
});

export interface IngestConfig {
  mqttUrl: string;
  clientId: string;
  /** InfluxDB when configured; otherwise the embedded store at embeddedPath. */
  influx: InfluxConfig | undefined;
  embeddedPath: string;
  /** Store write attempts per message before ingest drops the connection unacknowledged (the broker then redelivers). */
  writeAttempts: number;
  writeBackoff: BackoffPolicy;
}

export const DEFAULT_WRITE_RETRY = { writeAttempts: 8, writeBackoff: { baseMs: 250, maxMs: 10_000, minMs: 50 } } as const;

export function ingestConfigFromEnv(env: Record<string, string | undefined>): { ingest: IngestConfig; shared: SharedConfig } {
  const e = parseConfig(IngestEnv, env, 'ingest');
  const shared = sharedFromEnv(e);
  const influx =
    e.INFLUX_URL && e.INFLUX_TOKEN && e.INFLUX_ORG && e.INFLUX_BUCKET
      ? { url: e.INFLUX_URL, token: e.INFLUX_TOKEN, org: e.INFLUX_ORG, bucket: e.INFLUX_BUCKET, timeoutMs: e.INFLUX_TIMEOUT_MS }
      : undefined;
  return {
    ingest: {
      mqttUrl: shared.mqttUrl,
      clientId: e.FLOODGATE_INGEST_CLIENT_ID,
      influx,
      embeddedPath: join(shared.dataDir, 'readings.db'),
      ...DEFAULT_WRITE_RETRY,
    },
    shared,
  };
}
