/**
 * The part of ingest that takes readings from the broker: the persistent session, admission into
 * the local spool and the held PUBACKs. One instance: started once. With a lease (ingest/ingest.ts):
 * started only when this instance wins the `ingest` lease, so a standby never connects and never
 * fights the active one for the session; the winner takes the persistent session over (same client
 * id, clean=false [MQTT-3.1.2-4]) and receives what the broker queued meanwhile. Aborted at once
 * when the lease is lost: what was not committed is not acknowledged, and the broker redelivers it
 * to the new leader. The drain (spool → store) is not part of it: it runs on every instance, so a
 * spool left behind by an instance that died is stored once that instance is back.
 */
import { topics } from '../contracts/index.ts';
import { endClient, groupCommitAcks, ackAfter, type MqttClient } from '../lib/mqtt.ts';
import { guardedClients } from '../lib/guarded-clients.ts';
import type { Logger } from '../lib/logger.ts';
import type { TimerClock } from '../lib/clock.ts';
import type { SpoolWatch } from './spool-watch.ts';
import { createIntake, type Accepted, type IntakeDeps } from './intake.ts';
import type { IngestConfig } from './config.ts';

export interface ActiveIngest {
  client: MqttClient;
  /** A clean stop: what was accepted is committed and acknowledged, then the connection ends. */
  close(): Promise<void>;
  /** The lease was lost: stop now; the broker redelivers what was not acknowledged. */
  abort(): void;
}

export interface ActiveIngestDeps {
  config: Pick<IngestConfig, 'mqttUrl' | 'clientId' | 'groupCommit' | 'commitDelayMs' | 'maxReadingAgeMs'>;
  serviceSecret: string;
  clock: TimerClock;
  log: Logger;
  watch: SpoolWatch;
  intake: Omit<IntakeDeps, 'publish' | 'clock' | 'logger' | 'maxReadingAgeMs'>;
  /** May this instance act now? Checked on every (re)connect: false ends the connection at once. */
  mayRun(): boolean;
  signal?: AbortSignal;
}

export async function startActiveIngest(d: ActiveIngestDeps): Promise<ActiveIngest> {
  const { log, config } = d;
  let stopped = false;
  const conns = guardedClients({ url: config.mqttUrl, service: 'ingest', secret: d.serviceSecret, logger: log, mayRun: d.mayRun });
  const abort = () => {
    stopped = true;
    conns.abort();
  };
  d.signal?.addEventListener('abort', abort, { once: true });
  const client = await conns.connect(config.clientId, false);
  const { accept, commit } = createIntake({ ...d.intake, clock: d.clock, logger: log, maxReadingAgeMs: config.maxReadingAgeMs, publish: (t, p, o, cb) => client.publish(t, p, o, cb) });

  async function whenSpoolHasRoom(): Promise<void> {
    // A full spool holds delivery: the broker keeps the message (and the ones behind it).
    while (!stopped && d.watch.check() === 'full') {
      d.watch.waited();
      await new Promise<void>((resolve) => d.clock.setTimeout(resolve, 500));
    }
    if (stopped) throw new Error('closing: not acknowledged, the broker will redeliver');
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
        accept: (topic, payload) => (d.watch.full() ? whenSpoolHasRoom().then(() => accept(topic, payload)) : accept(topic, payload)),
        commit,
      })
    : (ackAfter(
        client,
        async (topic, payload) => {
          if (d.watch.full()) await whenSpoolHasRoom();
          commit([accept(topic, payload)]);
        },
        log,
      ),
      { flush: () => undefined });

  try {
    await conns.connected(client);
    // The subscription lives in the persistent session; mqtt.js renews it (resubscribe) after a
    // reconnect that finds no session.
    await client.subscribeAsync(topics.allReadings, { qos: 1 });
  } catch (err) {
    abort();
    throw err;
  }
  return {
    client,
    abort,
    async close() {
      stopped = true;
      acks.flush();
      await endClient(client);
    },
  };
}
