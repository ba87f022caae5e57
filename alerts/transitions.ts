/**
 * What an incoming alert event means for the alert record and for the police: pure decisions,
 * separated from storage and HTTP (the Grafana alerting way).
 */
import { INGEST_SPOOL_RULE, SPOOL_LEVEL_FROM, type AlertEvent, type SpoolAlarm } from '../contracts/index.ts';

export type AlertState = 'firing' | 'resolved';

export interface AlertRecordView {
  alertId: string;
  state: AlertState;
  severity?: string;
  level?: string | null;
}

export type EventDecision =
  | { kind: 'open'; notice: 'close' | null }
  | { kind: 'resolve'; notice: 'reopen' | null }
  | { kind: 'update' }
  | { kind: 'duplicate' }
  | { kind: 'late-resolve' };

/** Rules that produce road-closure notices for the police. */
export const NOTICE_RULES = new Set(['underpass-closure']);

export function decideOnEvent(existing: AlertRecordView | undefined, event: AlertEvent): EventDecision {
  const notifies = NOTICE_RULES.has(event.ruleId);
  if (event.state === 'firing') {
    if (!existing) return { kind: 'open', notice: notifies ? 'close' : null };
    // A firing alert that changes level or severity (rain: blue → yellow) is updated; the same
    // level again is a redelivered or retained copy: one notice per transition.
    const changed = existing.state === 'firing' && ((existing.severity !== undefined && existing.severity !== event.severity) || (existing.level ?? null) !== (event.level ?? null));
    return changed ? { kind: 'update' } : { kind: 'duplicate' };
  }
  if (!existing) return { kind: 'late-resolve' }; // never saw it fire: nothing was closed, nothing to reopen
  if (existing.state === 'resolved') return { kind: 'duplicate' };
  return { kind: 'resolve', notice: notifies ? 'reopen' : null };
}

/** Who raised an alert, for its audit trail: the outbox's and ingest's own alerts, or the rules. */
export function alertSource(ruleId: string): 'outbox' | 'ingest' | 'rules' {
  return ruleId === 'notice-delivery' ? 'outbox' : ruleId === INGEST_SPOOL_RULE ? 'ingest' : 'rules';
}

/**
 * ingest's spool alarm as a duty-officer alert event: `warning` → a warning alert (yellow),
 * `critical` → critical (orange), `full` → critical (red), `ok` → the firing one resolves. One episode keeps one alert id (the time its
 * first alarm was raised), so a level change is an update and a retained copy a duplicate
 * (decideOnEvent); undefined = nothing to do (`ok` with nothing firing).
 */
export function spoolAlarmEvent(alarm: SpoolAlarm, firing: Pick<AlertRecordView, 'alertId'> | undefined): AlertEvent | undefined {
  const pct = Math.min(100, Math.round((100 * alarm.bytes) / alarm.maxBytes));
  const waiting = `${alarm.rows} readings wait in ingest's spool (${pct}% of its ${Math.round(alarm.maxBytes / 2 ** 20)} MiB), the oldest for ${Math.round(alarm.oldestAgeS / 60)} min`;
  const params = { rows: alarm.rows, pct, oldestMin: Math.round(alarm.oldestAgeS / 60) };
  const common = { ruleId: INGEST_SPOOL_RULE, subjectId: 'ingest', sensorId: 'ingest', value: pct, unit: '%', observedAt: alarm.at, changedAt: alarm.at };
  if (alarm.level === 'ok') {
    if (!firing) return undefined;
    return { ...common, alertId: firing.alertId, state: 'resolved', severity: 'warning', threshold: 100 * SPOOL_LEVEL_FROM.warning, reason: `The store is taking readings again: ${waiting}.`, why: { key: 'spool.ok', params } };
  }
  const reason = {
    warning: `The reading store (InfluxDB) is not keeping up: ${waiting}. Nothing is lost yet; ask IT to check the store.`,
    critical: `The reading store (InfluxDB) has not taken readings for a while: ${waiting}. Nothing is lost yet; the store must be fixed before the spool is full.`,
    full: `Ingest's spool is full: ${waiting}. Ingest has stopped acknowledging readings and the broker is holding them; charts and history fall behind until the store is fixed. Alerts still work.`,
  }[alarm.level];
  return {
    ...common,
    alertId: firing?.alertId ?? `${INGEST_SPOOL_RULE}:${Date.parse(alarm.at)}`, // URL-friendly: no '+' or ':' of a time zone
    state: 'firing',
    severity: alarm.level === 'warning' ? 'warning' : 'critical',
    // The colour makes each level a change of the firing alert (decideOnEvent), so `full` after
    // `critical`, both critical, still reaches the duty officers.
    level: ({ warning: 'yellow', critical: 'orange', full: 'red' } as const)[alarm.level],
    threshold: 100 * SPOOL_LEVEL_FROM[alarm.level],
    reason,
    why: { key: `spool.${alarm.level}` as const, params },
  };
}

/** One logical notice per transition: the id is derived, so a replay maps to the same notice. */
export function noticeIdFor(alertId: string, action: 'close' | 'reopen'): string {
  return `${alertId}:${action}`;
}

// ---------------------------------------------------------------------------------------------
// Delivery outcome → next outbox state (DESIGN.md, Closure notice: 2xx delivered; network errors,
// 408, 429 and 5xx retried with backoff, honouring Retry-After; other 4xx fail for good).

export type DeliveryResult =
  | { kind: 'response'; status: number; retryAfterMs: number | undefined; detail?: string }
  | { kind: 'network'; error: string };

export type DeliveryDecision =
  | { next: 'delivered' }
  | { next: 'retry'; delayMs: number; error: string }
  | { next: 'failed'; error: string };

export function decideDelivery(result: DeliveryResult, backoffMs: number): DeliveryDecision {
  if (result.kind === 'network') return { next: 'retry', delayMs: backoffMs, error: result.error };
  const s = result.status;
  if (s >= 200 && s < 300) return { next: 'delivered' };
  const detail = result.detail ? ` (${result.detail})` : '';
  if (s === 408 || s === 429 || s >= 500) {
    return { next: 'retry', delayMs: Math.max(backoffMs, result.retryAfterMs ?? 0), error: `HTTP ${s}${detail}` };
  }
  return { next: 'failed', error: `HTTP ${s}: the endpoint refused the notice${detail}` };
}

// ---------------------------------------------------------------------------------------------
// Silences and escalation: pure decisions over an alert's place and the silences in force.

export interface AlertPlace {
  ruleId: string;
  subjectId: string;
  sensorId: string;
  site: string | null;
  district: string | null;
}

export interface SilenceMatcher {
  ruleId: string | null;
  sensor: string | null;
  site: string | null;
  district: string | null;
  until: number;
  endedAt: number | null;
}

/**
 * The silence that covers an alert, if any: every field the silence names must match (a sensor
 * by the alert's sensor or subject, a site by its site or subject, a district likewise). Silenced
 * alerts are still recorded and shown; they page nobody and never escalate. Police notices are
 * never silenced: a closed road must reach the police.
 */
export function silenceFor<S extends SilenceMatcher>(a: AlertPlace, silences: S[], nowMs: number): S | undefined {
  return silences.find(
    (s) =>
      s.endedAt === null &&
      s.until > nowMs &&
      (s.ruleId === null || s.ruleId === a.ruleId) &&
      (s.sensor === null || s.sensor === a.sensorId || s.sensor === a.subjectId) &&
      (s.site === null || s.site === a.site || s.site === a.subjectId) &&
      (s.district === null || s.district === a.district || s.district === a.subjectId),
  );
}
