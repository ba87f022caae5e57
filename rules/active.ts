/**
 * The part of the rules service that runs while this instance is the active one: the engine state
 * (loaded from the store), the two MQTT connections, group commits and the offline ticker. One
 * instance: started once. With a lease (rules/rules.ts): started when the lease is won, aborted
 * at once when it is lost — its connections end before they can reconnect and take the
 * persistent session back from the new leader [MQTT-3.1.4-2].
 *
 * Two connections: readings arrive on a persistent session; each is evaluated at once and its
 * alert events go out at once on the second connection (waiting for their PUBACK on the reading
 * connection would deadlock: mqtt.js handles one connection's packets serially). Readings are
 * PUBACKed in groups (lib/mqtt.ts#groupCommitAcks), only after their events were PUBACKed by the
 * broker and the engine state they produced is saved (rules/state-store.ts). A crash anywhere in
 * between redelivers the readings, which yield the same events with the same alert ids.
 */
import { AlertEvent, checkTimestamp, parseAlertTopic, parseOverrideTopic, parseReadingPayload, parseSensorTopic, SensorTrust, topics } from '../contracts/index.ts';
import { endClient, groupCommitAcks } from '../lib/mqtt.ts';
import { guardedClients } from '../lib/guarded-clients.ts';
import { counter, gauge, type Registry as Metrics } from '../lib/metrics.ts';
import type { Logger } from '../lib/logger.ts';
import { repeat, type TimerClock } from '../lib/clock.ts';
import { isoWithOffset } from '../lib/time.ts';
import { evaluate, newSensorState, RULE_IDS, tick, trustReadings, type EngineContext, type EngineState, type SensorState, type Transition } from './engine.ts';
import { serializeDistrict, serializeSensor, type StateStore } from './state-store.ts';
import { toAlertEvent } from './context.ts';
import { createCommitChain, type Evaluated } from './commits.ts';

const MAX_READING_AGE_MS = 30 * 86_400_000;

export function rulesMetrics(metrics: Metrics) {
  return {
    evaluated: counter(metrics, 'floodgate_rules_readings_evaluated_total', 'Readings evaluated by the rules engine', ['kind']),
    stale: counter(metrics, 'floodgate_rules_readings_stale_total', 'Readings at or before the sensor\'s last timestamp (duplicates, late): cannot re-fire or flap', ['kind']),
    skipped: counter(metrics, 'floodgate_rules_readings_skipped_total', 'Readings not evaluated (unknown sensor, invalid, or outside the time limits)', ['reason']),
    suspect: counter(metrics, 'floodgate_rules_suspect_readings_total', 'Readings flagged as suspect (never close a road on their own)', ['reason']),
    events: counter(metrics, 'floodgate_rules_alert_events_total', 'Alert events published', ['rule', 'state']),
    reloads: counter(metrics, 'floodgate_rules_reloads_total', 'Rules file reloads', ['result']),
    faults: counter(metrics, 'floodgate_rules_faults_total', 'Background faults (tick publish/save), logged', ['where']),
    sensors: gauge(metrics, 'floodgate_rules_sensors_tracked', 'Sensors with engine state'),
  };
}
export type RulesMetrics = ReturnType<typeof rulesMetrics>;

/** A reading message evaluated at once: its alert events leave right away, its state is snapshotted for its group's commit. */
function evaluateMessage(c: { state: EngineState; ctx: EngineContext; now: number; m: RulesMetrics; log: Logger; publish(t: Transition[]): Promise<void> }, topic: string, payload: Buffer): Evaluated | null {
  const t = parseSensorTopic(topic);
  if (!t || t.leaf !== 'reading') return null;
  const info = c.ctx.sensor(t.sensorId);
  if (!info || info.kind !== t.kind) {
    c.m.skipped.inc({ reason: 'unknown-sensor' }); // ingest reports these
    return null;
  }
  // Invalid readings are ingest's to reject and report; the rules see the valid ones only.
  const { readings } = parseReadingPayload(t.kind, t.sensorId, payload);
  const transitions: Transition[] = [];
  for (const r of readings.sort((a, b) => a.ts - b.ts)) {
    if (checkTimestamp(r.ts, c.now, MAX_READING_AGE_MS)) {
      c.m.skipped.inc({ reason: 'time' });
      continue;
    }
    const out = evaluate(c.state, r, c.now, c.ctx);
    c.m.evaluated.inc({ kind: t.kind });
    if (out.stale) c.m.stale.inc({ kind: t.kind });
    for (const f of out.flags) {
      c.m.suspect.inc({ reason: f.reason });
      c.log.info({ sensorId: f.sensorId, ts: isoWithOffset(f.ts), reason: f.reason }, 'suspect reading');
    }
    transitions.push(...out.transitions);
  }
  const sensorState = c.state.sensors.get(info.id);
  const districtState = info.kind === 'rain' ? c.state.districts.get(info.district) : undefined;
  return {
    sensor: info.id,
    ...(info.kind === 'rain' ? { district: info.district } : {}),
    published: c.publish(transitions),
    sensorJson: sensorState ? serializeSensor(sensorState) : '',
    ...(districtState ? { districtJson: serializeDistrict(districtState) } : {}),
  };
}

/**
 * Without saved state (first start, lost file), a retained closure alert still says a road is
 * closed. The restored state is saved with its group, like a reading's (see Evaluated).
 */
function restoreFromRetained(state: EngineState, now: number, payload: Buffer, log: Logger): Evaluated | null {
  const ev = AlertEvent.safeParse(safeJson(payload));
  if (!ev.success || ev.data.ruleId !== RULE_IDS.underpassClosure || state.sensors.get(ev.data.sensorId)?.closure) return null;
  const ts = Date.parse(ev.data.observedAt);
  const s: SensorState = { ...(state.sensors.get(ev.data.sensorId) ?? newSensorState(now)), lastTs: ts };
  s.closure = ev.data.state === 'firing' ? { phase: 'firing', since: ts, count: 0, alertId: ev.data.alertId } : { phase: 'normal', since: 0, count: 0 };
  state.sensors.set(ev.data.sensorId, s);
  log.info({ sensorId: ev.data.sensorId, state: ev.data.state }, 'restored closure state from the retained alert');
  return { sensor: ev.data.sensorId, published: Promise.resolve(), sensorJson: serializeSensor(s) };
}

/** An officer's override (retained on floodgate/overrides/{sensorId}): saved with its group, like a reading. */
function applyOverride(state: EngineState, now: number, sensorId: string, payload: Buffer, log: Logger, publish: (t: Transition[]) => Promise<void>): Evaluated | null {
  const o = SensorTrust.safeParse(safeJson(payload));
  if (!o.success || o.data.sensorId !== sensorId) {
    if (payload.length > 0) log.warn({ sensorId }, 'an override that is not one was ignored');
    return null;
  }
  const out = trustReadings(state, o.data, now);
  if (out.transitions.length === 0) return null; // an older alert's override, read again: done long ago
  log.info({ sensorId, alertId: o.data.alertId, by: o.data.by }, 'readings trusted by an officer');
  return { sensor: sensorId, published: publish(out.transitions), sensorJson: serializeSensor(state.sensors.get(sensorId)!) };
}

export interface ActiveRules {
  state: EngineState;
  /** A clean stop: what was accepted is committed and acknowledged, then the connections end. */
  close(): Promise<void>;
  /** The lease was lost: stop now, commit nothing more; the broker redelivers what was not acknowledged. */
  abort(): void;
}

export interface ActiveDeps {
  mqttUrl: string;
  clientId: string;
  tickMs: number;
  serviceSecret: string;
  clock: TimerClock;
  store: StateStore;
  log: Logger;
  m: RulesMetrics;
  /** The engine's view of registry and rules now (they reload while running). */
  ctx(): EngineContext;
  /** May this instance act now? Checked on every (re)connect: false ends the connection at once. */
  mayRun(): boolean;
  /** Aborted: the lease was lost while starting. */
  signal?: AbortSignal;
}

export async function startActive(d: ActiveDeps): Promise<ActiveRules> {
  const { log, m } = d;
  const conns = guardedClients({ url: d.mqttUrl, service: 'rules', secret: d.serviceSecret, logger: log, mayRun: d.mayRun });
  let ticker: { stop(): void } | undefined;
  const abort = () => {
    ticker?.stop();
    conns.abort();
  };
  d.signal?.addEventListener('abort', abort, { once: true });
  try {
    return await run();
  } catch (err) {
    abort();
    throw err;
  }

  async function run(): Promise<ActiveRules> {
    const state: EngineState = await d.store.load();
    log.info({ restoredSensors: state.sensors.size }, 'engine state loaded');
    const pub = await conns.connect(`${d.clientId}-pub`, true);
    await conns.connected(pub);
    const sub = await conns.connect(d.clientId, false);

    /** Start publishing alert events (mqtt.js keeps their order); resolves when the broker has them all. */
    function publish(transitions: Transition[]): Promise<void> {
      if (transitions.length === 0) return Promise.resolve();
      return Promise.all(
        transitions.map(async (t) => {
          const event = toAlertEvent(t, d.clock.now());
          // Retained: the topic always holds the subject's current state for late subscribers.
          await pub.publishAsync(topics.alert(event.ruleId, event.subjectId), JSON.stringify(event), { qos: 1, retain: true });
          m.events.inc({ rule: event.ruleId, state: event.state });
          log.info({ ruleId: t.ruleId, subjectId: t.subjectId, sensorId: t.sensorId, alertId: t.alertId, state: t.state, level: t.level, value: t.value }, 'alert state change');
        }),
      ).then(() => undefined);
    }

    const chain = createCommitChain({ store: d.store, state, faults: m.faults, logger: log, saved: () => m.sensors.set(state.sensors.size) });
    sub.on('connect', () => chain.reloadIfTainted());

    // A reading is acknowledged only after its alert events were acknowledged by the broker and the
    // engine state it produced is saved: groups of ≤200 messages, one state transaction each.
    const acks = groupCommitAcks<Evaluated | null>(sub, {
      maxBatch: 200,
      maxDelayMs: 5,
      logger: log,
      accept(topic, payload, packet) {
        const handle = (): Evaluated | null => {
          if (chain.tainted()) throw new Error('engine state is being restored after a failed commit');
          // A closure alert: only the retained copy (live copies of our own events carry retain=0 [MQTT-3.3.1-9]).
          if (parseAlertTopic(topic)) return packet.retain ? restoreFromRetained(state, d.clock.now(), payload, log) : null;
          const overridden = parseOverrideTopic(topic);
          if (overridden) return applyOverride(state, d.clock.now(), overridden, payload, log, publish);
          return evaluateMessage({ state, ctx: d.ctx(), now: d.clock.now(), m, log, publish }, topic, payload);
        };
        const restoring = chain.restoring();
        return restoring ? restoring.then(handle) : handle();
      },
      commit: (items) => chain.commitGroup(items),
    });

    ticker = repeat(d.clock, d.tickMs, () => offlineTick(state, d, chain, publish));

    await conns.connected(sub);
    await sub.subscribeAsync([topics.alertsOf(RULE_IDS.underpassClosure), topics.allReadings, topics.allOverrides], { qos: 1 });
    log.info({ clientId: d.clientId }, 'rules running');
    return {
      state,
      abort,
      async close() {
        ticker?.stop();
        acks.flush();
        await acks.settled();
        await chain.settled(); // a tick's save too, before the store closes
        await endClient(sub);
        await endClient(pub);
      },
    };
  }
}

/** Silent sensors: their offline alerts go out, and their state as of this tick is saved in commit order. */
function offlineTick(state: EngineState, d: ActiveDeps, chain: ReturnType<typeof createCommitChain>, publish: (t: Transition[]) => Promise<void>): void {
  let transitions: Transition[];
  try {
    ({ transitions } = tick(state, d.clock.now(), d.ctx()));
  } catch (err) {
    d.m.faults.inc({ where: 'tick' });
    d.log.error({ err }, 'the offline check failed');
    return;
  }
  if (transitions.length === 0) return;
  // The silent sensors' state as of this tick, saved in commit order — not their live state once
  // the events are out: a reading of one of them arriving meanwhile belongs to its own group,
  // whose events may still be on their way, and a save of it followed by a crash lost them.
  const snapshot = new Map<string, string>();
  for (const t of transitions) {
    const s = state.sensors.get(t.sensorId);
    if (s) snapshot.set(t.sensorId, serializeSensor(s));
  }
  chain.commitTick(publish(transitions), snapshot);
}

function safeJson(payload: Buffer): unknown {
  try {
    return JSON.parse(payload.toString('utf8'));
  } catch {
    return undefined;
  }
}
