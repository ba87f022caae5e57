/**
 * Ingest: readings from MQTT into the store, nothing lost, never the bottleneck.
 *
 * A persistent session (clean=false, QoS 1) keeps readings queued in the broker while ingest is
 * away. Each message is validated and admitted to the local spool in one SQLite transaction, and
 * only then PUBACKed (ackAfter). The drain moves spooled readings to InfluxDB (or the embedded
 * store) in batches and removes them after the store accepted them. A full spool stops the
 * PUBACKs (the broker holds the rest); an alarm is published long before.
 */
import { topics } from '../contracts/index.ts';
import { indexRegistry, type Registry } from '../config/registry.ts';
import { ackAfter, connectService, endClient, groupCommitAcks, startClient, type MqttClient } from '../lib/mqtt.ts';
import { counter, type Registry as Metrics } from '../lib/metrics.ts';
import type { Logger } from '../lib/logger.ts';
import type { TimerClock } from '../lib/clock.ts';
import type { ReadingSink } from './sink.ts';
import { createInfluxSink } from './influx-sink.ts';
import { createEmbeddedSink } from './embedded-sink.ts';
import { openSpool, type Spool } from './spool.ts';
import { createDrain, type Drain } from './drain.ts';
import { watchSpool } from './spool-watch.ts';
import type { IngestConfig } from './config.ts';
import { createIntake, type Accepted } from './intake.ts';

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
  client: MqttClient;
  /** The registry file changed: readings of new devices are stored from now on. */
  updateRegistry(next: Registry): void;
  close(): Promise<void>;
}

export async function createIngest(config: IngestConfig, deps: IngestDeps): Promise<IngestHandle> {
  const log = deps.logger.child({ component: 'ingest' });
  // Replaced as a whole when the registry file changes (updateRegistry): a device added while
  // running is stored at once, not refused as unknown until a restart.
  let index = indexRegistry(deps.registry);
  const sink = deps.sink ?? (config.influx ? createInfluxSink(config.influx, deps.clock) : createEmbeddedSink(config.embeddedPath));
  const spool = openSpool(config.spoolPath, { sync: config.spoolSync, dedupeWindowMs: config.dedupeWindowMs, seqToleranceMs: config.seqToleranceMs });
  const m = {
    readings: counter(deps.metrics, 'floodgate_ingest_readings_total', 'Readings received, by kind and result', ['kind', 'result']),
    rejected: counter(deps.metrics, 'floodgate_ingest_rejected_total', 'Readings rejected, by reason', ['code']),
    duplicates: counter(deps.metrics, 'floodgate_ingest_duplicates_total', 'Readings dropped as duplicates (same sensor and ts, or same seq and values)'),
    rejects: counter(deps.metrics, 'floodgate_ingest_reject_messages_total', 'Reject messages published, by code', ['code']),
  };
  let closing = false;

  const client = await connectService({ url: config.mqttUrl, service: 'ingest', secret: deps.serviceSecret, clientId: config.clientId, clean: false, logger: log });
  const drain = createDrain({ spool, sink, logger: log, metrics: deps.metrics, clock: deps.clock, batchSize: config.batchSize, backoff: config.writeBackoff, idleMs: 200 });
  const watch = watchSpool({
    spool,
    clock: deps.clock,
    logger: log,
    metrics: deps.metrics,
    maxBytes: config.spoolMaxBytes,
    rejectsRetentionMs: config.rejectsRetentionMs,
    publish: (topic, payload) =>
      client.publish(topic, payload, { qos: 1, retain: true }, (err) => {
        if (err) log.warn({ err: err.message }, 'could not publish the spool alarm');
      }),
  });

  const intake = createIntake({ spool, clock: deps.clock, logger: log, index: () => index, maxReadingAgeMs: config.maxReadingAgeMs, publish: (t, p, o, cb) => client.publish(t, p, o, cb), wake: () => drain.wake(), m });
  const { accept, commit } = intake;

  async function whenSpoolHasRoom(): Promise<void> {
    // A full spool holds delivery: the broker keeps the message (and the ones behind it).
    while (!closing && watch.check() === 'full') {
      watch.waited();
      await new Promise<void>((resolve) => deps.clock.setTimeout(resolve, 500));
    }
    if (closing) throw new Error('closing: not acknowledged, the broker will redeliver');
  }

  // Group commit (one transaction and one batch of held PUBACKs per ≤500 messages) is 2.5-4x faster
  // than a transaction per message. (A loss once seen in its SIGKILL fault test was the broker's:
  // packet ids of a resumed session, see gateway/packet-ids.ts.) FLOODGATE_INGEST_GROUP_COMMIT=0
  // commits each message before its own PUBACK.
  const acks = config.groupCommit
    ? groupCommitAcks<Accepted | null>(client, {
        maxBatch: 500,
        maxDelayMs: config.commitDelayMs,
        logger: log,
        accept: (topic, payload) => (watch.full() ? whenSpoolHasRoom().then(() => accept(topic, payload)) : accept(topic, payload)),
        commit,
      })
    : (ackAfter(
        client,
        async (topic, payload) => {
          if (watch.full()) await whenSpoolHasRoom();
          commit([accept(topic, payload)]);
        },
        log,
      ),
      { flush: () => undefined });

  await startClient(client);
  // The subscription lives in the persistent session; mqtt.js renews it (resubscribe) after a
  // reconnect that finds no session.
  await client.subscribeAsync(topics.allReadings, { qos: 1 });
  watch.check();
  log.info({ sink: sink.name, clientId: config.clientId, spool: config.spoolPath, spooled: spool.stats(deps.clock.now()).rows }, 'ingest running');

  return {
    sink,
    spool,
    drain,
    client,
    updateRegistry(next: Registry) {
      index = indexRegistry(next);
    },
    async close() {
      closing = true;
      watch.stop();
      acks.flush();
      await endClient(client);
      await drain.close();
      await sink.close();
      spool.close();
      log.info('ingest closed');
    },
  };
}
