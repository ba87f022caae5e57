/**
 * Alerts service: follows alert events from MQTT into a durable store, queues signed close/reopen
 * notices for the traffic police in the same transaction, delivers them from the outbox, and
 * serves the duty officers' API.
 */
import type { FastifyInstance } from 'fastify';
import { readFileSync } from 'node:fs';
import { watchAndReload } from '../config/watch-registry.ts';
import { authenticate, loadUsers } from './users.ts';
import type { AddressInfo } from 'node:net';
import { parseReadingPayload, parseSensorTopic, topics, type AlertEvent } from '../contracts/index.ts';
import { createSensorBoard, type SensorBoard } from './sensors.ts';
import { indexRegistry, type Registry } from '../config/registry.ts';
import { connectService, endClient, groupCommitAcks, startClient } from '../lib/mqtt.ts';
import { counter, type Registry as Metrics } from '../lib/metrics.ts';
import type { Logger } from '../lib/logger.ts';
import type { TimerClock } from '../lib/clock.ts';
import { isoWithOffset } from '../lib/time.ts';
import { DEFAULT_BACKOFF, type BackoffPolicy } from '../lib/backoff.ts';
import type { AlertStore, AlertTx, NewNotice } from './store.ts';
import { openAlertStore } from './sqlite-store.ts';
import { openPgAlertStore } from './pg-store.ts';
import { createPool } from '../lib/pg-pool.ts';
import { decideOnEvent, silenceFor } from './transitions.ts';
import { createOutbox, type Outbox } from './outbox.ts';
import { createHttpNotifier, type Notifier } from './police-notifier.ts';
import { dutyMessages, placeOf, policeNotices, type DutyState, type Place } from './addressing.ts';
import { createIntake, type Incoming } from './intake.ts';
import { startSchedules } from './schedules.ts';
import { buildAlertsApp } from './http.ts';
import { createLive } from './live.ts';
import { cityView } from './city.ts';
import { alertMetrics } from './metrics.ts';
import { defaultChartRules, embeddedReadings, influxReadings, readingsOf, type ChartRules } from './readings.ts';
import type { AlertsConfig } from './config.ts';

export interface AlertsDeps {
  logger: Logger;
  metrics: Metrics;
  registry: Registry;
  serviceSecret: string;
  clock: TimerClock;
  notifier?: Notifier;
  backoff?: BackoffPolicy;
  /** Authenticated routes of other services in the same process (floodgate up: /api/rejects). */
  extraRoutes?: Array<(app: FastifyInstance) => Promise<void>>;
  /** A site's rules in force, for the lines on its charts (up: the rules service's; alone: the rules file's). Default: the rules' defaults. */
  siteRules?: (siteId: string) => ChartRules | undefined;
  /** The leadership epoch carried by every police notice (issue 21's lease); default 0: one instance, no lease. */
  epoch?: () => number;
}

export interface AlertsHandle {
  app: FastifyInstance;
  port: number;
  store: AlertStore;
  outbox: Outbox;
  /**
   * The registry file changed: notices for underpasses added since are addressed, the sensor board
   * shows new sensors (and keeps what it knows of the others), duty channels follow. `policeSecrets`
   * (secretRef → secret) replaces the secrets when given: a new district's variable is read by the
   * caller, which owns the environment.
   */
  updateRegistry(next: Registry, policeSecrets?: Record<string, string>): void;
  close(): Promise<void>;
}

/** The registry as it is now (replaced as a whole when the file changes) and who is addressed by it. */
interface Addressing {
  place(subjectId: string): Place;
  /** The silence covering an alert now, if any (silenced alerts page nobody and never escalate). */
  silenced(db: AlertTx, a: Pick<AlertEvent, 'ruleId' | 'subjectId' | 'sensorId'>, place?: Place): Promise<boolean>;
  /** The police notices of a transition (none, logged, when the registry cannot address them), numbered in `db`'s transaction. */
  police(db: AlertTx, event: AlertEvent, action: 'close' | 'reopen' | null): Promise<NewNotice[]>;
  /** Duty-channel messages (none for a silenced alert). Inside a transaction `db` is its operations: the store itself would wait for it to end. */
  duty(db: AlertTx, event: AlertEvent, state: DutyState, place?: Place): Promise<NewNotice[]>;
}

function addressing(config: AlertsConfig, deps: AlertsDeps, store: AlertStore, log: Logger, current: () => { registry: Registry; index: ReturnType<typeof indexRegistry> }): Addressing {
  const place = (subjectId: string) => placeOf(current().index, subjectId);
  const silenced = async (db: AlertTx, a: Pick<AlertEvent, 'ruleId' | 'subjectId' | 'sensorId'>, p = place(a.subjectId)) => {
    const now = deps.clock.now();
    return silenceFor({ ...a, site: p.site ?? null, district: p.district ?? null }, await db.activeSilences(now), now) !== undefined;
  };
  return {
    place,
    silenced,
    async police(db, event, action) {
      if (!action) return [];
      const { registry, index } = current();
      const site = index.site(event.subjectId);
      // What the pure addressing needs from the store, read in the caller's transaction first.
      const sequence = site ? await db.nextNoticeSequence(site.id) : 0;
      const sent = action === 'reopen' ? await db.noticesOfAlert(event.alertId) : [];
      const ctx = { index, capSender: config.capSender, city: registry.city, issuedAt: isoWithOffset(deps.clock.now()), closeSentTo: (id: string, r: string) => sent.find((n) => n.noticeId === id && n.recipient === r), nextSequence: () => sequence, epoch: deps.epoch?.() ?? 0 };
      const notices = policeNotices(event, action, ctx);
      if (notices === null) log.error({ alertId: event.alertId, underpassId: event.subjectId }, 'no underpass/district in the registry: cannot address a notice');
      return notices ?? [];
    },
    async duty(db, event, state, p = place(event.subjectId)) {
      const channels = current().registry.dutyChannels ?? [];
      if (channels.length === 0 || (await silenced(db, event, p))) return [];
      return dutyMessages(event, state, p, channels);
    },
  };
}

/** The console's sensor board, fed by its own QoS 0 connection: a display, never a record, never queued behind the alert events. */
async function feedBoard(config: AlertsConfig, deps: AlertsDeps, board: SensorBoard, log: Logger) {
  const view = await connectService({ url: config.mqttUrl, service: 'alerts', secret: deps.serviceSecret, clientId: `${config.clientId}-view`, clean: true, logger: log });
  view.on('message', (topic, payload) => {
    const t = parseSensorTopic(topic);
    if (!t || t.leaf !== 'reading') return;
    // Untrusted input: validated as ingest validates it; what is invalid is simply not shown.
    for (const r of parseReadingPayload(t.kind, t.sensorId, payload).readings) board.observe(r, deps.clock.now());
  });
  await startClient(view);
  await view.subscribeAsync(topics.allReadings, { qos: 0 });
  return view;
}

/**
 * The alert events' connection (a persistent session): events are applied in groups, one
 * transaction each, and acknowledged after it [MQTT-4.3.2-2]. A group forms while the last one
 * commits, or within 2 ms.
 */
async function followEvents(config: AlertsConfig, deps: AlertsDeps, intake: ReturnType<typeof createIntake>, outbox: Outbox, log: Logger) {
  const client = await connectService({ url: config.mqttUrl, service: 'alerts', secret: deps.serviceSecret, clientId: config.clientId, clean: false, logger: log });
  const state = { up: false };
  client.on('connect', () => (state.up = true));
  client.on('offline', () => (state.up = false));
  client.on('close', () => (state.up = false));
  groupCommitAcks<Incoming>(client, {
    maxBatch: 200,
    maxDelayMs: 2,
    logger: log,
    accept: intake.accept,
    async commit(items) {
      if (await intake.commit(items)) outbox.wake();
    },
  });
  await startClient(client);
  await client.subscribeAsync([topics.allAlerts, topics.ingestSpool], { qos: 1 });
  return { client, state };
}

/** Embedded SQLite by default; PostgreSQL when a database is configured (its pool closes with the store). */
async function openStore(config: AlertsConfig, log: Logger): Promise<AlertStore> {
  if (!config.databaseUrl) return openAlertStore(config.dbPath);
  const pool = createPool(config.databaseUrl, log, { max: 8 });
  try {
    const store = await openPgAlertStore(pool);
    log.info('alerts store in PostgreSQL');
    return { ...store, close: () => store.close().then(() => pool.end()) };
  } catch (err) {
    await pool.end();
    throw err;
  }
}

export async function createAlerts(config: AlertsConfig, deps: AlertsDeps): Promise<AlertsHandle> {
  const log = deps.logger.child({ component: 'alerts' });
  // Replaced as a whole when the registry file changes (updateRegistry), as in ingest and rules:
  // a closure the rules raise for an underpass added while running must reach its police.
  let current = { registry: deps.registry, index: indexRegistry(deps.registry) };
  let policeSecrets = config.policeSecrets;
  const store = await openStore(config, log);
  const readings = config.readings.kind === 'influxdb' ? influxReadings(config.readings) : embeddedReadings(config.readings.path);
  // District outlines for the map: the city's own file, or the demo city's schematic ones.
  const districtsGeoJson = readFileSync(config.districtsGeoJsonPath, 'utf8');
  const m = {
    events: counter(deps.metrics, 'floodgate_alerts_events_total', 'Alert events received, by outcome', ['outcome']),
    ...alertMetrics(deps.metrics, store, deps.clock),
  };
  const to = addressing(config, deps, store, log, () => current);
  const board = createSensorBoard(current.registry);
  /** Alerts or notices changed: the console's live stream follows (live.ts). */
  const live = createLive({ store, clock: deps.clock, logger: log, metrics: deps.metrics, levels: (ids) => board.levels(ids), coalesceMs: config.consoleCoalesceMs });
  /** An alert changed: its record, its notices and any silence it ended go to the consoles with the next batch. */
  const alertChanged = (alertId: string) => live.hint({ alerts: [alertId] });
  const outbox = createOutbox({
    onChange: (c) => live.hint(c),
    store,
    notifier: deps.notifier ?? createHttpNotifier({ timeoutMs: config.noticeTimeoutMs }),
    resolveTarget: (n) => {
      const url = n.url === '$FLOODGATE_POLICE_URL' ? config.policeUrl : n.url;
      const secret = n.format === 'wecom' ? '' : policeSecrets[n.secretRef]; // a WeCom robot's key is in its URL
      if (secret === undefined) return { error: `no secret configured for ${n.secretRef}` };
      return { url, secret, format: n.format };
    },
    maxAgeMs: config.noticeMaxAgeMs,
    // An escalation goes to the duty channels too — but never to the channel that failed.
    escalationNotices: async (event, failedRecipient) => (await to.duty(store, event, 'firing')).filter((n) => n.recipient !== failedRecipient),
    logger: log,
    metrics: deps.metrics,
    clock: deps.clock,
    backoff: deps.backoff ?? DEFAULT_BACKOFF,
    pollMs: config.outboxPollMs,
  });
  const intake = createIntake({ store, clock: deps.clock, logger: log, events: m.events, readingToAlert: m.readingToAlert, placeOf: to.place, policeNotices: to.police, dutyMessages: to.duty, alertChanged });
  const view = await feedBoard(config, deps, board, log);
  const events = await followEvents(config, deps, intake, outbox, log);

  // Users and roles (api-users.json, managed by `floodgate users`), reloaded when the file changes.
  let users = loadUsers(config.usersPath);
  const usersWatch = watchAndReload(config.usersPath, 'users', loadUsers, (u) => {
    users = u;
    log.info({ users: u.length }, 'API users reloaded');
  }, log);
  const app = await buildAlertsApp({
    logger: deps.logger,
    store,
    metrics: deps.metrics,
    clock: deps.clock,
    authenticate: (token) => authenticate(token, users, config.apiToken),
    live,
    resolveManually: async (alertId, by, reason) => {
      if (!(await resolveManually(store, to, deps.clock, alertId, by, reason))) return false;
      outbox.wake();
      alertChanged(alertId);
      return true;
    },
    city: () => cityView(current.registry),
    districtsGeoJson: () => districtsGeoJson,
    ...(config.mapTiles ? { mapTiles: config.mapTiles } : {}),
    sensors: (f) => board.list(f, deps.clock.now()),
    readings: (id, range, toMs) => {
      const s = current.index.sensor(id);
      const site = s && current.index.site(s.site);
      return readingsOf(readings, s && !s.loadTest ? s : undefined, (s && deps.siteRules?.(s.site)) ?? defaultChartRules(site), range, toMs);
    },
    health: () => ({ ok: events.state.up, checks: { mqtt: events.state.up, store: store.isOpen() } }),
    wakeOutbox: () => outbox.wake(),
    extraRoutes: deps.extraRoutes ?? [],
  });
  await app.listen({ host: config.host, port: config.port });
  const port = (app.server.address() as AddressInfo).port;
  log.info({ host: config.host, port }, 'alerts API listening');

  let closed = false;
  const schedules = startSchedules({ ...config, store, clock: deps.clock, logger: log, silenced: (a) => to.silenced(store, a), escalationMessages: (e) => to.duty(store, e, 'escalated'), wakeOutbox: () => outbox.wake(), alertChanged });
  return {
    app,
    port,
    store,
    outbox,
    updateRegistry(next, secrets) {
      current = { registry: next, index: indexRegistry(next) };
      if (secrets) policeSecrets = secrets;
      board.updateRegistry(next);
      log.info({ sites: next.sites.length, sensors: next.sensors.length, districts: next.districts.length }, 'registry reloaded');
    },
    async close() {
      if (closed) return; // idempotent: a second close (a test, a signal during shutdown) changes nothing
      closed = true;
      schedules.stop();
      live.close();
      await usersWatch.close();
      await app.close();
      await endClient(events.client);
      await endClient(view);
      await outbox.close();
      await store.close();
      readings.close();
      log.info('alerts closed');
    },
  };
}

/** An officer resolves by hand (a stuck sensor, a road inspected): the same notices as a rule's resolve. False: not firing. */
function resolveManually(store: AlertStore, to: Addressing, clock: TimerClock, alertId: string, by: string, reason: string): Promise<boolean> {
  return store.atomically(async (tx) => {
    const a = await tx.getAlert(alertId);
    if (!a || a.state !== 'firing') return false;
    const now = clock.now();
    const event = { ...a, state: 'resolved' as const, level: a.level ?? undefined, observedAt: isoWithOffset(now), changedAt: isoWithOffset(now), reason: `resolved by ${by}: ${reason}`, why: { key: 'manual.resolve', params: { by, text: reason.slice(0, 200) } } } as AlertEvent;
    const d = decideOnEvent(a, event);
    await tx.resolveAlert(event, isoWithOffset(now), [...(await to.police(tx, event, d.kind === 'resolve' ? d.notice : null)), ...(await to.duty(tx, event, 'resolved'))], now, by);
    return true;
  });
}
