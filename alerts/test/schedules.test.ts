/**
 * Paging and escalation on a clock the test moves: a critical alert nobody acknowledged is
 * escalated when the clock passes `escalateAfterMs`, not a moment before, and only once; a
 * silenced or acknowledged one never is; duty messages wait for the grouping window. Over a real
 * SQLite store (in memory); no real time passes.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { manualClock } from '../../lib/clock.ts';
import { silentLogger } from '../../lib/logger.ts';
import { isoWithOffset } from '../../lib/time.ts';
import type { AlertEvent } from '../../contracts/index.ts';
import { openAlertStore } from '../sqlite-store.ts';
import { startSchedules } from '../schedules.ts';
import type { AlertStore, NewNotice } from '../store.ts';

const MIN = 60_000;
const event = (n: number, severity: AlertEvent['severity'] = 'critical'): AlertEvent => ({ alertId: `underpass-closure:UP-00${n}:1`, ruleId: 'underpass-closure', subjectId: `UP-00${n}`, sensorId: `PD-00${n}`, state: 'firing', severity, value: 31, threshold: 25, unit: 'cm', observedAt: '2026-07-01T18:00:00+08:00', changedAt: '2026-07-01T18:00:01+08:00', reason: 'x' });
const page = (e: AlertEvent, state: 'firing' | 'escalated'): NewNotice => ({ noticeId: `${e.alertId}:${state}`, recipient: state === 'escalated' ? 'lead' : 'duty', format: 'webhook', alertId: e.alertId, subjectId: e.subjectId, action: state, url: 'http://duty.example/', secretRef: '', body: '', page: { groupKey: `${state}|${e.ruleId}|pudong`, message: { alertId: e.alertId, ruleId: e.ruleId, subjectId: e.subjectId, place: '', state, severity: e.severity, value: e.value, unit: e.unit, reason: e.reason, observedAt: e.observedAt } } });

describe('paging and escalation by the clock', () => {
  let store: AlertStore | undefined;
  afterEach(() => store?.close());

  function setUp(silenced: (id: string) => boolean = () => false) {
    const clock = manualClock(Date.parse('2026-07-01T10:00:00Z'));
    store = openAlertStore(':memory:');
    const s = store;
    const seen = { wakes: 0, changed: [] as string[] };
    const schedules = startSchedules({
      store: s,
      clock,
      logger: silentLogger,
      pageGroupMs: 60_000,
      escalateAfterMs: 10 * MIN,
      escalateCheckMs: 10_000,
      silenced: async (a) => silenced(a.alertId),
      escalationMessages: async (e) => [page(e, 'escalated')],
      wakeOutbox: () => seen.wakes++,
      alertChanged: (id) => seen.changed.push(id),
    });
    const open = (e: AlertEvent) => s.openAlert(e, isoWithOffset(clock.now()), [page(e, 'firing')], clock.now());
    return { clock, s, seen, schedules, open };
  }

  it('escalates an unacknowledged critical alert once, after the time and not before', async () => {
    const { clock, s, seen, schedules, open } = setUp();
    await open(event(1));
    await open(event(2));
    await open(event(3, 'warning'));
    await s.ack(event(2).alertId, isoWithOffset(clock.now()), 'officer', null);
    await clock.advanceAsync(10 * MIN - 10_001);
    expect((await s.getAlert(event(1).alertId))!.escalatedAt).toBeNull();
    await clock.advanceAsync(20_000);
    expect(seen.changed).toEqual([event(1).alertId]);
    expect((await s.getAlert(event(1).alertId))!.escalatedAt).not.toBeNull();
    expect((await s.getAlert(event(2).alertId))!.escalatedAt).toBeNull(); // acknowledged
    expect((await s.getAlert(event(3).alertId))!.escalatedAt).toBeNull(); // not critical
    await clock.advanceAsync(60 * MIN);
    expect(seen.changed).toEqual([event(1).alertId]); // once
    expect((await s.auditOf(event(1).alertId)).map((a) => a.action)).toEqual(['fired', 'escalated']);
    schedules.stop();
  });

  it('never escalates a silenced alert', async () => {
    const { clock, s, seen, schedules, open } = setUp(() => true);
    await open(event(1));
    await clock.advanceAsync(60 * MIN);
    expect(seen.changed).toEqual([]);
    expect((await s.getAlert(event(1).alertId))!.escalatedAt).toBeNull();
    schedules.stop();
  });

  it('holds duty messages for the grouping window, then sends each group as one notice', async () => {
    const { clock, s, seen, schedules, open } = setUp();
    await open(event(1));
    await open(event(2));
    await clock.advanceAsync(59_000);
    expect([(await s.pendingPages()), (await s.listNotices({ limit: 10 })).length, seen.wakes]).toEqual([2, 0, 0]);
    await clock.advanceAsync(2_000);
    expect(await s.pendingPages()).toBe(0);
    const sent = await s.listNotices({ limit: 10 });
    expect(sent.map((n) => [n.recipient, n.subjectId])).toEqual([['duty', 'firing|underpass-closure|pudong']]);
    expect(seen.wakes).toBe(1);
    schedules.stop();
    expect(clock.pending()).toBe(0);
  });
});
