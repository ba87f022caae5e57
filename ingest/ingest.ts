/**
 * Ingest: readings from MQTT into the store, nothing lost. A persistent session (clean=false,
 * QoS 1) keeps readings queued in the broker while ingest is away, and a reading is PUBACKed only
 * after the store accepted it (see ackAfter).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { checkTimestamp, parseReadingPayload, parseSensorTopic, topics, type ItemError, type RejectMessage } from '../contracts/index.ts';
import { indexRegistry, type Registry } from '../config/registry.ts';
import { ackAfter, connectService, endClient, startClient, type MqttClient } from '../lib/mqtt.ts';
import { backoffDelay } from '../lib/backoff.ts';
import { counter, type Registry as Metrics } from '../lib/metrics.ts';
import type { Logger } from '../lib/logger.ts';
import type { Clock } from '../lib/clock.ts';
import { isoWithOffset } from '../lib/time.ts';
import { tagsFor } from './line-protocol.ts';
import type { ReadingSink, StoredReading } from './sink.ts';
import { createInfluxSink } from './influx-sink.ts';
import { createEmbeddedSink } from './embedded-sink.ts';
import type { IngestConfig } from './config.ts';

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
  client: MqttClient;
  close(): Promise<void>;
}


export async function createIngest(config: IngestConfig, deps: IngestDeps): Promise<IngestHandle> {
  const log = deps.logger.child({ component: 'ingest' });
  const index = indexRegistry(deps.registry);
  const sink = deps.sink ?? (config.influx ? createInfluxSink(config.influx) : createEmbeddedSink(config.embeddedPath));
  const m = {
    readings: counter(deps.metrics, 'floodgate_ingest_readings_total', 'Readings received, by kind and result', ['kind', 'result']),
    writeErrors: counter(deps.metrics, 'floodgate_ingest_write_errors_total', 'Failed store writes (retried)', ['sink']),
    rejects: counter(deps.metrics, 'floodgate_ingest_reject_messages_total', 'Reject messages published, by code', ['code']),
  };
  let closing = false;

  const client = await connectService({
    url: config.mqttUrl,
    service: 'ingest',
    secret: deps.serviceSecret,
    clientId: config.clientId,
    clean: false,
    logger: log,
  });

  function publishReject(kind: string, sensorId: string, topic: string, code: string, reason: string, errors: ItemError[], accepted: number) {
    const msg: RejectMessage = {
      topic,
      code,
      reason,
      errors: errors.slice(0, 50),
      accepted,
      rejected: errors.length > 0 ? new Set(errors.map((e) => e.index)).size : 1,
      receivedAt: isoWithOffset(deps.clock.now()),
    };
    m.rejects.inc({ code });
    // Not awaited: waiting for the broker's PUBACK inside handleMessage would deadlock, as mqtt.js
    // processes this connection's incoming packets serially.
    client.publish(topics.reject(kind, sensorId), JSON.stringify(msg), { qos: 1 }, (err) => {
      if (err) log.warn({ err: err.message, sensorId }, 'could not publish reject message');
    });
  }

  async function store(batch: StoredReading[], sensorLog: Logger): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await sink.write(batch);
        return;
      } catch (err) {
        m.writeErrors.inc({ sink: sink.name });
        if (closing || attempt + 1 >= config.writeAttempts) throw err;
        const delay = backoffDelay(attempt, config.writeBackoff);
        sensorLog.warn({ err: (err as Error).message, attempt, retryInMs: delay }, 'store write failed; retrying');
        await sleep(delay);
      }
    }
  }

  ackAfter(
    client,
    async (topic, payload) => {
      const t = parseSensorTopic(topic);
      if (!t || t.leaf !== 'reading') return; // not ours: we subscribe to readings only
      const sensorLog = log.child({ sensorId: t.sensorId });
      const sensor = index.sensor(t.sensorId);
      if (!sensor || sensor.kind !== t.kind) {
        const code = sensor ? 'SENSOR_KIND_MISMATCH' : 'SENSOR_UNKNOWN';
        m.readings.inc({ kind: t.kind, result: 'rejected' });
        publishReject(t.kind, t.sensorId, topic, code, sensor ? `sensor ${t.sensorId} is a ${sensor.kind} sensor` : `sensor ${t.sensorId} is not in the registry`, [], 0);
        return;
      }
      const parsed = parseReadingPayload(t.kind, t.sensorId, payload);
      if (parsed.fatal) {
        m.readings.inc({ kind: t.kind, result: 'rejected' });
        sensorLog.info({ code: parsed.fatal.code, reason: parsed.fatal.message }, 'payload rejected');
        publishReject(t.kind, t.sensorId, topic, parsed.fatal.code, parsed.fatal.message, [], 0);
        return;
      }
      const now = deps.clock.now();
      const errors = [...parsed.errors];
      const good: StoredReading[] = [];
      parsed.readings.forEach((reading, i) => {
        const skew = checkTimestamp(reading.ts, now);
        if (skew) errors.push({ index: i, path: 'ts', message: skew });
        else good.push({ reading, tags: tagsFor(reading, index) });
      });
      if (good.length > 0) await store(good, sensorLog);
      m.readings.inc({ kind: t.kind, result: 'accepted' }, good.length);
      if (errors.length > 0) {
        const rejected = new Set(errors.map((e) => e.index)).size;
        m.readings.inc({ kind: t.kind, result: 'rejected' }, rejected);
        sensorLog.info({ rejected, accepted: good.length, first: errors[0] }, 'readings rejected');
        publishReject(t.kind, t.sensorId, topic, 'PAYLOAD_INVALID', `${rejected} reading(s) invalid; ${good.length} stored`, errors, good.length);
      }
    },
    log,
  );

  await startClient(client);
  // The subscription lives in the persistent session; mqtt.js renews it (resubscribe) after a
  // reconnect that finds no session.
  await client.subscribeAsync(topics.allReadings, { qos: 1 });
  log.info({ sink: sink.name, clientId: config.clientId }, 'ingest running');

  return {
    sink,
    client,
    async close() {
      closing = true;
      await endClient(client);
      await sink.close();
      log.info('ingest closed');
    },
  };
}
