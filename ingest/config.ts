import { z } from 'zod';
import { join } from 'node:path';
import { flagFromEnv, frozen, optionalPortFromEnv, parseConfig } from '../lib/env.ts';
import { SharedEnv, sharedFromEnv } from '../config/shared-config.ts';
import { allOrNoInflux, InfluxEnvShape, influxFromEnv } from '../lib/influx-env.ts';
import type { InfluxConfig } from './influx-sink.ts';
import type { BackoffPolicy } from '../lib/backoff.ts';

const IngestEnv = SharedEnv.extend({
  ...InfluxEnvShape,
  INFLUX_GZIP: flagFromEnv(false),
  FLOODGATE_INGEST_CLIENT_ID: z.string().min(1).max(64).default('floodgate-ingest'),
  FLOODGATE_SPOOL_MAX_BYTES: z.coerce.number().int().min(1024 * 1024).default(1024 ** 3),
  FLOODGATE_SPOOL_SYNC: z.enum(['normal', 'full']).default('normal'),
  FLOODGATE_INGEST_BATCH: z.coerce.number().int().min(1).max(100_000).default(5000),
  FLOODGATE_DEDUPE_WINDOW_S: z.coerce.number().int().min(60).max(30 * 86_400).default(86_400),
  FLOODGATE_DEDUPE_SEQ_TOLERANCE_S: z.coerce.number().int().min(0).max(86_400).default(600),
  FLOODGATE_INGEST_GROUP_COMMIT: flagFromEnv(true),
  FLOODGATE_INGEST_COMMIT_MS: z.coerce.number().int().min(1).max(1000).default(20),
  FLOODGATE_MAX_READING_AGE_S: z.coerce.number().int().min(3600).max(10 * 365 * 86_400).default(30 * 86_400),
  FLOODGATE_REJECTS_RETENTION_S: z.coerce.number().int().min(60).max(365 * 86_400).default(7 * 86_400),
  FLOODGATE_METRICS_PORT: optionalPortFromEnv(),
})
  .superRefine(allOrNoInflux)
  .transform((e) => {
    const shared = sharedFromEnv(e);
    const conn = influxFromEnv(e);
    const influx: InfluxConfig | undefined = conn ? { ...conn, gzip: e.INFLUX_GZIP } : undefined;
    return {
      shared,
      metricsPort: e.FLOODGATE_METRICS_PORT,
      ingest: {
        mqttUrl: shared.mqttUrl,
        /** The same on every instance: the one that wins the lease takes the persistent session over. */
        clientId: e.FLOODGATE_INGEST_CLIENT_ID,
        /** PostgreSQL for the `ingest` lease (two or more instances); none = one instance, always active. */
        databaseUrl: shared.databaseUrl,
        leaseTtlMs: shared.leaseTtlMs,
        instanceId: shared.instanceId,
        /** InfluxDB when configured; otherwise the embedded store at embeddedPath. */
        influx,
        embeddedPath: join(shared.dataDir, 'readings.db'),
        /** The local spool: readings are durable here before they are acknowledged. */
        spoolPath: join(shared.dataDir, 'ingest-spool.db'),
        spoolMaxBytes: e.FLOODGATE_SPOOL_MAX_BYTES,
        spoolSync: e.FLOODGATE_SPOOL_SYNC,
        /** Readings per store write. */
        batchSize: e.FLOODGATE_INGEST_BATCH,
        /** Backoff between store write retries (full jitter). */
        writeBackoff: DEFAULT_WRITE_BACKOFF as BackoffPolicy,
        /** How long admitted (sensor, ts) keys are remembered to drop duplicates. */
        dedupeWindowMs: e.FLOODGATE_DEDUPE_WINDOW_S * 1000,
        /** Same sensor + seq + values within this distance of ts = a re-stamped duplicate (0 = off). */
        seqToleranceMs: e.FLOODGATE_DEDUPE_SEQ_TOLERANCE_S * 1000,
        /** Dead letters older than this are pruned (and beyond the newest 100,000). */
        rejectsRetentionMs: e.FLOODGATE_REJECTS_RETENTION_S * 1000,
        /** Readings older than this are rejected (store-and-forward may be days late, not months). */
        maxReadingAgeMs: e.FLOODGATE_MAX_READING_AGE_S * 1000,
        /** Commit and PUBACK groups of messages (one transaction per ≤500); false = one per message. */
        groupCommit: e.FLOODGATE_INGEST_GROUP_COMMIT,
        /**
         * How long a group waits for more messages before it commits. A spool transaction has a
         * fixed cost of ~0.4 ms (its pages written to the WAL): at 20,000 readings/s a 2 ms wait made
         * groups of ~40 and that cost 12 µs per reading; 20 ms makes groups of up to 500 (3 µs). The
         * PUBACK waits as long; the reading is already on its way to the rules (they subscribe on
         * their own).
         */
        commitDelayMs: e.FLOODGATE_INGEST_COMMIT_MS,
      },
    };
  });

export type IngestConfig = z.output<typeof IngestEnv>['ingest'];

export const DEFAULT_WRITE_BACKOFF: BackoffPolicy = { baseMs: 250, maxMs: 30_000, minMs: 50 };

export function ingestConfigFromEnv(env: Record<string, string | undefined>): z.output<typeof IngestEnv> {
  return parseConfig(IngestEnv, env, 'ingest');
}

/** The defaults (those of the environment's schema) with the data under `dir`, for tests and embedding; store retries come fast. */
export function ingestConfig(dir: string, overrides: Partial<IngestConfig> = {}): IngestConfig {
  return frozen({ ...ingestConfigFromEnv({ FLOODGATE_DATA_DIR: dir }).ingest, writeBackoff: { baseMs: 20, maxMs: 200, minMs: 10 }, ...overrides });
}
