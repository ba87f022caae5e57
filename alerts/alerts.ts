/**
 * Alerts service: follows alert events from MQTT into a durable store, queues signed close/reopen
 * notices for the traffic police in the same transaction, delivers them from the outbox, and
 * serves the duty officers' API.
 */
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify';
import { readFileSync } from 'node:fs';
import { watchAndReload } from '../config/watch-registry.ts';
import { authenticate, loadUsers } from './users.ts';
import type { AddressInfo } from 'node:net';
import { AlertEvent, ClosureNotice, INGEST_SPOOL_RULE, parseReadingPayload, parseSensorTopic, SpoolAlarm, topics } from '../contracts/index.ts';
import { createSensorBoard } from './sensors.ts';
import { indexRegistry, recipientsOf, type Registry } from '../config/registry.ts';
import { connectService, endClient, groupCommitAcks, startClient } from '../lib/mqtt.ts';
import { counter, type Registry as Metrics } from '../lib/metrics.ts';
import type { Logger } from '../lib/logger.ts';
import type { TimerClock } from '../lib/clock.ts';
import { isoWithOffset } from '../lib/time.ts';
import { DEFAULT_BACKOFF, type BackoffPolicy } from '../lib/backoff.ts';
import { openAlertStore, type AlertStore, type NewNotice } from './store.ts';
import { alertSource, decideOnEvent, noticeIdFor, silenceFor, spoolAlarmEvent } from './transitions.ts';
import { createOutbox, type Outbox } from './outbox.ts';
import { createHttpNotifier, type Notifier } from './police-notifier.ts';
import { toCap } from './cap.ts';
import { renderDutyGroup, type DutyMessage } from './channels.ts';
import { allowedMethods, apiPlugin } from './api.ts';
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

export async function createAlerts(config: AlertsConfig, deps: AlertsDeps): Promise<AlertsHandle> {
  const log = deps.logger.child({ component: 'alerts' });
  // Replaced as a whole when the registry file changes (updateRegistry), as in ingest and rules:
  // a closure the rules raise for an underpass added while running must reach its police.
  let registry = deps.registry;
  let index = indexRegistry(registry);
  let policeSecrets = config.policeSecrets;
  const store = openAlertStore(config.dbPath);
  const readings = config.readings.kind === 'influxdb' ? influxReadings(config.readings) : embeddedReadings(config.readings.path);
  // District outlines for the map: the city's own file, or the demo city's schematic ones.
  const districtsGeoJson = readFileSync(config.districtsGeoJsonPath, 'utf8');
  const m = {
    events: counter(deps.metrics, 'floodgate_alerts_events_total', 'Alert events received, by outcome', ['outcome']),
    ...alertMetrics(deps.metrics, store, deps.clock),
  };

  // The console's sensor board, fed by a second, QoS 0 connection (below): a display, never a record.
  const board = createSensorBoard(registry);
  /** Alerts or notices changed: the console's live stream follows (live.ts). */
  const live = createLive({
    store,
    clock: deps.clock,
    logger: log,
    metrics: deps.metrics,
    levels: (ids) => board.levels(ids),
    ...(config.consoleCoalesceMs !== undefined ? { coalesceMs: config.consoleCoalesceMs } : {}),
  });
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
    escalationNotices: (event, failedRecipient) => dutyMessages(event, 'firing').filter((n) => n.recipient !== failedRecipient),
    logger: log,
    metrics: deps.metrics,
    clock: deps.clock,
    backoff: deps.backoff ?? DEFAULT_BACKOFF,
    pollMs: config.outboxPollMs,
  });

  /** The notices of a transition: one per recipient of the underpass's district, in its format. */
  function buildNotices(event: AlertEvent, action: 'close' | 'reopen' | null): NewNotice[] {
    if (!action) return [];
    const site = index.site(event.subjectId);
    const district = site && index.district(site.district);
    if (!site || !district) {
      log.error({ alertId: event.alertId, underpassId: event.subjectId }, 'no underpass/district in the registry: cannot address a notice');
      return [];
    }
    const noticeId = noticeIdFor(event.alertId, action);
    const notice = ClosureNotice.parse({
      noticeId,
      action,
      underpass: { id: site.id, name: site.name, road: site.road, district: district.id, lat: site.lat, lon: site.lon },
      depthCm: event.value,
      thresholdCm: event.threshold,
      observedAt: event.observedAt,
      issuedAt: isoWithOffset(deps.clock.now()),
      alertId: event.alertId,
      reason: event.reason,
    });
    return recipientsOf(district).map((r) => {
      let body: string;
      if (r.format === 'cap') {
        // A reopen refers to the close it ends (CAP references: sender,identifier,sent).
        const close = action === 'reopen' ? store.findNotice(noticeIdFor(event.alertId, 'close'), r.id) : undefined;
        const sent = close && /<sent>([^<]+)<\/sent>/.exec(close.body)?.[1];
        body = toCap(notice, { sender: config.capSender, senderName: registry.city, ...(close && sent ? { references: { identifier: close.noticeId, sent } } : {}) });
      } else body = JSON.stringify(notice);
      return { noticeId, recipient: r.id, format: r.format, alertId: event.alertId, subjectId: site.id, action, url: r.url, secretRef: r.secretRef, body };
    });
  }

  /** Where an alert's subject is, for people (names) and for silences (site and district ids). */
  function placeOf(subjectId: string): { text: string; site: string | undefined; district: string | undefined } {
    const site = index.site(subjectId) ?? index.siteOfSensor(subjectId);
    if (site) return { text: `${site.name}（${index.district(site.district)?.name ?? site.district}）`, site: site.id, district: site.district };
    const d = index.district(subjectId);
    return d ? { text: d.name, site: undefined, district: d.id } : { text: '', site: undefined, district: undefined };
  }

  /** The silence covering an alert now, if any (silenced alerts page nobody and never escalate). */
  function silenced(a: Pick<AlertEvent, 'ruleId' | 'subjectId' | 'sensorId'>, place = placeOf(a.subjectId)) {
    return silenceFor({ ...a, site: place.site ?? null, district: place.district ?? null }, store.activeSilences(deps.clock.now()), deps.clock.now());
  }

  /**
   * Messages for the duty officers' channels that carry this rule (and district): tier-1 channels
   * for every transition; an escalation goes to the tier-2 channels (or, without any, to tier 1).
   */
  function dutyMessages(event: AlertEvent, state: 'firing' | 'update' | 'resolved' | 'escalated', place = placeOf(event.subjectId)): NewNotice[] {
    const channels = registry.dutyChannels ?? [];
    if (channels.length === 0) return [];
    if (silenced(event, place)) return [];
    const tier2 = channels.some((c) => c.tier === 2);
    const message: DutyMessage = { alertId: event.alertId, ruleId: event.ruleId, subjectId: event.subjectId, place: place.text, state, severity: event.severity, ...(event.level ? { level: event.level } : {}), value: event.value, unit: event.unit, reason: event.reason, observedAt: event.observedAt };
    return channels
      .filter((c) => (state === 'escalated' && tier2 ? c.tier === 2 : c.tier === 1))
      .filter((c) => c.rules.includes(event.ruleId) && (!c.districts || (place.district !== undefined && c.districts.includes(place.district))))
      .map((c) => ({
        noticeId: `${event.alertId}:${state}`, // the page gets its own id when it is flushed
        recipient: c.id,
        format: c.format,
        alertId: event.alertId,
        subjectId: event.subjectId,
        action: state,
        url: c.url,
        secretRef: c.secretRef ?? '',
        body: '',
        // Grouped with the others of the same state, rule and district (store.flushPages).
        page: { groupKey: `${state}|${event.ruleId}|${place.district ?? event.subjectId}`, message },
      }));
  }

  // The sensor board's connection: its traffic never queues behind the alert events.
  const view = await connectService({ url: config.mqttUrl, service: 'alerts', secret: deps.serviceSecret, clientId: `${config.clientId}-view`, clean: true, logger: log });
  view.on('message', (topic, payload) => {
    const t = parseSensorTopic(topic);
    if (!t || t.leaf !== 'reading') return;
    // Untrusted input: validated as ingest validates it; what is invalid is simply not shown.
    for (const r of parseReadingPayload(t.kind, t.sensorId, payload).readings) board.observe(r, deps.clock.now());
  });
  await startClient(view);
  await view.subscribeAsync(topics.allReadings, { qos: 0 });

  const client = await connectService({ url: config.mqttUrl, service: 'alerts', secret: deps.serviceSecret, clientId: config.clientId, clean: false, logger: log });
  let mqttUp = false;
  client.on('connect', () => (mqttUp = true));
  client.on('offline', () => (mqttUp = false));
  client.on('close', () => (mqttUp = false));

  /**
   * One alert event (from the rules, or raised here from ingest's spool alarm) into the store;
   * true if it changed an alert (and may have queued notices). The outbox is woken by the caller,
   * after the transaction holding it has committed.
   */
  function apply(event: AlertEvent): boolean {
    const alog = log.child({ alertId: event.alertId, underpassId: event.subjectId });
    const decision = decideOnEvent(store.getAlert(event.alertId), event);
    m.events.inc({ outcome: decision.kind });
    if (decision.kind === 'open' || decision.kind === 'resolve' || decision.kind === 'update') m.readingToAlert.observe({ rule: event.ruleId }, Math.max(0, deps.clock.now() - Date.parse(event.observedAt)) / 1000);
    const nowIso = isoWithOffset(deps.clock.now());
    if (decision.kind === 'open') {
      const place = placeOf(event.subjectId);
      store.openAlert(event, nowIso, [...buildNotices(event, decision.notice), ...dutyMessages(event, 'firing', place)], deps.clock.now(), { ...(place.site ? { site: place.site } : {}), ...(place.district ? { district: place.district } : {}) });
      alog.warn({ value: event.value, reason: event.reason }, 'alert firing');
    } else if (decision.kind === 'resolve') {
      store.resolveAlert(event, nowIso, [...buildNotices(event, decision.notice), ...dutyMessages(event, 'resolved')], deps.clock.now(), alertSource(event.ruleId));
      alog.info({ value: event.value }, 'alert resolved');
    } else if (decision.kind === 'update') {
      store.updateAlert(event, nowIso, dutyMessages(event, 'update'), deps.clock.now());
      alog.warn({ severity: event.severity, level: event.level, value: event.value, reason: event.reason }, 'alert changed level');
    } else {
      alog.debug({ decision: decision.kind }, 'alert event changes nothing');
      return false;
    }
    alertChanged(event.alertId);
    return true;
  }

  /** A message from the broker, checked: an alert event, or ingest's spool alarm (judged at commit). */
  type Incoming = { event: AlertEvent } | { alarm: SpoolAlarm } | undefined;
  function accept(topic: string, payload: Buffer): Incoming {
    let json: unknown;
    try {
      json = JSON.parse(payload.toString('utf8'));
    } catch {
      json = undefined;
    }
    if (topic === topics.ingestSpool) {
      // ingest's spool is filling up (the store is down or slow): the duty officers hear of it.
      if (payload.length === 0) return undefined; // a retained alarm being cleared [MQTT-3.3.1-10]
      const alarm = SpoolAlarm.safeParse(json);
      if (alarm.success) return { alarm: alarm.data };
      m.events.inc({ outcome: 'invalid' });
      log.warn({ topic, issue: alarm.error.issues[0]?.message }, 'ignoring invalid spool alarm');
      return undefined;
    }
    const parsed = AlertEvent.safeParse(json);
    if (parsed.success) return { event: parsed.data };
    m.events.inc({ outcome: 'invalid' });
    log.warn({ topic, issue: parsed.error.issues[0]?.message }, 'ignoring invalid alert event');
    return undefined;
  }

  // Events are applied in groups, one transaction (one fsync) each, and acknowledged after it
  // [MQTT-4.3.2-2]. One transaction per event blocked the process's one thread for ~2.5 ms a time
  // on `up` (SQLite synchronous=FULL): in the city storm the broker, ingest and the rules waited
  // behind the alerts store. A group forms while the last one commits, or within 2 ms.
  const applyGroup = store.db.transaction((items: Incoming[]) => {
    let changed = false;
    for (const item of items) {
      if (!item) continue;
      const event = 'event' in item ? item.event : spoolAlarmEvent(item.alarm, store.listAlerts({ state: 'firing', rule: INGEST_SPOOL_RULE, limit: 1 })[0]);
      if (event && apply(event)) changed = true;
    }
    return changed;
  });
  groupCommitAcks<Incoming>(client, {
    maxBatch: 200,
    maxDelayMs: 2,
    logger: log,
    accept,
    commit(items) {
      if (applyGroup(items)) outbox.wake();
    },
  });
  await startClient(client);
  await client.subscribeAsync([topics.allAlerts, topics.ingestSpool], { qos: 1 });

  const app: FastifyInstance = Fastify({
    // Request lines stay out of the service log (level warn): errors and slow faults still show.
    loggerInstance: deps.logger.child({ component: 'alerts-http' }, { level: 'warn' }) as FastifyBaseLogger,
    bodyLimit: 64 * 1024,
    // Open consoles hold a server-sent-events stream: closing must not wait for them.
    forceCloseConnections: true,
    // Unknown fields are refused with a 400, not silently dropped (fastify's default strips them).
    ajv: { customOptions: { removeAdditional: false } },
    // Errors fastify raises before any route (a malformed URL, say) keep the API's error shape.
    frameworkErrors: (err, _req, reply) => void (reply as unknown as FastifyReply).code(400).send({ error: { code: 'BAD_REQUEST', message: err.message } }),
  });
  app.setNotFoundHandler((req, reply) => {
    // A known path asked with a method it does not declare: 405 and what it does declare [RFC 9110 §15.5.6].
    const allow = allowedMethods(req.url);
    if (allow && !allow.includes(req.method)) return void reply.code(405).header('allow', [...allow, ...(allow.includes('GET') ? ['HEAD'] : [])].join(', ')).send({ error: { code: 'METHOD_NOT_ALLOWED', message: `${req.method} is not allowed on ${req.url.split('?')[0]}; allowed: ${allow.join(', ')}` } });
    return void reply.code(404).send({ error: { code: 'NOT_FOUND', message: `no route ${req.method} ${req.url.split('?')[0]}` } });
  });
  // Users and roles (api-users.json, managed by `floodgate users`), reloaded when the file changes.
  let users = loadUsers(config.usersPath);
  const usersWatch = watchAndReload(config.usersPath, 'users', loadUsers, (u) => {
    users = u;
    log.info({ users: u.length }, 'API users reloaded');
  }, log);
  await app.register(apiPlugin, {
    store,
    metrics: deps.metrics,
    clock: deps.clock,
    authenticate: (token) => authenticate(token, users, config.apiToken),
    live,
    // An officer resolves by hand (a stuck sensor, a road inspected): the same notices as a rule's resolve.
    resolveManually: (alertId, by, reason) => {
      const a = store.getAlert(alertId);
      if (!a || a.state !== 'firing') return false;
      const now = deps.clock.now();
      const event = { ...a, state: 'resolved' as const, level: a.level ?? undefined, observedAt: isoWithOffset(now), changedAt: isoWithOffset(now), reason: `resolved by ${by}: ${reason}`, why: { key: 'manual.resolve', params: { by, text: reason.slice(0, 200) } } } as AlertEvent;
      const d = decideOnEvent(a, event);
      store.resolveAlert(event, isoWithOffset(now), [...buildNotices(event, d.kind === 'resolve' ? d.notice : null), ...dutyMessages(event, 'resolved')], now, by);
      outbox.wake();
      alertChanged(alertId);
      return true;
    },
    city: () => cityView(registry),
    districtsGeoJson: () => districtsGeoJson,
    ...(config.mapTiles ? { mapTiles: config.mapTiles } : {}),
    sensors: (f) => board.list(f, deps.clock.now()),
    readings: (id, range, toMs) => {
      const s = index.sensor(id);
      const site = s && index.site(s.site);
      return readingsOf(readings, s && !s.loadTest ? s : undefined, (s && deps.siteRules?.(s.site)) ?? defaultChartRules(site), range, toMs);
    },
    health: () => ({ ok: mqttUp, checks: { mqtt: mqttUp, store: store.db.open } }),
    wakeOutbox: () => outbox.wake(),
    extraRoutes: deps.extraRoutes ?? [],
  });
  await app.listen({ host: config.host, port: config.port });
  const port = (app.server.address() as AddressInfo).port;
  log.info({ host: config.host, port }, 'alerts API listening');

  // Pages: waiting duty-channel messages become one message per group once the window is over.
  const paging = setInterval(() => {
    try {
      if (store.flushPages(deps.clock.now(), config.pageGroupMs, renderDutyGroup) > 0) outbox.wake();
    } catch (err) {
      log.error({ err }, 'paging failed');
    }
  }, Math.min(1000, Math.max(50, Math.round(config.pageGroupMs / 4))));

  // Escalation: a critical alert nobody acknowledged within escalateAfterMs goes to the next tier.
  function escalate(): void {
    const now = deps.clock.now();
    for (const a of store.dueForEscalation(now - config.escalateAfterMs)) {
      if (silenced(a)) continue;
      const event = { ...a, state: 'firing' as const, level: a.level ?? undefined, observedAt: a.firedAt, changedAt: isoWithOffset(now) } as AlertEvent;
      const mins = Math.round(config.escalateAfterMs / 60_000);
      if (store.markEscalated(a.alertId, isoWithOffset(now), dutyMessages(event, 'escalated'), now, `not acknowledged within ${mins} min`)) {
        log.warn({ alertId: a.alertId, subjectId: a.subjectId }, 'critical alert not acknowledged in time: escalated');
        outbox.wake();
        alertChanged(a.alertId);
      }
    }
  }
  const escalation = setInterval(() => {
    try {
      escalate();
    } catch (err) {
      log.error({ err }, 'escalation check failed');
    }
  }, config.escalateCheckMs);

  return {
    app,
    port,
    store,
    outbox,
    updateRegistry(next, secrets) {
      registry = next;
      index = indexRegistry(next);
      if (secrets) policeSecrets = secrets;
      board.updateRegistry(next);
      log.info({ sites: next.sites.length, sensors: next.sensors.length, districts: next.districts.length }, 'registry reloaded');
    },
    async close() {
      clearInterval(escalation);
      clearInterval(paging);
      live.close();
      await usersWatch.close();
      await app.close();
      await endClient(client);
      await endClient(view);
      await outbox.close();
      store.close();
      readings.close();
      log.info('alerts closed');
    },
  };
}
