import { describe, expect, it } from 'vitest';
import { afterAttempt, attemptDue, leads, renewEveryMs, standbyEveryMs, type Attempt, type LeaseView } from './lease.ts';

const t = { ttlMs: 15_000, marginMs: 2_000 };
const standby: LeaseView = { role: 'standby' };
const leader = (epoch: number, until: number): LeaseView => ({ role: 'leader', epoch, until });

describe('lease view', () => {
  it.each<[string, LeaseView, Attempt, LeaseView]>([
    ['a standby that wins leads until sent + ttl − margin', standby, { sentAt: 1000, outcome: { epoch: 3 } }, leader(3, 14_000)],
    ['a standby that loses stays standby', standby, { sentAt: 1000, outcome: null }, standby],
    ['a leader that renews extends from the send, not the answer', leader(3, 14_000), { sentAt: 6000, outcome: { epoch: 3 } }, leader(3, 19_000)],
    ['a leader whose renewal is refused steps down at once', leader(3, 14_000), { sentAt: 6000, outcome: null }, standby],
    ['a leader that cannot reach the database keeps only its own deadline', leader(3, 14_000), { sentAt: 6000, outcome: 'error' }, leader(3, 14_000)],
    ['a standby that cannot reach the database stays standby', standby, { sentAt: 6000, outcome: 'error' }, standby],
  ])('%s', (_c, prev, a, next) => {
    expect(afterAttempt(prev, a, t)).toEqual(next);
  });

  it.each([
    [standby, 0, false],
    [leader(1, 14_000), 13_999, true],
    [leader(1, 14_000), 14_000, false],
  ] as const)('leads(%j, %i) is %s', (view, now, want) => {
    expect(leads(view, now)).toBe(want);
  });

  it('renews three times within a lease, so two lost renewals in a row still leave it held', () => {
    expect(renewEveryMs(t)).toBe(5000);
    expect(3 * renewEveryMs(t)).toBeLessThanOrEqual(t.ttlMs);
  });

  it('a standby asks every second at most, so it takes over within a second of the lease running out', () => {
    expect(standbyEveryMs(t)).toBe(1000);
    expect(standbyEveryMs({ ttlMs: 2000, marginMs: 300 })).toBe(200);
  });

  it.each([
    ['a standby: always', standby, 0, 100, true],
    ['a leader, renewed 4.9 s ago: not yet', leader(1, 14_000), 1000, 5900, false],
    ['a leader, renewed 5 s ago: renew', leader(1, 14_000), 1000, 6000, true],
  ] as const)('attempt due? %s', (_c, view, last, now, want) => {
    expect(attemptDue(view, last, now, t)).toBe(want);
  });
});
