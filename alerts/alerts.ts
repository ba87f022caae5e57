/**
 * Alerts service: follows alert events from MQTT into a durable store, queues signed close/reopen
 * notices for the traffic police in the same transaction, delivers them from the outbox, and
 * serves the duty officers' API.
 */
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { watchAndReload } from '../config/watch-registry.ts';
import { authenticate, loadUsers } from './users.ts';
import type { AlertEvent } from '../contracts/index.ts';
import { createSensorBoard } from './sensors.ts';
import { indexRegistry, type Registry } from '../config/registry.ts';
import { counter, type Registry as Metrics } from '../lib/metrics.ts';
import type { Logger } from '../lib/logger.ts';
import type { TimerClock } from '../lib/clock.ts';
import { isoWithOffset } from '../lib/time.ts';
import { DEFAULT_BACKOFF, type BackoffPolicy } from '../lib/backoff.ts';
import type { AlertStore } from './store.ts';
import { openAlertStore } from './sqlite-store.ts';
import { openPgAlertStore } from './pg-store.ts';
import { openOnPool } from '../lib/pg-pool.ts';
import { migrateLeases, type LeaseFence } from '../lib/pg-lease.ts';
import { runActivePart } from '../lib/leadership.ts';
import { decideOnEvent } from './transitions.ts';
import { createOutbox } from './outbox.ts';
import { createHttpNotifier, type Notifier } from './police-notifier.ts';
import { addressing, type Addressing } from './audience.ts';
import { createIntake } from './intake.ts';
import { startActiveAlerts, type ActiveAlerts } from './active.ts';
import { buildAlertsApp } from './http.ts';
import { createLive } from './live.ts';
import { cityView } from './city.ts';
import { alertMetrics } from './metrics.ts';
import { defaultChartRules, embeddedReadings, influxReadings, readingsOf, type ChartRules } from './readings.ts';
import type { AlertsConfig } from './config.ts';
import { stationImages } from './station-images.ts';

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
}

export interface AlertsHandle {
  app: FastifyInstance;
  port: number;
  store: AlertStore;
  /** Is this instance the active one (always, on the embedded store)? A standby serves the API and answers /healthz 503. */
  active(): boolean;
  /**
   * The registry file changed: notices for underpasses added since are addressed, the sensor board
   * shows new sensors (and keeps what it knows of the others), duty channels follow. `policeSecrets`
   * (secretRef → secret) replaces the secrets when given: a new district's variable is read by the
   * caller, which owns the environment.
   */
  updateRegistry(next: Registry, policeSecrets?: Record<string, string>): void;
  close(): Promise<void>;
}

/** The store, and with PostgreSQL its pool (shared with the lease; closed after the store). */
interface OpenedStore {
  store: AlertStore;
  pool: pg.Pool | undefined;
}

/** Embedded SQLite by default; PostgreSQL when a database is configured. */
async function openStore(config: AlertsConfig, log: Logger, fence: LeaseFence): Promise<OpenedStore> {
  if (!config.databaseUrl) return { store: openAlertStore(config.dbPath), pool: undefined };
  const { pool, value: store } = await openOnPool(config.databaseUrl, log, 8, async (p) => {
    await migrateLeases(p);
    return openPgAlertStore(p, fence);
  });
  log.info('alerts store in PostgreSQL');
  return { store, pool };
}

export async function createAlerts(config: AlertsConfig, deps: AlertsDeps): Promise<AlertsHandle> {
  const log = deps.logger.child({ component: 'alerts' });
  // Replaced as a whole when the registry file changes (updateRegistry), as in ingest and rules:
  // a closure the rules raise for an underpass added while running must reach its police.
  let current = { registry: deps.registry, index: indexRegistry(deps.registry) };
  let policeSecrets = config.policeSecrets;
  // The lease's epoch, once the leader below exists: the store's transitions are fenced by it,
  // and every notice carries it (0 without a lease).
  let leaseEpoch = (): number | undefined => undefined;
  const opened = await openStore(config, log, { role: 'alerts', epoch: () => leaseEpoch() });
  const store = opened.store;
  const readings = config.readings.kind === 'influxdb' ? influxReadings(config.readings) : embeddedReadings(config.readings.path);
  // District outlines for the map: the city's own file, or the demo city's schematic ones.
  const districtsGeoJson = readFileSync(config.districtsGeoJsonPath, 'utf8');
  const m = {
    events: counter(deps.metrics, 'floodgate_alerts_events_total', 'Alert events received, by outcome', ['outcome']),
    ...alertMetrics(deps.metrics, store, deps.clock),
  };
  const to = addressing({ capSender: config.capSender, clock: deps.clock, epoch: () => leaseEpoch() ?? 0, log, current: () => current });
  const board = createSensorBoard(current.registry);
  /** Alerts or notices changed: the console's live stream follows (live.ts). */
  const live = createLive({ store, clock: deps.clock, logger: log, metrics: deps.metrics, levels: (ids) => board.levels(ids), coalesceMs: config.consoleCoalesceMs });
  /** An alert changed: its record, its notices and any silence it ended go to the consoles with the next batch. */
  const alertChanged = (alertId: string) => live.hint({ alerts: [alertId] });
  const newOutbox = () =>
    createOutbox({
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
  const schedules = { ...config, store, clock: deps.clock, logger: log, silenced: (a: Parameters<typeof to.silenced>[1]) => to.silenced(store, a), escalationMessages: (e: AlertEvent) => to.duty(store, e, 'escalated'), alertChanged };
  const leader = await runActivePart<ActiveAlerts>({
    lease: opened.pool && { pool: opened.pool, role: 'alerts', holder: config.instanceId, ttlMs: config.leaseTtlMs, clock: deps.clock, logger: log, metrics: deps.metrics },
    start: (mayRun, signal) => startActiveAlerts({ mqttUrl: config.mqttUrl, clientId: config.clientId, serviceSecret: deps.serviceSecret, clock: deps.clock, log, board, intake, outbox: newOutbox, schedules, mayRun, ...(signal ? { signal } : {}) }),
  });
  leaseEpoch = () => leader.epoch();
  const active = () => leader.active();

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
      const done = await resolveManually(store, to, deps.clock, alertId, by, reason);
      if (done) wakeAfterResolve(active(), alertChanged, alertId);
      return done;
    },
    trustReadings: (alert, by, note) => sendTrust(active(), deps.clock, alert, by, note),
    city: () => cityView(current.registry),
    districtsGeoJson: () => districtsGeoJson,
    ...(config.mapTiles ? { mapTiles: config.mapTiles } : {}),
    sensors: (f) => board.list(f, deps.clock.now()),
    images: stationImages(config.imageDir, () => current.index),
    readings: (id, range, toMs) => {
      const s = current.index.sensor(id);
      const site = s && current.index.site(s.site);
      return readingsOf(readings, s && !s.loadTest ? s : undefined, (s && deps.siteRules?.(s.site)) ?? defaultChartRules(site), range, toMs);
    },
    // A standby answers 503, so a load balancer sends officers to the active instance.
    health: () => {
      const a = active();
      return { ok: a !== undefined && a.mqttUp() && leader.databaseUp(), checks: { active: a !== undefined, mqtt: a?.mqttUp() ?? false, store: store.isOpen(), database: leader.databaseUp() } };
    },
    wakeOutbox: () => active()?.outbox.wake(),
    extraRoutes: deps.extraRoutes ?? [],
  });
  await app.listen({ host: config.host, port: config.port });
  const port = (app.server.address() as AddressInfo).port;
  log.info({ host: config.host, port }, 'alerts API listening');

  let closed = false;
  return {
    app,
    port,
    store,
    active: () => active() !== undefined,
    updateRegistry(next, secrets) {
      current = { registry: next, index: indexRegistry(next) };
      if (secrets) policeSecrets = secrets;
      board.updateRegistry(next);
      log.info({ sites: next.sites.length, sensors: next.sensors.length, districts: next.districts.length }, 'registry reloaded');
    },
    async close() {
      if (closed) return; // idempotent: a second close (a test, a signal during shutdown) changes nothing
      closed = true;
      live.close();
      await usersWatch.close();
      await app.close();
      await leader.close();
      await store.close();
      await opened.pool?.end();
      readings.close();
      log.info('alerts closed');
    },
  };
}

/** A hand-resolved alert: its notices leave at once, and the consoles see it. */
function wakeAfterResolve(active: ActiveAlerts | undefined, alertChanged: (id: string) => void, alertId: string): void {
  active?.outbox.wake();
  alertChanged(alertId);
}

/** An officer trusts a suspect sensor's readings: the override goes to the rules from the active instance only. */
async function sendTrust(active: ActiveAlerts | undefined, clock: TimerClock, alert: { alertId: string; sensorId: string }, by: string, note: string): Promise<true | 'standby'> {
  if (!active) return 'standby';
  await active.publishOverride({ sensorId: alert.sensorId, alertId: alert.alertId, by, note, at: isoWithOffset(clock.now()) });
  return true;
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
