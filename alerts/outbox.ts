/**
 * The outbox worker: delivers due notices, records each outcome, and turns a notice that fails
 * for good into an alert for the duty officers. Decisions come from transitions.ts; this file
 * only does the I/O and scheduling.
 */
import { backoffDelay, type BackoffPolicy } from '../lib/backoff.ts';
import { deliveryHistogram } from './metrics.ts';
import { counter, type Counter, type Registry as Metrics } from '../lib/metrics.ts';
import type { Logger } from '../lib/logger.ts';
import type { TimerClock, TimerHandle } from '../lib/clock.ts';
import { isoWithOffset } from '../lib/time.ts';
import type { AlertStore, NewNotice, NoticeRecord } from './store.ts';
import type { AlertEvent } from '../contracts/index.ts';
import { decideDelivery } from './transitions.ts';
import type { NoticeTarget, Notifier } from './police-notifier.ts';

export interface OutboxDeps {
  store: AlertStore;
  notifier: Notifier;
  resolveTarget(notice: NoticeRecord): NoticeTarget | { error: string };
  logger: Logger;
  metrics: Metrics;
  /** The time, and the timer that wakes the worker when the next notice falls due (tests move it by hand). */
  clock: TimerClock;
  backoff: BackoffPolicy;
  /** Idle poll period; new notices also wake the worker at once. */
  pollMs: number;
  /** Not delivered this long after being queued: failed for good, escalated. */
  maxAgeMs: number;
  /** Called after any delivery outcome (the console's live stream): the notice, and the alert it may have raised. */
  onChange?(change: { notices: number[]; alerts?: string[] }): void;
  /** Messages announcing an escalation on the duty officers' channels (not the one that failed). */
  escalationNotices?(event: AlertEvent, failedRecipient: string): Promise<NewNotice[]>;
}

export interface Outbox {
  wake(): void;
  /** Run one pass now (tests); resolves when it is done. */
  runOnce(): Promise<void>;
  close(): Promise<void>;
}

/** The duty-officer alert of a notice that failed for good (one per notice and recipient). */
const escalationId = (n: NoticeRecord) => `notice-delivery:${n.noticeId}:${n.recipient}`;

type Attempt = { at: number; attempt: number; httpStatus: number | null; latencyMs: number };

/**
 * Failing a notice for good: recorded, counted, and raised as an alert for the duty officers (or
 * the earlier escalation brought back when a resent notice fails again).
 */
function failsForGood(deps: OutboxDeps, failed: Counter<string>, log: Logger) {
  const { store, clock } = deps;
  return async function failForGood(n: NoticeRecord, error: string, attempt?: Attempt): Promise<void> {
    await store.markFailed(n.seq, error, attempt !== undefined, attempt);
    failed.inc();
    deps.onChange?.({ notices: [n.seq], alerts: [escalationId(n)] });
    const nowIso = isoWithOffset(clock.now());
    const existing = await store.getAlert(escalationId(n));
    if (existing?.state === 'firing') return; // a resent notice failing again: already escalated
    // A closure the police never received is a duty officer's problem now: raise it as an alert.
    if (existing) {
      // Failed again after a resend: the resolved escalation comes back.
      await store.refireAlert(escalationId(n), `${n.action} notice for ${n.subjectId} to ${n.recipient} failed again: ${error}`, nowIso, { key: 'delivery.failed', params: { action: n.action, subject: n.subjectId, recipient: n.recipient } });
      return;
    }
    const escalation: AlertEvent = {
      alertId: escalationId(n),
      ruleId: 'notice-delivery',
      subjectId: n.subjectId,
      sensorId: '',
      state: 'firing',
      severity: 'critical',
      value: 0,
      threshold: 0,
      unit: '',
      observedAt: nowIso,
      changedAt: nowIso,
      reason: `${n.action} notice ${n.noticeId} for ${n.subjectId} could not be delivered to ${n.recipient}: ${error}. Inform them by phone, then resend it from the console.`,
      why: { key: 'delivery.failed', params: { action: n.action, subject: n.subjectId, recipient: n.recipient } },
    };
    await store.openAlert(escalation, nowIso, (await deps.escalationNotices?.(escalation, n.recipient)) ?? [], clock.now());
    log.error({ noticeId: n.noticeId, underpassId: n.subjectId, recipient: n.recipient, error }, 'notice failed for good; raised a duty-officer alert');
  };
}

/** A delivered notice recorded with its attempt; delivered after a resend, its escalation is over. */
async function recordDelivered({ store, clock }: OutboxDeps, n: NoticeRecord, attempt: Attempt): Promise<void> {
  await store.markDelivered(n.seq, clock.now(), { attempt: attempt.attempt, httpStatus: attempt.httpStatus, latencyMs: attempt.latencyMs, error: null });
  const esc = await store.getAlert(escalationId(n));
  if (esc?.state !== 'firing') return;
  const nowIso = isoWithOffset(clock.now());
  await store.resolveAlert({ alertId: esc.alertId, observedAt: nowIso, value: 0, reason: `delivered to ${n.recipient} on attempt ${attempt.attempt}`, why: { key: 'delivery.ok', params: { recipient: n.recipient, attempt: attempt.attempt } } }, nowIso, [], clock.now());
}

const outboxMetrics = (metrics: Metrics) => ({
  attempts: counter(metrics, 'floodgate_notices_attempts_total', 'Notice delivery attempts by outcome', ['outcome']),
  failed: counter(metrics, 'floodgate_notices_failed_total', 'Notices that failed for good'),
  errors: counter(metrics, 'floodgate_outbox_errors_total', 'Unexpected outbox worker faults'),
  delivery: deliveryHistogram(metrics),
});

/** One attempt at a notice: sent, and its outcome recorded (delivered, retry later, or failed for good). */
function deliverer(deps: OutboxDeps, m: ReturnType<typeof outboxMetrics>, log: Logger, failForGood: ReturnType<typeof failsForGood>) {
  const { store, clock } = deps;
  return async function deliver(n: NoticeRecord): Promise<void> {
    const nlog = log.child({ noticeId: n.noticeId, underpassId: n.subjectId, action: n.action });
    const target = deps.resolveTarget(n);
    if ('error' in target) return failForGood(n, target.error);
    const at = clock.now();
    const started = performance.now();
    const result = await deps.notifier.send(target, n.noticeId, n.body, at);
    const attempt = { at, attempt: n.attempts + 1, httpStatus: result.kind === 'response' ? result.status : null, latencyMs: Math.round(performance.now() - started) };
    const decision = decideDelivery(result, backoffDelay(n.attempts, deps.backoff));
    m.attempts.inc({ outcome: decision.next });
    deps.onChange?.({ notices: [n.seq], alerts: [escalationId(n)] });
    if (decision.next === 'delivered') {
      await recordDelivered(deps, n, attempt);
      m.delivery.observe({ recipient: n.recipient }, Math.max(0, clock.now() - n.queuedAt) / 1000);
      nlog.info({ attempts: attempt.attempt, recipient: n.recipient }, 'notice delivered');
    } else if (decision.next === 'retry') {
      await store.markRetry(n.seq, clock.now() + decision.delayMs, decision.error, attempt);
      nlog.warn({ error: decision.error, attempts: attempt.attempt, recipient: n.recipient, retryInMs: decision.delayMs }, 'notice delivery failed; will retry');
    } else {
      await failForGood(n, decision.error, attempt);
    }
  };
}

/** Deliveries in flight at once, each to its own lane. */
const MAX_IN_FLIGHT = 32;

export function createOutbox(deps: OutboxDeps): Outbox {
  const { store, clock } = deps;
  const log = deps.logger.child({ component: 'outbox' });
  const m = outboxMetrics(deps.metrics);
  let timer: TimerHandle | undefined;
  let running: Promise<void> | undefined;
  let closed = false;
  let again = false;

  const failForGood = failsForGood(deps, m.failed, log);

  const deliver = deliverer(deps, m, log, failForGood);

  /**
   * One delivery in flight per lane (underpass and recipient): a lane's notices go in order, and
   * lanes do not wait for each other. A pass used to wait for all of its deliveries, so one
   * recipient that did not answer held every other district's notices for the HTTP timeout (10 s)
   * on each pass.
   */
  const inFlight = new Map<string, { seq: number; done: Promise<void> }>();
  const laneOf = (n: NoticeRecord) => `${n.subjectId}\u0000${n.recipient}`;
  const busy = (n: NoticeRecord) => inFlight.get(laneOf(n))?.seq === n.seq;

  function dispatch(n: NoticeRecord) {
    const lane = laneOf(n);
    const done = deliver(n)
      .catch((err: unknown) => {
        m.errors.inc();
        log.error({ err, noticeId: n.noticeId }, 'notice delivery failed unexpectedly');
      })
      .finally(() => {
        inFlight.delete(lane);
        kick(); // the lane's next notice, if any
      });
    inFlight.set(lane, { seq: n.seq, done });
  }

  async function pass(): Promise<void> {
    // A notice queued behind one that failed for good is never sent out of order: it fails too.
    // A notice the recipient has not taken within the maximum age is stale: a duty officer phones.
    // (One being sent now is judged when its attempt ends.)
    for (const n of await store.expiredNotices(clock.now() - deps.maxAgeMs)) if (!busy(n)) await failForGood(n, `not delivered within ${Math.round(deps.maxAgeMs / 1000)} s (last error: ${n.lastError ?? 'none'})`);
    for (const n of await store.noticesBlockedBehindFailure()) if (!busy(n)) await failForGood(n, 'an earlier notice for this underpass failed for good');
    // The head of each lane that is due and not already on its way, up to MAX_IN_FLIGHT at once.
    for (const n of await store.dueNotices(clock.now(), inFlight.size + MAX_IN_FLIGHT)) {
      if (closed || inFlight.size >= MAX_IN_FLIGHT) return;
      if (!inFlight.has(laneOf(n))) dispatch(n);
    }
  }

  async function schedule(): Promise<void> {
    if (closed) return;
    const next = await store.nextDueAt();
    if (closed) return;
    clock.clearTimeout(timer);
    // A due notice may be one in flight: its attempt's end wakes the worker, so do not spin.
    const dueNow = next !== null && next <= clock.now();
    const delay = next === null || (dueNow && inFlight.size > 0) ? deps.pollMs : Math.min(deps.pollMs, Math.max(0, next - clock.now()));
    timer = clock.setTimeout(kick, delay);
  }

  function kick() {
    if (closed) return;
    if (running) {
      again = true;
      return;
    }
    running = pass()
      .catch((err: unknown) => {
        m.errors.inc();
        log.error({ err }, 'outbox pass failed');
      })
      .finally(() => {
        running = undefined;
        if (again) {
          again = false;
          kick();
        } else rescheduled();
      });
  }

  /** The next pass by the store's next due time; if the store cannot say, by the idle poll. */
  function rescheduled(): void {
    schedule().catch((err: unknown) => {
      m.errors.inc();
      log.error({ err }, 'outbox could not read its next due time');
      if (!closed) timer = clock.setTimeout(kick, deps.pollMs);
    });
  }

  rescheduled();
  return {
    wake: kick,
    async runOnce() {
      kick();
      // Until the pass and every delivery it started (and the lanes' next notices) are done.
      while (running || inFlight.size > 0) await Promise.all([running, ...[...inFlight.values()].map((f) => f.done)]);
    },
    async close() {
      closed = true;
      clock.clearTimeout(timer);
      await running;
      await Promise.all([...inFlight.values()].map((f) => f.done));
    },
  };
}
