/**
 * Ingest: readings from MQTT into the store, nothing lost, never the bottleneck.
 *
 * A persistent session (clean=false, QoS 1) keeps readings queued in the broker while ingest is
 * away. Each message is validated and admitted to the local spool in one SQLite transaction, and
 * only then PUBACKed (ackAfter). The drain moves spooled readings to InfluxDB (or the embedded
 * store) in batches and removes them after the store accepted them. A full spool stops the
 * PUBACKs (the broker holds the rest); an alarm is published long before.
 *
 * With FLOODGATE_DATABASE_URL any number of instances run, each with its own spool, and exactly
 * one takes readings from the broker: the holder of the `ingest` lease (./active.ts). Every
 * instance drains its own spool, standby or not, so readings an instance had spooled when it died
 * reach the store when it comes back. Such a reading may also have been redelivered to the new
 * leader (spooled, not yet PUBACKed): both write the same point (sensor, ts, values), which the
 * store keeps once (InfluxDB overwrites a point with the same series and time).
 */
import { indexRegistry, type Registry } from '../config/registry.ts';
import { counter, type Registry as Metrics } from '../lib/metrics.ts';
import type { Logger } from '../lib/logger.ts';
import type { TimerClock } from '../lib/clock.ts';
import { openOnPool } from '../lib/pg-pool.ts';
import { migrateLeases } from '../lib/pg-lease.ts';
import { runActivePart } from '../lib/leadership.ts';
import type { MqttClient } from '../lib/mqtt.ts';
import type { ReadingSink } from './sink.ts';
import { createInfluxSink } from './influx-sink.ts';
import { createEmbeddedSink } from './embedded-sink.ts';
import { openSpool, type Spool } from './spool.ts';
import { createDrain, type Drain } from './drain.ts';
import { watchSpool } from './spool-watch.ts';
import type { IngestConfig } from './config.ts';
import { startActiveIngest, type ActiveIngest } from './active.ts';

export interface IngestDeps {
  logger: Logger;
  metrics: Metrics;
  registry: Registry;
  serviceSecret: string;
  clock: TimerClock;
  /** Override the store (tests); default: InfluxDB if configured, else the embedded store. */
  sink?: ReadingSink;
}

export interface IngestHandle {
  sink: ReadingSink;
  spool: Spool;
  drain: Drain;
  /** The broker connection while this instance is the active one (always, without a database). */
  client(): MqttClient | undefined;
  /** Does it reach the database of its lease? (always, without one) */
  databaseUp(): boolean;
  /** The registry file changed: readings of new devices are stored from now on. */
  updateRegistry(next: Registry): void;
  close(): Promise<void>;
}

function ingestMetrics(metrics: Metrics) {
  return {
    readings: counter(metrics, 'floodgate_ingest_readings_total', 'Readings received, by kind and result', ['kind', 'result']),
    rejected: counter(metrics, 'floodgate_ingest_rejected_total', 'Readings rejected, by reason', ['code']),
    duplicates: counter(metrics, 'floodgate_ingest_duplicates_total', 'Readings dropped as duplicates (same sensor and ts, or same seq and values)'),
    rejects: counter(metrics, 'floodgate_ingest_reject_messages_total', 'Reject messages published, by code', ['code']),
  };
}

export async function createIngest(config: IngestConfig, deps: IngestDeps): Promise<IngestHandle> {
  const log = deps.logger.child({ component: 'ingest' });
  // Replaced as a whole when the registry file changes (updateRegistry): a device added while
  // running is stored at once, not refused as unknown until a restart.
  let index = indexRegistry(deps.registry);
  const shared = config.databaseUrl ? await openOnPool(config.databaseUrl, log, 2, migrateLeases) : undefined;
  const sink = deps.sink ?? (config.influx ? createInfluxSink(config.influx, deps.clock) : createEmbeddedSink(config.embeddedPath));
  const spool = openSpool(config.spoolPath, { sync: config.spoolSync, dedupeWindowMs: config.dedupeWindowMs, seqToleranceMs: config.seqToleranceMs });
  const m = ingestMetrics(deps.metrics);
  const drain = createDrain({ spool, sink, logger: log, metrics: deps.metrics, clock: deps.clock, batchSize: config.batchSize, backoff: config.writeBackoff, idleMs: 200 });
  let current: () => ActiveIngest | undefined = () => undefined;
  const watch = watchSpool({
    spool,
    clock: deps.clock,
    logger: log,
    metrics: deps.metrics,
    maxBytes: config.spoolMaxBytes,
    rejectsRetentionMs: config.rejectsRetentionMs,
    // The active instance's spool is the one that holds deliveries back: only it alarms.
    publish: (topic, payload) =>
      current()?.client.publish(topic, payload, { qos: 1, retain: true }, (err) => {
        if (err) log.warn({ err: err.message }, 'could not publish the spool alarm');
      }),
  });
  const stopStores = async () => {
    watch.stop();
    await drain.close();
    await sink.close();
    spool.close();
    await shared?.pool.end();
  };

  const leader = await runActivePart<ActiveIngest>({
    lease: shared && { pool: shared.pool, role: 'ingest', holder: config.instanceId, ttlMs: config.leaseTtlMs, clock: deps.clock, logger: log, metrics: deps.metrics },
    start: async (mayRun, signal) => {
      const a = await startActiveIngest({
        config,
        serviceSecret: deps.serviceSecret,
        clock: deps.clock,
        log,
        watch,
        intake: { spool, index: () => index, wake: () => drain.wake(), m },
        mayRun,
        ...(signal ? { signal } : {}),
      });
      watch.reset(); // the new leader states its spool's level
      log.info({ sink: sink.name, clientId: config.clientId, spool: config.spoolPath, spooled: spool.stats(deps.clock.now()).rows }, 'ingest running');
      return a;
    },
  }).catch(async (err: unknown) => {
    await stopStores();
    throw err;
  });
  current = () => leader.active();
  watch.check();
  if (shared) log.info({ spool: config.spoolPath, spooled: spool.stats(deps.clock.now()).rows }, 'ingest started: draining its spool, taking readings while it holds the ingest lease');

  let closed = false;
  return {
    sink,
    spool,
    drain,
    client: () => current()?.client,
    databaseUp: () => leader.databaseUp(),
    updateRegistry(next: Registry) {
      index = indexRegistry(next);
    },
    async close() {
      if (closed) return;
      closed = true;
      await leader.close();
      await stopStores();
      log.info('ingest closed');
    },
  };
}
