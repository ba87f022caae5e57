/**
 * The alerts service's own clockwork, by a passed-in clock (tests drive it with manualClock):
 * - paging: waiting duty-channel messages become one message per group once the window is over;
 * - escalation: a critical alert nobody acknowledged within `escalateAfterMs` goes to the next tier.
 * A failing run is logged and the schedule goes on.
 */
import { repeat, type TimerClock } from '../lib/clock.ts';
import type { Logger } from '../lib/logger.ts';
import { isoWithOffset } from '../lib/time.ts';
import type { AlertEvent } from '../contracts/index.ts';
import { renderDutyGroup } from './channels.ts';
import type { AlertRecord, AlertStore, NewNotice } from './store.ts';

export interface SchedulesDeps {
  store: AlertStore;
  clock: TimerClock;
  logger: Logger;
  pageGroupMs: number;
  escalateAfterMs: number;
  escalateCheckMs: number;
  /** Is this alert silenced now (silenced alerts never escalate)? */
  silenced(a: AlertRecord): Promise<boolean>;
  /** The tier-2 messages of an escalation. */
  escalationMessages(event: AlertEvent): Promise<NewNotice[]>;
  /** Notices were queued: deliver them. */
  wakeOutbox(): void;
  /** An alert changed (escalated): the consoles follow. */
  alertChanged(alertId: string): void;
}

/** Flush due page groups into outbox notices; how many groups. */
export async function flushPages(d: Pick<SchedulesDeps, 'store' | 'clock' | 'pageGroupMs' | 'wakeOutbox'>): Promise<number> {
  const n = await d.store.flushPages(d.clock.now(), d.pageGroupMs, renderDutyGroup);
  if (n > 0) d.wakeOutbox();
  return n;
}

/** Escalate every critical alert nobody acknowledged in time (and not silenced); their ids. */
export async function escalateDue(d: Omit<SchedulesDeps, 'logger' | 'escalateCheckMs' | 'pageGroupMs'>, log?: Logger): Promise<string[]> {
  const now = d.clock.now();
  const done: string[] = [];
  for (const a of await d.store.dueForEscalation(now - d.escalateAfterMs)) {
    if (await d.silenced(a)) continue;
    const event = { ...a, state: 'firing' as const, level: a.level ?? undefined, observedAt: a.firedAt, changedAt: isoWithOffset(now) } as AlertEvent;
    const mins = Math.round(d.escalateAfterMs / 60_000);
    if (await d.store.markEscalated(a.alertId, isoWithOffset(now), await d.escalationMessages(event), now, `not acknowledged within ${mins} min`)) {
      log?.warn({ alertId: a.alertId, subjectId: a.subjectId }, 'critical alert not acknowledged in time: escalated');
      done.push(a.alertId);
      d.alertChanged(a.alertId);
    }
  }
  if (done.length > 0) d.wakeOutbox();
  return done;
}

export function startSchedules(d: SchedulesDeps): { stop(): void } {
  // One run at a time per schedule: a store that answers slowly is not asked again meanwhile.
  const guarded = (what: string, fn: () => Promise<unknown>) => {
    let running = false;
    return () => {
      if (running) return;
      running = true;
      fn()
        .catch((err: unknown) => d.logger.error({ err }, `${what} failed`))
        .finally(() => (running = false));
    };
  };
  const paging = repeat(d.clock, Math.min(1000, Math.max(50, Math.round(d.pageGroupMs / 4))), guarded('paging', () => flushPages(d)));
  const escalation = repeat(d.clock, d.escalateCheckMs, guarded('escalation check', () => escalateDue(d, d.logger)));
  return {
    stop() {
      paging.stop();
      escalation.stop();
    },
  };
}
