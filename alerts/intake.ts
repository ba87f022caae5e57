/**
 * Alert events from the broker into the store: each message checked (an alert event, or ingest's
 * spool alarm), decided by the pure transitions, and written with its notices in one transaction
 * per group of messages. The caller acknowledges the group after `commit` returns
 * [MQTT-4.3.2-2], and wakes the outbox when it says something changed.
 */
import { AlertEvent, INGEST_SPOOL_RULE, SpoolAlarm, topics } from '../contracts/index.ts';
import type { Clock } from '../lib/clock.ts';
import type { Logger } from '../lib/logger.ts';
import type { Counter, Histogram } from '../lib/metrics.ts';
import { isoWithOffset } from '../lib/time.ts';
import type { DutyState, Place } from './addressing.ts';
import type { AlertStore, AlertTx, NewNotice } from './store.ts';
import { alertSource, decideOnEvent, spoolAlarmEvent } from './transitions.ts';

/** A message from the broker, checked: an alert event, or ingest's spool alarm (judged at commit). */
export type Incoming = { event: AlertEvent } | { alarm: SpoolAlarm } | undefined;

export interface IntakeDeps {
  store: AlertStore;
  clock: Clock;
  logger: Logger;
  events: Counter<string>;
  readingToAlert: Histogram<string>;
  placeOf(subjectId: string): Place;
  /** The police notices of a transition, numbered in the transaction that records them. */
  policeNotices(tx: AlertTx, event: AlertEvent, action: 'close' | 'reopen' | null): Promise<NewNotice[]>;
  /** Duty-channel messages (none for a silenced alert). */
  dutyMessages(db: AlertTx, event: AlertEvent, state: DutyState, place?: Place): Promise<NewNotice[]>;
  alertChanged(alertId: string): void;
}

export function createIntake(d: IntakeDeps) {
  const log = d.logger;

  /** One alert event into the store; true if it changed an alert (and may have queued notices). */
  async function apply(tx: AlertTx, event: AlertEvent): Promise<boolean> {
    const alog = log.child({ alertId: event.alertId, underpassId: event.subjectId });
    const decision = decideOnEvent(await tx.getAlert(event.alertId), event);
    d.events.inc({ outcome: decision.kind });
    const now = d.clock.now();
    if (decision.kind === 'open' || decision.kind === 'resolve' || decision.kind === 'update') d.readingToAlert.observe({ rule: event.ruleId }, Math.max(0, now - Date.parse(event.observedAt)) / 1000);
    const nowIso = isoWithOffset(now);
    if (decision.kind === 'open') {
      const place = d.placeOf(event.subjectId);
      await tx.openAlert(event, nowIso, [...(await d.policeNotices(tx, event, decision.notice)), ...(await d.dutyMessages(tx, event, 'firing', place))], now, { ...(place.site ? { site: place.site } : {}), ...(place.district ? { district: place.district } : {}) });
      alog.warn({ value: event.value, reason: event.reason }, 'alert firing');
    } else if (decision.kind === 'resolve') {
      await tx.resolveAlert(event, nowIso, [...(await d.policeNotices(tx, event, decision.notice)), ...(await d.dutyMessages(tx, event, 'resolved'))], now, alertSource(event.ruleId));
      alog.info({ value: event.value }, 'alert resolved');
    } else if (decision.kind === 'update') {
      await tx.updateAlert(event, nowIso, await d.dutyMessages(tx, event, 'update'), now);
      alog.warn({ severity: event.severity, level: event.level, value: event.value, reason: event.reason }, 'alert changed level');
    } else {
      alog.debug({ decision: decision.kind }, 'alert event changes nothing');
      return false;
    }
    d.alertChanged(event.alertId);
    return true;
  }

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
      d.events.inc({ outcome: 'invalid' });
      log.warn({ topic, issue: alarm.error.issues[0]?.message }, 'ignoring invalid spool alarm');
      return undefined;
    }
    const parsed = AlertEvent.safeParse(json);
    if (parsed.success) return { event: parsed.data };
    d.events.inc({ outcome: 'invalid' });
    log.warn({ topic, issue: parsed.error.issues[0]?.message }, 'ignoring invalid alert event');
    return undefined;
  }

  /**
   * A group of messages in one transaction (one fsync): one transaction per event blocked the
   * process's one thread for ~2.5 ms a time on `up` (SQLite synchronous=FULL). True if any changed.
   */
  function commit(items: Incoming[]): Promise<boolean> {
    return d.store.atomically(async (tx) => {
      let changed = false;
      for (const item of items) {
        if (!item) continue;
        const event = 'event' in item ? item.event : spoolAlarmEvent(item.alarm, (await tx.listAlerts({ state: 'firing', rule: INGEST_SPOOL_RULE, limit: 1 }))[0]);
        if (event && (await apply(tx, event))) changed = true;
      }
      return changed;
    });
  }

  return { accept, commit };
}
