/**
 * What every alerts store must do, as one suite run against each implementation (SQLite today;
 * a server database behind the same interface must pass it unchanged): transitions write their
 * notices atomically, a notice is queued once per recipient, a reopen never becomes due before its
 * close, resend re-queues in order, silences and acknowledgements behave as the API promises.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AlertEvent } from '../../contracts/index.ts';
import type { AlertStore, NewNotice } from '../store.ts';

const T0 = Date.parse('2026-07-01T10:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString();
const event = (n: number, state: 'firing' | 'resolved' = 'firing'): AlertEvent => ({ alertId: `underpass-closure:UP-00${n}:1`, ruleId: 'underpass-closure', subjectId: `UP-00${n}`, sensorId: `PD-00${n}`, state, severity: 'critical', value: 31, threshold: 25, unit: 'cm', observedAt: iso(T0), changedAt: iso(T0), reason: 'ponding above 25 cm' });
const notice = (e: AlertEvent, action: 'close' | 'reopen', recipient = 'police'): NewNotice => ({ noticeId: `${e.alertId}:${action}`, recipient, format: 'json', alertId: e.alertId, subjectId: e.subjectId, action, url: 'http://police.example/', secretRef: 'S', body: `{"action":"${action}"}` });

export function alertStoreContract(name: string, open: () => AlertStore | Promise<AlertStore>): void {
  describe(`alert store contract: ${name}`, () => {
    let s: AlertStore;
    beforeEach(async () => {
      s = await open();
    });
    afterEach(() => s.close());

    it('opens an alert with its notices, one per recipient, and queues a notice id once per recipient', async () => {
      const e = event(1);
      await s.openAlert(e, iso(T0), [notice(e, 'close'), notice(e, 'close', 'roads'), notice(e, 'close')], T0, { site: 'UP-001', district: 'pudong' });
      expect(await s.getAlert(e.alertId)).toMatchObject({ state: 'firing', site: 'UP-001', district: 'pudong', ackedAt: null, openedAt: T0 });
      expect((await s.listNotices({ limit: 10 })).map((n) => n.recipient).sort()).toEqual(['police', 'roads']);
      expect(await s.backlog()).toEqual({ n: 2, oldest: T0 });
      expect(await s.firingByRule()).toEqual({ 'underpass-closure': 1 });
    });

    it('writes all of a transaction or none of it', async () => {
      const e = event(1);
      await expect(
        s.atomically(async (tx) => {
          await tx.openAlert(e, iso(T0), [notice(e, 'close')], T0);
          throw new Error('the process failed half way');
        }),
      ).rejects.toThrow('half way');
      expect(await s.getAlert(e.alertId)).toBeUndefined();
      expect(await s.listNotices({ limit: 10 })).toEqual([]);
      expect(await s.atomically(async () => 42)).toBe(42);
      // Calls from outside wait for an open transaction instead of slipping into it (and being rolled back with it).
      let release!: () => void;
      let entered!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const inside = new Promise<void>((r) => (entered = r));
      const held = s.atomically(async (tx) => {
        await tx.openAlert(event(2), iso(T0), [], T0);
        entered();
        await gate;
        throw new Error('rolled back');
      });
      await inside;
      const outside = s.openAlert(event(3), iso(T0), [], T0);
      await new Promise((r) => setImmediate(r));
      release();
      await expect(held).rejects.toThrow('rolled back');
      await outside;
      expect([await s.getAlert(event(2).alertId), (await s.getAlert(event(3).alertId))?.state]).toEqual([undefined, 'firing']);
    });

    it("numbers each subject's notices: rising, per subject, and only what a transaction kept", async () => {
      expect([(await s.nextNoticeSequence('UP-001')), (await s.nextNoticeSequence('UP-001')), (await s.nextNoticeSequence('UP-002'))]).toEqual([1, 2, 1]);
      await expect(
        s.atomically(async (tx) => {
          await tx.nextNoticeSequence('UP-001');
          throw new Error('rolled back');
        }),
      ).rejects.toThrow('rolled back');
      expect(await s.nextNoticeSequence('UP-001')).toBeGreaterThan(2);
    });

    it('never makes a reopen due before its close is delivered, per recipient', async () => {
      const e = event(1);
      await s.openAlert(e, iso(T0), [notice(e, 'close')], T0);
      await s.resolveAlert({ ...event(1, 'resolved'), value: 3 }, iso(T0 + 1000), [notice(e, 'reopen')], T0 + 1000);
      expect((await s.dueNotices(T0 + 5000, 10)).map((n) => n.action)).toEqual(['close']);
      const close = (await s.dueNotices(T0 + 5000, 10))[0]!;
      await s.markRetry(close.seq, T0 + 60_000, 'HTTP 503', { attempt: 1, at: T0 + 2000, httpStatus: 503, latencyMs: 12 });
      expect(await s.dueNotices(T0 + 5000, 10)).toEqual([]); // the close waits for its retry, the reopen behind it
      expect(await s.nextDueAt()).toBe(T0 + 1000);
      await s.markDelivered(close.seq, T0 + 61_000, { attempt: 2, httpStatus: 200, latencyMs: 9, error: null });
      expect((await s.dueNotices(T0 + 61_000, 10)).map((n) => n.action)).toEqual(['reopen']);
      expect((await s.attempts(close.seq)).map((a) => [a.outcome, a.httpStatus])).toEqual([['retry', 503], ['delivered', 200]]);
      expect(await s.getAlert(e.alertId)).toMatchObject({ state: 'resolved', resolvedBy: 'rules', value: 3 });
    });

    it('resends a failed close with the reopen that failed behind it, in order', async () => {
      const e = event(1);
      await s.openAlert(e, iso(T0), [notice(e, 'close')], T0);
      await s.resolveAlert(event(1, 'resolved'), iso(T0), [notice(e, 'reopen')], T0);
      const [close, reopen] = (await s.listNotices({ limit: 10 })).reverse();
      await s.markFailed(close!.seq, 'too old', true, { attempt: 5, at: T0 + 1, httpStatus: null, latencyMs: 0 });
      expect((await s.noticesBlockedBehindFailure()).map((n) => n.seq)).toEqual([reopen!.seq]);
      await s.markFailed(reopen!.seq, 'blocked behind a failed close', false);
      expect(await s.noticeCounts()).toEqual({ failed: 2 });
      expect(await s.resend(close!.seq, T0 + 10)).toEqual([close!.seq, reopen!.seq]);
      expect(await s.resend(close!.seq, T0 + 10)).toEqual([]); // pending now: nothing to resend
      expect((await s.dueNotices(T0 + 10, 10)).map((n) => n.action)).toEqual(['close']);
    });

    it('acknowledges once (the first stands), many at a time, and keeps the audit trail', async () => {
      for (const n of [1, 2]) await s.openAlert(event(n), iso(T0), [], T0);
      expect(await s.ack(event(1).alertId, iso(T0 + 1), 'li', 'seen')).toBe(true);
      expect(await s.ack(event(1).alertId, iso(T0 + 2), 'wang', 'me too')).toBe(false);
      expect(await s.ackMany([event(1).alertId, event(2).alertId, 'nope'], iso(T0 + 3), 'zhao', null)).toEqual({ acknowledged: [event(2).alertId], already: [event(1).alertId], unknown: ['nope'] });
      await s.addNote(event(1).alertId, iso(T0 + 4), 'li', 'road checked');
      expect((await s.auditOf(event(1).alertId)).map((a) => [a.who, a.action, a.note])).toEqual([
        ['rules', 'fired', 'ponding above 25 cm'],
        ['li', 'acknowledged', 'seen'],
        ['li', 'note', 'road checked'],
      ]);
      expect(await s.listAlerts({ acked: false, limit: 10 })).toEqual([]);
    });

    it('ends an "until resolved" silence with its alert, and others at their time', async () => {
      await s.openAlert(event(1), iso(T0), [], T0);
      const [a, b] = (await s.addSilences([
        { ruleId: null, sensor: null, site: 'UP-001', district: null, until: T0 + 3_600_000, reason: 'inspected', createdBy: 'li', createdAt: T0, alertId: event(1).alertId },
        { ruleId: 'sensor-offline', sensor: null, site: null, district: 'pudong', until: T0 + 60_000, reason: 'works', createdBy: 'li', createdAt: T0, alertId: null },
      ]));
      expect((await s.activeSilences(T0 + 1)).map((x) => x.id)).toEqual([a, b]);
      expect((await s.activeSilences(T0 + 60_000)).map((x) => x.id)).toEqual([a]);
      await s.resolveAlert(event(1, 'resolved'), iso(T0 + 2), [], T0 + 2);
      expect((await s.activeSilences(T0 + 3)).map((x) => x.id)).toEqual([b]);
      expect(await s.endSilence(b!, T0 + 4)).toBe(true);
      expect(await s.endSilence(b!, T0 + 5)).toBe(false);
    });

    it('escalates once, and only what is due', async () => {
      await s.openAlert(event(1), iso(T0), [], T0);
      await s.openAlert(event(2), iso(T0), [], T0 + 5000);
      expect((await s.dueForEscalation(T0 + 1000)).map((a) => a.alertId)).toEqual([event(1).alertId]);
      expect(await s.markEscalated(event(1).alertId, iso(T0 + 1000), [], T0 + 1000, 'late')).toBe(true);
      expect(await s.markEscalated(event(1).alertId, iso(T0 + 2000), [], T0 + 2000, 'late')).toBe(false);
      expect((await s.dueForEscalation(T0 + 10_000)).map((a) => a.alertId)).toEqual([event(2).alertId]);
    });
  });
}
