/**
 * The outbox worker: delivers due notices, records each outcome, and turns a notice that fails
 * for good into an alert for the duty officers. Decisions come from transitions.ts; this file
 * only does the I/O and scheduling.
 */
import { backoffDelay, type BackoffPolicy } from '../lib/backoff.ts';
import { counter, type Registry as Metrics } from '../lib/metrics.ts';
import type { Logger } from '../lib/logger.ts';
import type { Clock } from '../lib/clock.ts';
import { isoWithOffset } from '../lib/time.ts';
import type { AlertStore, NoticeRecord } from './store.ts';
import { decideDelivery } from './transitions.ts';
import type { NoticeTarget, Notifier } from './police-notifier.ts';

export interface OutboxDeps {
  store: AlertStore;
  notifier: Notifier;
  resolveTarget(notice: NoticeRecord): NoticeTarget | { error: string };
  logger: Logger;
  metrics: Metrics;
  clock: Clock;
  backoff: BackoffPolicy;
  /** Idle poll period; new notices also wake the worker at once. */
  pollMs: number;
}

export interface Outbox {
  wake(): void;
  /** Run one pass now (tests); resolves when it is done. */
  runOnce(): Promise<void>;
  close(): Promise<void>;
}

export function createOutbox(deps: OutboxDeps): Outbox {
  const { store, clock } = deps;
  const log = deps.logger.child({ component: 'outbox' });
  const m = {
    attempts: counter(deps.metrics, 'floodgate_notices_attempts_total', 'Notice delivery attempts by outcome', ['outcome']),
    failed: counter(deps.metrics, 'floodgate_notices_failed_total', 'Notices that failed for good'),
    errors: counter(deps.metrics, 'floodgate_outbox_errors_total', 'Unexpected outbox worker faults'),
  };
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let closed = false;
  let again = false;

  function failForGood(n: NoticeRecord, error: string, attempted: boolean) {
    store.markFailed(n.seq, error, attempted);
    m.failed.inc();
    const nowIso = isoWithOffset(clock.now());
    // A closure the police never received is a duty officer's problem now: raise it as an alert.
    store.openAlert(
      {
        alertId: `notice-delivery:${n.noticeId}`,
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
        reason: `${n.action} notice ${n.noticeId} for ${n.subjectId} could not be delivered: ${error}. Inform traffic police by phone.`,
      },
      nowIso,
      null,
      clock.now(),
    );
    log.error({ noticeId: n.noticeId, underpassId: n.subjectId, error }, 'notice failed for good; raised a duty-officer alert');
  }

  async function deliver(n: NoticeRecord): Promise<void> {
    const nlog = log.child({ noticeId: n.noticeId, underpassId: n.subjectId, action: n.action });
    const target = deps.resolveTarget(n);
    if ('error' in target) return failForGood(n, target.error, false);
    const result = await deps.notifier.send(target, n.noticeId, n.body, clock.now());
    const decision = decideDelivery(result, backoffDelay(n.attempts, deps.backoff));
    m.attempts.inc({ outcome: decision.next });
    if (decision.next === 'delivered') {
      store.markDelivered(n.seq, clock.now());
      nlog.info({ attempts: n.attempts + 1 }, 'notice delivered');
    } else if (decision.next === 'retry') {
      store.markRetry(n.seq, clock.now() + decision.delayMs, decision.error);
      nlog.warn({ error: decision.error, attempts: n.attempts + 1, retryInMs: decision.delayMs }, 'notice delivery failed; will retry');
    } else {
      failForGood(n, decision.error, true);
    }
  }

  async function pass(): Promise<void> {
    // A notice queued behind one that failed for good is never sent out of order: it fails too.
    for (const n of store.noticesBlockedBehindFailure()) failForGood(n, 'an earlier notice for this underpass failed for good', false);
    for (;;) {
      const due = store.dueNotices(clock.now(), 16);
      if (due.length === 0) return;
      // One notice per underpass at a time, in order; different underpasses in parallel.
      const heads = new Map<string, NoticeRecord>();
      for (const n of due) if (!heads.has(n.subjectId)) heads.set(n.subjectId, n);
      await Promise.all([...heads.values()].map(deliver));
      if (closed) return;
    }
  }

  function schedule() {
    if (closed) return;
    clearTimeout(timer);
    const next = store.nextDueAt();
    const delay = next === null ? deps.pollMs : Math.min(deps.pollMs, Math.max(0, next - clock.now()));
    timer = setTimeout(kick, delay);
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
        } else schedule();
      });
  }

  schedule();
  return {
    wake: kick,
    async runOnce() {
      kick();
      while (running) await running;
    },
    async close() {
      closed = true;
      clearTimeout(timer);
      await running;
    },
  };
}
