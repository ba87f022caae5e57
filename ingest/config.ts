import { z } from 'zod';
import { join } from 'node:path';
import { flagFromEnv, parseConfig } from '../lib/env.ts';
import { SharedEnv, sharedFromEnv, type SharedConfig } from '../config/shared-config.ts';
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
  FLOODGATE_METRICS_PORT: z.preprocess((v) => (v === '' ? undefined : v), z.coerce.number().int().min(0).max(65535).optional()),
}).superRefine(allOrNoInflux);

export interface IngestConfig {
  mqttUrl: string;
  clientId: string;
  /** InfluxDB when configured; otherwise the embedded store at embeddedPath. */
  influx: InfluxConfig | undefined;
  embeddedPath: string;
  /** The local spool: readings are durable here before they are acknowledged. */
  spoolPath: string;
  spoolMaxBytes: number;
  spoolSync: 'normal' | 'full';
  /** Readings per store write. */
  batchSize: number;
  /** Backoff between store write retries (full jitter). */
  writeBackoff: BackoffPolicy;
  /** How long admitted (sensor, ts) keys are remembered to drop duplicates. */
  dedupeWindowMs: number;
  /** Same sensor + seq + values within this distance of ts = a re-stamped duplicate (0 = off). */
  seqToleranceMs: number;
  /** Dead letters older than this are pruned (and beyond the newest 100,000). */
  rejectsRetentionMs: number;
  /** Readings older than this are rejected (store-and-forward may be days late, not months). */
  maxReadingAgeMs: number;
  /** Commit and PUBACK groups of messages (one transaction per ≤500); false = one per message. */
  groupCommit: boolean;
  /**
   * How long a group waits for more messages before it commits. A spool transaction has a fixed
   * cost of ~0.4 ms (its pages written to the WAL): at 20,000 readings/s a 2 ms wait made groups of
   * ~40 and that cost 12 µs per reading; 20 ms makes groups of up to 500 (3 µs). The PUBACK waits
   * as long; the reading is already on its way to the rules (they subscribe on their own).
   */
  commitDelayMs: number;
}

export const DEFAULT_WRITE_BACKOFF: BackoffPolicy = { baseMs: 250, maxMs: 30_000, minMs: 50 };

export function ingestConfigFromEnv(env: Record<string, string | undefined>): { ingest: IngestConfig; shared: SharedConfig; metricsPort: number | undefined } {
  const e = parseConfig(IngestEnv, env, 'ingest');
  const shared = sharedFromEnv(e);
  const conn = influxFromEnv(e);
  const influx = conn ? { ...conn, gzip: e.INFLUX_GZIP } : undefined;
  return {
    ingest: {
      mqttUrl: shared.mqttUrl,
      clientId: e.FLOODGATE_INGEST_CLIENT_ID,
      influx,
      embeddedPath: join(shared.dataDir, 'readings.db'),
      spoolPath: join(shared.dataDir, 'ingest-spool.db'),
      spoolMaxBytes: e.FLOODGATE_SPOOL_MAX_BYTES,
      spoolSync: e.FLOODGATE_SPOOL_SYNC,
      batchSize: e.FLOODGATE_INGEST_BATCH,
      writeBackoff: DEFAULT_WRITE_BACKOFF,
      dedupeWindowMs: e.FLOODGATE_DEDUPE_WINDOW_S * 1000,
      seqToleranceMs: e.FLOODGATE_DEDUPE_SEQ_TOLERANCE_S * 1000,
      rejectsRetentionMs: e.FLOODGATE_REJECTS_RETENTION_S * 1000,
      maxReadingAgeMs: e.FLOODGATE_MAX_READING_AGE_S * 1000,
      groupCommit: e.FLOODGATE_INGEST_GROUP_COMMIT,
      commitDelayMs: e.FLOODGATE_INGEST_COMMIT_MS,
    },
    shared,
    metricsPort: e.FLOODGATE_METRICS_PORT,
  };
}

/** A full configuration with defaults under `dir`, for tests and embedding. */
export function ingestConfig(dir: string, overrides: Partial<IngestConfig> = {}): IngestConfig {
  return {
    mqttUrl: 'mqtt://127.0.0.1:1883',
    clientId: 'floodgate-ingest',
    influx: undefined,
    embeddedPath: join(dir, 'readings.db'),
    spoolPath: join(dir, 'ingest-spool.db'),
    spoolMaxBytes: 1024 ** 3,
    spoolSync: 'normal',
    batchSize: 5000,
    writeBackoff: { baseMs: 20, maxMs: 200, minMs: 10 },
    dedupeWindowMs: 86_400_000,
    seqToleranceMs: 600_000,
    rejectsRetentionMs: 7 * 86_400_000,
    maxReadingAgeMs: 30 * 86_400_000,
    groupCommit: true,
    commitDelayMs: 20,
    ...overrides,
  };
}
