/**
 * Rules service: readings → the engine (rules/engine.ts) → alert events on
 * floodgate/alerts/{ruleId}/{subjectId} (QoS 1, retained = current state).
 *
 * Two connections: readings arrive on a persistent session; each is evaluated at once and its
 * alert events go out at once on the second connection (waiting for their PUBACK on the reading
 * connection would deadlock: mqtt.js handles one connection's packets serially). Readings are
 * PUBACKed in groups (lib/mqtt.ts#groupCommitAcks), only after their events were PUBACKed by the
 * broker and the engine state they produced is saved (rules/state-store.ts). A crash anywhere in
 * between redelivers the readings, which yield the same events with the same alert ids.
 */
import { AlertEvent, checkTimestamp, parseAlertTopic, parseReadingPayload, parseSensorTopic, topics } from '../contracts/index.ts';
import { indexRegistry, type Registry } from '../config/registry.ts';
import { connectService, endClient, groupCommitAcks, startClient } from '../lib/mqtt.ts';
import { counter, gauge, type Registry as Metrics } from '../lib/metrics.ts';
import type { Logger } from '../lib/logger.ts';
import type { Clock } from '../lib/clock.ts';
import { isoWithOffset } from '../lib/time.ts';
import { watchAndReload } from '../config/watch-registry.ts';
import { evaluate, newSensorState, RULE_IDS, tick, type EngineContext, type EngineState, type SensorInfo, type SensorState, type Transition } from './engine.ts';
import { loadRules, type LoadedRules } from './load.ts';
import { openStateStore, serializeDistrict, serializeSensor } from './state-store.ts';
import type { RulesConfig } from './config.ts';

export interface RulesDeps {
  logger: Logger;
  metrics: Metrics;
  registry: Registry;
  serviceSecret: string;
  clock: Clock;
}

export interface RulesHandle {
  /** A sensor's engine state (read-only view, for tests and diagnostics). */
  state(sensorId: string): SensorState | undefined;
  /** The rules in force. */
  rules(): LoadedRules;
  /** The registry file changed: new devices and sites take part from the next reading. */
  updateRegistry(next: Registry): void;
  close(): Promise<void>;
}

const MAX_READING_AGE_MS = 30 * 86_400_000;

export function engineContext(registry: Registry, rules: LoadedRules): EngineContext {
  const index = indexRegistry(registry);
  const sensors = new Map<string, SensorInfo>();
  for (const s of registry.sensors) {
    const site = index.site(s.site);
    // Load-test devices (floodgate sim load) exercise the gateway and ingest, never the alerts.
    if (site && !s.loadTest) sensors.set(s.id, { id: s.id, kind: s.kind, siteId: site.id, district: site.district });
  }
  return { sensor: (id) => sensors.get(id), rules: (id) => rules.sites.get(id), districtMinGauges: rules.file.defaults.rain.districtMinGauges };
}

export function toAlertEvent(t: Transition, now: number): AlertEvent {
  return AlertEvent.parse({
    alertId: t.alertId,
    ruleId: t.ruleId,
    subjectId: t.subjectId,
    sensorId: t.sensorId,
    state: t.state,
    severity: t.severity,
    ...(t.level ? { level: t.level } : {}),
    value: t.value,
    threshold: t.threshold,
    unit: t.unit,
    observedAt: isoWithOffset(t.ts),
    changedAt: isoWithOffset(now),
    reason: t.reason,
    ...(t.why ? { why: t.why } : {}),
  });
}

export async function createRules(config: RulesConfig, deps: RulesDeps): Promise<RulesHandle> {
  const log = deps.logger.child({ component: 'rules' });
  let registry = deps.registry;
  let loaded = loadRules(config.rulesPath, registry.sites);
  let ctx = engineContext(registry, loaded);
  const store = openStateStore(config.statePath);
  const state: EngineState = store.load();
  const m = {
    evaluated: counter(deps.metrics, 'floodgate_rules_readings_evaluated_total', 'Readings evaluated by the rules engine', ['kind']),
    stale: counter(deps.metrics, 'floodgate_rules_readings_stale_total', 'Readings at or before the sensor\'s last timestamp (duplicates, late): cannot re-fire or flap', ['kind']),
    skipped: counter(deps.metrics, 'floodgate_rules_readings_skipped_total', 'Readings not evaluated (unknown sensor, invalid, or outside the time limits)', ['reason']),
    suspect: counter(deps.metrics, 'floodgate_rules_suspect_readings_total', 'Readings flagged as suspect (never close a road on their own)', ['reason']),
    events: counter(deps.metrics, 'floodgate_rules_alert_events_total', 'Alert events published', ['rule', 'state']),
    reloads: counter(deps.metrics, 'floodgate_rules_reloads_total', 'Rules file reloads', ['result']),
    faults: counter(deps.metrics, 'floodgate_rules_faults_total', 'Background faults (tick publish/save), logged', ['where']),
    sensors: gauge(deps.metrics, 'floodgate_rules_sensors_tracked', 'Sensors with engine state'),
  };
  log.info({ path: loaded.path, sites: loaded.sites.size, restoredSensors: state.sensors.size }, 'rules loaded');

  const common = { url: config.mqttUrl, service: 'rules', secret: deps.serviceSecret, logger: log };
  const pub = await connectService({ ...common, clientId: `${config.clientId}-pub`, clean: true });
  await startClient(pub);
  const sub = await connectService({ ...common, clientId: config.clientId, clean: false });

  /** Start publishing alert events (mqtt.js keeps their order); resolves when the broker has them all. */
  function publish(transitions: Transition[]): Promise<void> {
    if (transitions.length === 0) return Promise.resolve();
    return Promise.all(
      transitions.map(async (t) => {
        const event = toAlertEvent(t, deps.clock.now());
        // Retained: the topic always holds the subject's current state for late subscribers.
        await pub.publishAsync(topics.alert(event.ruleId, event.subjectId), JSON.stringify(event), { qos: 1, retain: true });
        m.events.inc({ rule: event.ruleId, state: event.state });
        log.info({ ruleId: t.ruleId, subjectId: t.subjectId, sensorId: t.sensorId, alertId: t.alertId, state: t.state, level: t.level, value: t.value }, 'alert state change');
      }),
    ).then(() => undefined);
  }

  /**
   * Without saved state (first start, lost file), a retained closure alert still says a road is
   * closed. The restored state is saved with its group, like a reading's (see Evaluated).
   */
  function restoreFromRetained(payload: Buffer): Evaluated | null {
    const ev = AlertEvent.safeParse(safeJson(payload));
    if (!ev.success || ev.data.ruleId !== RULE_IDS.underpassClosure || state.sensors.get(ev.data.sensorId)?.closure) return null;
    const ts = Date.parse(ev.data.observedAt);
    const s: SensorState = { ...(state.sensors.get(ev.data.sensorId) ?? newSensorState(deps.clock.now())), lastTs: ts };
    s.closure = ev.data.state === 'firing' ? { phase: 'firing', since: ts, count: 0, alertId: ev.data.alertId } : { phase: 'normal', since: 0, count: 0 };
    state.sensors.set(ev.data.sensorId, s);
    log.info({ sensorId: ev.data.sensorId, state: ev.data.state }, 'restored closure state from the retained alert');
    return { sensor: ev.data.sensorId, published: Promise.resolve(), sensorJson: serializeSensor(s) };
  }

  interface Evaluated {
    sensor: string;
    district?: string;
    published: Promise<void>;
    /**
     * The sensor's (and district's) state right after this message, serialized now. The group's
     * commit saves these, not the live state: by commit time the live state may already hold
     * later readings whose alert events are still on their way, and a save of those followed by
     * a SIGKILL lost the events for good (the redelivered readings were stale against the saved
     * state) — the chaos suite's closures that never reached the police.
     */
    sensorJson: string;
    districtJson?: string;
  }

  // The engine updates its state in place as it evaluates. If a group's events or save fail, the
  // state in memory is ahead of what was acknowledged: every later group fails too, and on the
  // reconnect (which redelivers all of them) the state is reloaded from the last good save.
  let tainted = false;
  let commits: Promise<void> = Promise.resolve();
  sub.on('connect', () => {
    if (!tainted) return;
    const saved = store.load();
    state.sensors = saved.sensors;
    state.districts = saved.districts;
    commits = Promise.resolve();
    tainted = false;
    log.warn({ sensors: state.sensors.size }, 'engine state reloaded from its last save after a failed commit');
  });

  /** One message: evaluated at once (alert events leave right away), committed with its group. */
  function accept(topic: string, payload: Buffer, packet: { retain?: boolean }): Evaluated | null {
    if (tainted) throw new Error('engine state is being restored after a failed commit');
    if (parseAlertTopic(topic)) {
      // Only the retained copy (live copies of our own events carry retain=0 [MQTT-3.3.1-9]).
      return packet.retain ? restoreFromRetained(payload) : null;
    }
    const t = parseSensorTopic(topic);
    if (!t || t.leaf !== 'reading') return null;
    const info = ctx.sensor(t.sensorId);
    if (!info || info.kind !== t.kind) {
      m.skipped.inc({ reason: 'unknown-sensor' }); // ingest reports these
      return null;
    }
    // Invalid readings are ingest's to reject and report; the rules see the valid ones only.
    const { readings } = parseReadingPayload(t.kind, t.sensorId, payload);
    const now = deps.clock.now();
    const transitions: Transition[] = [];
    for (const r of readings.sort((a, b) => a.ts - b.ts)) {
      if (checkTimestamp(r.ts, now, MAX_READING_AGE_MS)) {
        m.skipped.inc({ reason: 'time' });
        continue;
      }
      const out = evaluate(state, r, now, ctx);
      m.evaluated.inc({ kind: t.kind });
      if (out.stale) m.stale.inc({ kind: t.kind });
      for (const f of out.flags) {
        m.suspect.inc({ reason: f.reason });
        log.info({ sensorId: f.sensorId, ts: isoWithOffset(f.ts), reason: f.reason }, 'suspect reading');
      }
      transitions.push(...out.transitions);
    }
    const sensorState = state.sensors.get(info.id);
    const districtState = info.kind === 'rain' ? state.districts.get(info.district) : undefined;
    return {
      sensor: info.id,
      ...(info.kind === 'rain' ? { district: info.district } : {}),
      published: publish(transitions),
      sensorJson: sensorState ? serializeSensor(sensorState) : '',
      ...(districtState ? { districtJson: serializeDistrict(districtState) } : {}),
    };
  }

  // A reading is acknowledged only after its alert events were acknowledged by the broker and the
  // engine state it produced is saved: groups of ≤200 messages, one state transaction each.
  const acks = groupCommitAcks<Evaluated | null>(sub, {
    maxBatch: 200,
    maxDelayMs: 5,
    logger: log,
    accept,
    commit(items) {
      const done = items.filter((i): i is Evaluated => i !== null);
      // Saves run in group order; once one failed, the later ones fail without saving.
      const run = commits.then(async () => {
        await Promise.all(done.map((i) => i.published));
        // The latest snapshot of each sensor and district within the group.
        const sensors = new Map<string, string>();
        const districts = new Map<string, string>();
        for (const i of done) {
          if (i.sensorJson) sensors.set(i.sensor, i.sensorJson);
          if (i.district && i.districtJson) districts.set(i.district, i.districtJson);
        }
        store.saveSerialized(sensors, districts);
        m.sensors.set(state.sensors.size);
      });
      commits = run;
      run.catch(() => {
        tainted = true;
        m.faults.inc({ where: 'commit' });
      });
      return run;
    },
  });

  const ticker = setInterval(() => {
    const { transitions } = tick(state, deps.clock.now(), ctx);
    if (transitions.length === 0) return;
    // The silent sensors' state as of this tick, saved in commit order — not their live state once
    // the events are out: a reading of one of them arriving meanwhile belongs to its own group,
    // whose events may still be on their way, and a save of it followed by a crash lost them (the
    // redelivered reading was stale against the saved state). Its group, later in the chain,
    // saves it after its events.
    const snapshot = new Map<string, string>();
    for (const t of transitions) {
      const s = state.sensors.get(t.sensorId);
      if (s) snapshot.set(t.sensorId, serializeSensor(s));
    }
    const published = publish(transitions);
    published.catch(() => undefined); // handled below, in order
    const link = commits.then(() =>
      published
        .then(() => store.saveSerialized(snapshot, new Map()))
        .catch((err: unknown) => {
          // Not a failed commit (no reading waits on it): the offline flag is set in memory, the
          // next tick does not repeat it, and a restart before the save re-detects the silence.
          m.faults.inc({ where: 'tick' });
          log.error({ err }, 'could not publish or save offline alerts');
        }),
    );
    link.catch(() => undefined); // an earlier failed commit: the groups after it report that
    commits = link;
  }, config.tickMs);

  const watch = watchAndReload(
    config.rulesPath,
    'rules',
    (p) => loadRules(p, registry.sites),
    (next) => {
      loaded = next;
      ctx = engineContext(registry, next);
      m.reloads.inc({ result: 'ok' });
      log.info({ path: next.path, sites: next.sites.size }, 'rules reloaded');
    },
    log,
    { intervalMs: config.reloadPollMs, onRefused: () => m.reloads.inc({ result: 'refused' }) },
  );

  await startClient(sub);
  await sub.subscribeAsync([topics.alertsOf(RULE_IDS.underpassClosure), topics.allReadings], { qos: 1 });
  log.info({ clientId: config.clientId }, 'rules running');

  let closed = false;
  return {
    state: (id) => state.sensors.get(id),
    rules: () => loaded,
    updateRegistry(next: Registry) {
      // New devices and sites get the rules in force; a rules file that names a site the new
      // registry lacks keeps the previous registry (logged), as a refused rules file would.
      try {
        const rules = loadRules(loaded.path, next.sites);
        registry = next;
        loaded = rules;
        ctx = engineContext(registry, rules);
      } catch (err) {
        m.reloads.inc({ result: 'refused' });
        log.error({ err }, 'registry change refused: the rules file does not fit it');
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(ticker);
      await watch.close();
      acks.flush();
      await acks.settled();
      await commits.catch(() => undefined); // a tick's save too, before the store closes
      await endClient(sub);
      await endClient(pub);
      store.close();
      log.info('rules closed');
    },
  };
}

function safeJson(payload: Buffer): unknown {
  try {
    return JSON.parse(payload.toString('utf8'));
  } catch {
    return undefined;
  }
}

