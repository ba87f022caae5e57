/**
 * The lease (lib/lease.ts) kept in PostgreSQL: one row per role with its holder, its epoch (the
 * fencing counter) and when it runs out, by the database's clock, so the instances' clocks never
 * have to agree. Taking over a lease that ran out raises the epoch; renewing keeps it. Both are
 * single statements, so two instances racing for a lease cannot both win.
 */
import type { Pool } from 'pg';
import { repeat, type TimerClock } from './clock.ts';
import type { Logger } from './logger.ts';
import { migrate, type Migration } from './pg-migrate.ts';
import { afterAttempt, attemptDue, leads, standbyEveryMs, type LeaseTimes, type LeaseView } from './lease.ts';

export const leaseMigration: Migration = {
  version: 1,
  name: 'leases',
  sql: 'CREATE TABLE leases (role text PRIMARY KEY, holder text NOT NULL, epoch bigint NOT NULL, expires_at timestamptz NOT NULL)',
};

/** One attempt: renew if we hold it, else take it if it is free or ran out. Our epoch, or null. */
export async function tryLease(pool: Pool, role: string, holder: string, ttlMs: number): Promise<{ epoch: number } | null> {
  const r = await pool.query<{ epoch: string; holder: string }>(
    `INSERT INTO leases (role, holder, epoch, expires_at) VALUES ($1, $2, 1, clock_timestamp() + $3 * interval '1 millisecond')
     ON CONFLICT (role) DO UPDATE SET
       holder = excluded.holder,
       epoch = CASE WHEN leases.holder = excluded.holder AND leases.expires_at > clock_timestamp() THEN leases.epoch ELSE leases.epoch + 1 END,
       expires_at = excluded.expires_at
     WHERE leases.holder = excluded.holder AND leases.expires_at > clock_timestamp() OR leases.expires_at <= clock_timestamp()
     RETURNING epoch, holder`,
    [role, holder, ttlMs],
  );
  const row = r.rows[0];
  return row && row.holder === holder ? { epoch: Number(row.epoch) } : null;
}

/** Give the lease up at once (a clean shutdown): the standby need not wait for it to run out. */
export async function releaseLease(pool: Pool, role: string, holder: string): Promise<void> {
  await pool.query('UPDATE leases SET expires_at = clock_timestamp() WHERE role = $1 AND holder = $2', [role, holder]);
}

export interface LeaseHandle {
  view(): LeaseView;
  /** The epoch while this instance leads, else undefined. */
  epoch(): number | undefined;
  close(): Promise<void>;
}

/** Hold (or wait for) the lease of `role`, attempting every third of its time; `onChange` hears of every change of role. */
export function holdLease(o: { pool: Pool; role: string; holder: string; times: LeaseTimes; clock: TimerClock; logger: Logger; onChange?(view: LeaseView): void }): LeaseHandle {
  let view: LeaseView = { role: 'standby' };
  let closed = false;
  let running: Promise<void> = Promise.resolve();
  let lastSentAt = 0;
  let busy = false;
  let failures = 0;
  const attempt = async () => {
    const sentAt = o.clock.now();
    lastSentAt = sentAt;
    let outcome: { epoch: number } | null | 'error';
    try {
      outcome = await tryLease(o.pool, o.role, o.holder, o.times.ttlMs);
      if (failures > 0) o.logger.warn({ role: o.role, failedAttempts: failures }, 'the database answers again for the lease');
      failures = 0;
    } catch (err) {
      // Said once when it starts and every 30 attempts after (an outage asks every second), not
      // a line with a stack per attempt.
      if (failures % 30 === 0) o.logger.error({ err: (err as Error).message, role: o.role, failedAttempts: failures + 1 }, failures === 0 ? 'could not reach the database for the lease; trying again every second' : 'still cannot reach the database for the lease');
      failures++;
      outcome = 'error';
    }
    if (closed) return;
    const before = view;
    view = afterAttempt(view, { sentAt, outcome }, o.times);
    if (before.role !== view.role || (before.role === 'leader' && view.role === 'leader' && before.epoch !== view.epoch)) {
      o.logger.warn({ role: o.role, holder: o.holder, now: view.role, epoch: view.role === 'leader' ? view.epoch : undefined }, view.role === 'leader' ? 'took the lease: active' : 'lost the lease: standby');
      o.onChange?.(view);
    }
  };
  const timer = repeat(o.clock, standbyEveryMs(o.times), () => {
    // A leader whose own deadline passed without a renewal stands down now, reachable or not.
    if (view.role === 'leader' && !leads(view, o.clock.now())) {
      view = { role: 'standby' };
      o.logger.warn({ role: o.role, holder: o.holder }, 'lease ran out without a renewal: standby');
      o.onChange?.(view);
    }
    // One attempt at a time: a database that answers slowly is not asked again meanwhile.
    if (busy || !attemptDue(view, lastSentAt, o.clock.now(), o.times)) return;
    busy = true;
    running = running.then(attempt).finally(() => (busy = false));
  });
  busy = true;
  running = attempt().finally(() => (busy = false));
  return {
    view: () => (leads(view, o.clock.now()) ? view : { role: 'standby' }),
    epoch: () => (leads(view, o.clock.now()) ? view.epoch : undefined),
    async close() {
      closed = true;
      timer.stop();
      await running;
      if (view.role === 'leader') await releaseLease(o.pool, o.role, o.holder).catch(() => undefined);
    },
  };
}

/** Create (or check) the leases table. */
export async function migrateLeases(pool: Pool): Promise<void> {
  const c = await pool.connect();
  try {
    await migrate(c, 'leases', [leaseMigration]);
  } finally {
    c.release();
  }
}
