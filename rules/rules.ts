/**
 * Rules engine: ponding readings → underpass closure alerts on
 * floodgate/alerts/underpass-closure/{underpassId} (QoS 1, retained = current state).
 *
 * Two connections: readings arrive on a persistent session and are PUBACKed only after the
 * resulting alert event was PUBACKed by the broker on the second connection (waiting for that
 * PUBACK on the reading connection would deadlock: mqtt.js handles one connection's packets
 * serially).
 */
import { ALERT_RULES, AlertEvent, parseAlertTopic, parseReadingPayload, parseSensorTopic, topics } from '../contracts/index.ts';
import { indexRegistry, UnderpassThresholds, type Registry } from '../config/registry.ts';
import { ackAfter, connectService, endClient, startClient } from '../lib/mqtt.ts';
import { counter, type Registry as Metrics } from '../lib/metrics.ts';
import type { Logger } from '../lib/logger.ts';
import type { Clock } from '../lib/clock.ts';
import { isoWithOffset } from '../lib/time.ts';
import { evaluateUnderpass, initialUnderpassState, type UnderpassEvent, type UnderpassState } from './underpass.ts';
import type { RulesConfig } from './config.ts';

export interface RulesDeps {
  logger: Logger;
  metrics: Metrics;
  registry: Registry;
  serviceSecret: string;
  clock: Clock;
}

export interface RulesHandle {
  /** Current state per underpass (read-only view, for tests and diagnostics). */
  state(underpassId: string): UnderpassState | undefined;
  close(): Promise<void>;
}

const DEFAULT_THRESHOLDS = UnderpassThresholds.parse({});

export async function createRules(config: RulesConfig, deps: RulesDeps): Promise<RulesHandle> {
  const log = deps.logger.child({ component: 'rules' });
  const index = indexRegistry(deps.registry);
  const states = new Map<string, UnderpassState>();
  const m = {
    evaluated: counter(deps.metrics, 'floodgate_rules_readings_evaluated_total', 'Readings evaluated by the rules engine', ['rule']),
    stale: counter(deps.metrics, 'floodgate_rules_readings_stale_total', 'Readings ignored as older than the last one seen', ['rule']),
    events: counter(deps.metrics, 'floodgate_rules_alert_events_total', 'Alert events published', ['rule', 'state']),
  };

  const common = { url: config.mqttUrl, service: 'rules', secret: deps.serviceSecret, logger: log };
  const pub = await connectService({ ...common, clientId: `${config.clientId}-pub`, clean: true });
  await startClient(pub);
  const sub = await connectService({ ...common, clientId: config.clientId, clean: false });

  function toAlertEvent(underpassId: string, sensorId: string, e: UnderpassEvent): AlertEvent {
    return AlertEvent.parse({
      alertId: e.alertId,
      ruleId: ALERT_RULES.underpassClosure,
      subjectId: underpassId,
      sensorId,
      state: e.type === 'close' ? 'firing' : 'resolved',
      severity: 'critical',
      value: e.depthCm,
      threshold: e.thresholdCm,
      unit: 'cm',
      observedAt: isoWithOffset(e.ts),
      changedAt: isoWithOffset(deps.clock.now()),
      reason: e.reason,
    });
  }

  ackAfter(
    sub,
    async (topic, payload, packet) => {
      const alertTopic = parseAlertTopic(topic);
      if (alertTopic) {
        // Retained alert state restores what we knew before a restart (only the retained copy:
        // live copies of our own events carry retain=0 [MQTT-3.3.1-9]).
        if (!packet.retain || alertTopic.ruleId !== ALERT_RULES.underpassClosure || states.has(alertTopic.subjectId)) return;
        const ev = AlertEvent.safeParse(safeJson(payload));
        if (!ev.success) return;
        const ts = Date.parse(ev.data.observedAt);
        states.set(
          alertTopic.subjectId,
          ev.data.state === 'firing'
            ? { phase: 'closed', lastTs: ts, run: undefined, alertId: ev.data.alertId, closedTs: ts }
            : { phase: 'open', lastTs: ts, run: undefined },
        );
        log.info({ underpassId: alertTopic.subjectId, state: ev.data.state }, 'restored alert state');
        return;
      }
      const t = parseSensorTopic(topic);
      if (!t || t.kind !== 'ponding' || t.leaf !== 'reading') return;
      const site = index.siteOfSensor(t.sensorId);
      if (!site || site.kind !== 'underpass') return; // ingest reports unknown sensors
      // Invalid readings are ingest's to reject and report; the rule only sees valid ones.
      const { readings } = parseReadingPayload('ponding', t.sensorId, payload);
      readings.sort((a, b) => a.ts - b.ts);
      const thresholds = site.underpass ?? DEFAULT_THRESHOLDS;
      let state = states.get(site.id) ?? initialUnderpassState;
      for (const r of readings) {
        m.evaluated.inc({ rule: ALERT_RULES.underpassClosure });
        const result = evaluateUnderpass(state, { ts: r.ts, depthCm: r.fields['depth_cm'] ?? 0 }, thresholds, site.id);
        if (result.stale) m.stale.inc({ rule: ALERT_RULES.underpassClosure });
        if (result.event) {
          const event = toAlertEvent(site.id, t.sensorId, result.event);
          // Retained: the topic always holds the underpass's current state for late subscribers.
          await pub.publishAsync(topics.alert(event.ruleId, event.subjectId), JSON.stringify(event), { qos: 1, retain: true });
          m.events.inc({ rule: event.ruleId, state: event.state });
          log.info({ underpassId: site.id, sensorId: t.sensorId, alertId: event.alertId, state: event.state, depthCm: event.value }, 'alert state change');
        }
        state = result.state;
        states.set(site.id, state);
      }
    },
    log,
  );

  await startClient(sub);
  await sub.subscribeAsync([topics.alertsOf(ALERT_RULES.underpassClosure), topics.readingsOf('ponding')], { qos: 1 });
  log.info({ clientId: config.clientId }, 'rules running');

  return {
    state: (id) => states.get(id),
    async close() {
      await endClient(sub);
      await endClient(pub);
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
