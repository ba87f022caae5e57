/**
 * The part of the alerts service that runs while this instance is the active one: the alert
 * events' persistent session (intake), the console's sensor-board feed, the outbox worker and the
 * schedules (paging, escalation). One instance: started once. With a database and a lease
 * (alerts.ts): started when the `alerts` lease is won, aborted at once when it is lost — its
 * connections end before they can reconnect and take the session back from the new leader
 * [MQTT-3.1.4-2]; a delivery already on its way finishes, and carries the old epoch, which a
 * police receiver that has seen the new one refuses.
 */
import { parseReadingPayload, parseSensorTopic, topics, type SensorTrust } from '../contracts/index.ts';
import { endClient, groupCommitAcks, type MqttClient } from '../lib/mqtt.ts';
import { guardedClients, type GuardedClients } from '../lib/guarded-clients.ts';
import type { Logger } from '../lib/logger.ts';
import type { TimerClock } from '../lib/clock.ts';
import type { SensorBoard } from './sensors.ts';
import type { Outbox } from './outbox.ts';
import type { createIntake} from './intake.ts';
import { type Incoming } from './intake.ts';
import { startSchedules, type SchedulesDeps } from './schedules.ts';

export interface ActiveAlerts {
  outbox: Outbox;
  /** The alert events' connection is up (the health check's `mqtt`). */
  mqttUp(): boolean;
  /** Send an officer's override to the rules (retained, QoS 1: resolves once the broker has it). */
  publishOverride(o: SensorTrust): Promise<void>;
  close(): Promise<void>;
  abort(): void;
}

export interface ActiveAlertsDeps {
  mqttUrl: string;
  clientId: string;
  serviceSecret: string;
  clock: TimerClock;
  log: Logger;
  board: SensorBoard;
  intake: ReturnType<typeof createIntake>;
  /** The outbox (created here: its worker runs only while active). */
  outbox(): Outbox;
  schedules: Omit<SchedulesDeps, 'wakeOutbox'>;
  /** May this instance act now? Checked on every (re)connect: false ends the connection at once. */
  mayRun(): boolean;
  signal?: AbortSignal;
}

/** The console's sensor board, fed by its own QoS 0 connection: a display, never a record, never queued behind the alert events. */
async function feedBoard(d: ActiveAlertsDeps, view: MqttClient, connected: GuardedClients['connected']): Promise<void> {
  view.on('message', (topic, payload) => {
    const t = parseSensorTopic(topic);
    if (!t || t.leaf !== 'reading') return;
    // Untrusted input: validated as ingest validates it; what is invalid is simply not shown.
    for (const r of parseReadingPayload(t.kind, t.sensorId, payload).readings) d.board.observe(r, d.clock.now());
  });
  await connected(view);
  await view.subscribeAsync(topics.allReadings, { qos: 0 });
}

/**
 * The alert events' connection (a persistent session): events are applied in groups, one
 * transaction each, and acknowledged after it [MQTT-4.3.2-2]. A group forms while the last one
 * commits, or within 2 ms.
 */
async function followEvents(d: ActiveAlertsDeps, client: MqttClient, outbox: Outbox, connected: GuardedClients['connected']): Promise<{ up: boolean }> {
  const state = { up: false };
  client.on('connect', () => (state.up = true));
  client.on('offline', () => (state.up = false));
  client.on('close', () => (state.up = false));
  groupCommitAcks<Incoming>(client, {
    maxBatch: 200,
    maxDelayMs: 2,
    logger: d.log,
    accept: d.intake.accept,
    async commit(items) {
      if (await d.intake.commit(items)) outbox.wake();
    },
  });
  await connected(client);
  await client.subscribeAsync([topics.allAlerts, topics.ingestSpool], { qos: 1 });
  return state;
}

export async function startActiveAlerts(d: ActiveAlertsDeps): Promise<ActiveAlerts> {
  const conns = guardedClients({ url: d.mqttUrl, service: 'alerts', secret: d.serviceSecret, logger: d.log, mayRun: d.mayRun });
  const outbox = d.outbox();
  let schedules: { stop(): void } | undefined;
  const abort = () => {
    schedules?.stop();
    conns.abort();
    void outbox.close(); // no new passes; a delivery on its way finishes
  };
  d.signal?.addEventListener('abort', abort, { once: true });
  try {
    const view = await conns.connect(`${d.clientId}-view`, true);
    await feedBoard(d, view, conns.connected);
    const events = await conns.connect(d.clientId, false);
    const state = await followEvents(d, events, outbox, conns.connected);
    schedules = startSchedules({ ...d.schedules, wakeOutbox: () => outbox.wake() });
    return {
      outbox,
      mqttUp: () => state.up,
      publishOverride: async (o) => {
        await events.publishAsync(topics.override(o.sensorId), JSON.stringify(o), { qos: 1, retain: true });
      },
      abort,
      async close() {
        schedules?.stop();
        await endClient(events);
        await endClient(view);
        await outbox.close();
      },
    };
  } catch (err) {
    abort();
    throw err;
  }
}
