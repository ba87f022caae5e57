/**
 * Leadership by lease (pure). One instance per role is active: it holds a lease in a shared
 * database, renews it well before it runs out, and carries the lease's epoch (a fencing counter
 * that only rises) on everything it writes, so a write from a deposed leader can be told apart.
 *
 * What an instance may believe is decided here, from the attempts' outcomes alone. The database
 * counts the lease from when it received the renewal, which is after the instance sent it: an
 * instance therefore counts its own lease from the moment it *sent* the renewal, minus a margin for
 * clock rate differences, and stops acting as leader by then even if it cannot reach the
 * database to learn that someone else took over.
 */

export type LeaseView = { role: 'standby' } | { role: 'leader'; epoch: number; until: number };

export interface Attempt {
  /** Local (monotonic) time the renewal or acquisition was sent. */
  sentAt: number;
  /** The database's answer: we hold the lease at this epoch; null: someone else holds it; 'error': no answer. */
  outcome: { epoch: number } | null | 'error';
}

export interface LeaseTimes {
  ttlMs: number;
  /** Subtracted from the lease's end for clock rate differences and scheduling delays. */
  marginMs: number;
}

/** The view after an attempt. A failed one keeps a leader's lease only until its own deadline. */
export function afterAttempt(prev: LeaseView, a: Attempt, t: LeaseTimes): LeaseView {
  if (a.outcome === 'error') return prev;
  if (a.outcome === null) return { role: 'standby' };
  return { role: 'leader', epoch: a.outcome.epoch, until: a.sentAt + t.ttlMs - t.marginMs };
}

/** May this instance act as leader now? */
export function leads(view: LeaseView, now: number): view is { role: 'leader'; epoch: number; until: number } {
  return view.role === 'leader' && now < view.until;
}

/** A leader renews at a third of the lease, so two lost renewals in a row still leave it held. */
export const renewEveryMs = (t: LeaseTimes): number => Math.max(50, Math.floor(t.ttlMs / 3));

/**
 * A standby asks far more often (a tenth of the lease, at most a second): the takeover after a
 * leader dies comes at most this long after its lease ran out, so failover ≤ ttl + this.
 */
export const standbyEveryMs = (t: LeaseTimes): number => Math.max(50, Math.min(1000, Math.floor(t.ttlMs / 10)));

/** Is an attempt due now? A standby always; a leader once a renewal period has passed since its last one. */
export function attemptDue(view: LeaseView, lastSentAt: number, now: number, t: LeaseTimes): boolean {
  return view.role === 'standby' || now - lastSentAt >= renewEveryMs(t);
}
