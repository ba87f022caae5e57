/**
 * Ingest: readings from MQTT into the store, nothing lost, never the bottleneck.
 *
 * A persistent session (clean=false, QoS 1) keeps readings queued in the broker while ingest is
 * away. Each message is validated and admitted to the local spool in one SQLite transaction, and
 * only then PUBACKed (ackAfter). The drain moves spooled readings to InfluxDB (or the embedded
 * store) in batches and removes them after the store accepted them. A full spool stops the
 * PUBACKs (the broker holds the rest); an alarm is published long before.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { SpoolAlarm, topics, type ItemError } from '../contracts/index.ts';
import { indexRegistry, type Registry } from '../config/registry.ts';
import { ackAfter, connectService, endClient, groupCommitAcks, startClient, type MqttClient } from '../lib/mqtt.ts';
import { counter, gauge, type Registry as Metrics } from '../lib/metrics.ts';
import type { Logger } from '../lib/logger.ts';
import type { Clock } from '../lib/clock.ts';
import { isoWithOffset } from '../lib/time.ts';
import type { ReadingSink, StoredReading } from './sink.ts';
import { createInfluxSink } from './influx-sink.ts';
import { createEmbeddedSink } from './embedded-sink.ts';
import { openSpool, type Spool } from './spool.ts';
import { createDrain, type Drain } from './drain.ts';
import { spoolLevel, type SpoolLevel } from './write-outcome.ts';
import type { IngestConfig } from './config.ts';
import type { ErrorCode } from '../lib/errors.ts';
import { deadLetters, refusedCount, rejectMessage, type Refusal, type RejectInput } from './rejects.ts';
import { admit } from './admission.ts';

export interface IngestDeps {
  logger: Logger;
  metrics: Metrics;
  registry: Registry;
  serviceSecret: string;
  clock: Clock;
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
    spoolRows: gauge(deps.metrics, 'floodgate_ingest_spool_rows', 'Readings in the spool, not yet in the store'),
    spoolBytes: gauge(deps.metrics, 'floodgate_ingest_spool_bytes', 'Bytes of the readings waiting in the spool (bounded by FLOODGATE_SPOOL_MAX_BYTES)'),
    spoolFileBytes: gauge(deps.metrics, 'floodgate_ingest_spool_file_bytes', 'Spool database and WAL on disk (also dedupe keys, dead letters, free pages)'),
    spoolAge: gauge(deps.metrics, 'floodgate_ingest_spool_oldest_age_seconds', 'Age of the oldest reading in the spool'),
    spoolFullWaits: counter(deps.metrics, 'floodgate_ingest_spool_full_waits_total', 'Times admission waited because the spool was full'),
  };
  let closing = false;
  let level: SpoolLevel | undefined;

  const client = await connectService({ url: config.mqttUrl, service: 'ingest', secret: deps.serviceSecret, clientId: config.clientId, clean: false, logger: log });
  const drain = createDrain({ spool, sink, logger: log, metrics: deps.metrics, clock: deps.clock, batchSize: config.batchSize, backoff: config.writeBackoff, idleMs: 200 });

  /** Publish the spool state (retained) whenever its level changes: operators see trouble coming. */
  function checkSpool() {
    const s = spool.stats(deps.clock.now());
    m.spoolRows.set(s.rows);
    m.spoolBytes.set(s.bytes);
    m.spoolFileBytes.set(s.fileBytes);
    m.spoolAge.set(s.oldestAgeMs / 1000);
    const now = spoolLevel(s.bytes, config.spoolMaxBytes);
    if (now !== level) {
      level = now;
      // Parsed on the way out: the alerts service raises a duty-officer alert from it.
      const msg = SpoolAlarm.parse({ level: now, rows: s.rows, bytes: s.bytes, maxBytes: config.spoolMaxBytes, oldestAgeS: Math.max(0, Math.round(s.oldestAgeMs / 1000)), at: isoWithOffset(deps.clock.now()) });
      (now === 'ok' ? log.info.bind(log) : log.warn.bind(log))(msg, `spool ${now}`);
      client.publish(topics.ingestSpool, JSON.stringify(msg), { qos: 1, retain: true }, (err) => {
        if (err) log.warn({ err: err.message }, 'could not publish the spool alarm');
      });
    }
    return now;
  }
  let ticks = 0;
  const spoolTimer = setInterval(() => {
    try {
      checkSpool();
      if (++ticks % 60 === 0) {
        spool.pruneSeen(deps.clock.now());
        spool.pruneRejects(deps.clock.now(), config.rejectsRetentionMs, 100_000);
      }
    } catch (err) {
      log.error({ err }, 'spool check failed');
    }
  }, 1000);

  interface Accepted {
    kind: string;
    good: StoredReading[];
    rejects: RejectInput[];
  }

  /** Tell the sender why (floodgate/rejects/...), count, and describe the dead letters to keep. */
  function reject(kind: string, sensorId: string, topic: string, code: ErrorCode, reason: string, errors: ItemError[], accepted: number, payload: Buffer): RejectInput[] {
    const refusal: Refusal = { topic, sensorId, kind, code, reason, errors, accepted, payload };
    const rejected = refusedCount(refusal);
    m.rejects.inc({ code });
    m.rejected.inc({ code }, rejected);
    m.readings.inc({ kind, result: 'rejected' }, rejected);
    // Not awaited: waiting for the broker's PUBACK inside message handling would stall this
    // connection, whose incoming packets mqtt.js processes serially.
    client.publish(topics.reject(kind, sensorId), JSON.stringify(rejectMessage(refusal, isoWithOffset(deps.clock.now()))), { qos: 1 }, (err) => {
      if (err) log.warn({ err: err.message, sensorId }, 'could not publish reject message');
    });
    return deadLetters(refusal);
  }

  /** Validate one message (admission.ts decides; here the counters, the log and the reject publish). */
  function accept(topic: string, payload: Buffer): Accepted | null {
    const a = admit(topic, payload, index, deps.clock.now(), config.maxReadingAgeMs);
    if (!a) return null; // not ours: we subscribe to readings only
    if ('refused' in a) {
      if (a.refused.code !== 'SENSOR_UNKNOWN' && a.refused.code !== 'SENSOR_KIND_MISMATCH') log.info({ sensorId: a.sensorId, code: a.refused.code, reason: a.refused.reason }, 'payload rejected');
      return { kind: a.kind, good: [], rejects: reject(a.kind, a.sensorId, topic, a.refused.code, a.refused.reason, [], 0, payload) };
    }
    let rejects: RejectInput[] = [];
    if (a.errors.length > 0) {
      const n = new Set(a.errors.map((e) => e.index)).size;
      log.info({ sensorId: a.sensorId, rejected: n, accepted: a.good.length, first: a.errors[0] }, 'readings rejected');
      rejects = reject(a.kind, a.sensorId, topic, 'PAYLOAD_INVALID', `${n} reading(s) invalid; ${a.good.length} stored`, a.errors, a.good.length, payload);
    }
    return { kind: a.kind, good: a.good, rejects };
  }

  /** Checked per message, so the bound holds to within one commit group (the alarm runs once a second). */
  const spoolFull = () => spoolLevel(spool.heldBytes(), config.spoolMaxBytes) === 'full';

  async function whenSpoolHasRoom(): Promise<void> {
    // A full spool holds delivery: the broker keeps the message (and the ones behind it).
    while (!closing && checkSpool() === 'full') {
      m.spoolFullWaits.inc();
      await sleep(500);
    }
    if (closing) throw new Error('closing: not acknowledged, the broker will redeliver');
  }

  function commit(items: Array<Accepted | null>) {
    const good: StoredReading[] = [];
    const rejects: RejectInput[] = [];
    const perKind = new Map<string, number>();
    for (const it of items) {
      if (!it) continue;
      good.push(...it.good);
      rejects.push(...it.rejects);
    }
    const r = spool.commit(good, rejects, deps.clock.now());
    for (const g of good) perKind.set(g.reading.kind, (perKind.get(g.reading.kind) ?? 0) + 1);
    for (const [kind, n] of perKind) m.readings.inc({ kind, result: 'accepted' }, n);
    if (r.duplicates > 0) m.duplicates.inc(r.duplicates);
    if (r.accepted > 0) drain.wake();
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
        accept: (topic, payload) => (spoolFull() ? whenSpoolHasRoom().then(() => accept(topic, payload)) : accept(topic, payload)),
        commit,
      })
    : (ackAfter(
        client,
        async (topic, payload) => {
          if (spoolFull()) await whenSpoolHasRoom();
          commit([accept(topic, payload)]);
        },
        log,
      ),
      { flush: () => undefined });

  await startClient(client);
  // The subscription lives in the persistent session; mqtt.js renews it (resubscribe) after a
  // reconnect that finds no session.
  await client.subscribeAsync(topics.allReadings, { qos: 1 });
  checkSpool();
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
      clearInterval(spoolTimer);
      acks.flush();
      await endClient(client);
      await drain.close();
      await sink.close();
      spool.close();
      log.info('ingest closed');
    },
  };
}
