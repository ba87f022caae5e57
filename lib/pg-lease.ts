/**
 * The lease (lib/lease.ts) kept in PostgreSQL: one row per role with its holder, its epoch (the
 * fencing counter) and when it runs out, by the database's clock, so the instances' clocks never
 * have to agree. Taking over a lease that ran out raises the epoch; renewing keeps it. Both are
 * single statements, so two instances racing for a lease cannot both win.
 *
 * A lease is also free once its holder's database session has ended. A holder renews over one
 * connection of its own, and the row records that session's backend pid. When the holder's process
 * dies (SIGKILL, a crash, an OOM kill), the kernel closes its socket, the server ends the session,
 * and the pid leaves `pg_stat_activity`: a standby takes over within its next attempt (≤ 1 s)
 * instead of waiting out the lease (15 s). A holder that is alive but paused or cut off keeps its
 * session open, so for it the lease's time still rules, as it must: its own deadline passes first.
 * After a server restart every recorded pid is stale, so the shortcut applies only to rows renewed
 * since the server started; a pid reused by another session only makes the standby wait the
 * lease out.
 */
import pg from 'pg';
import { repeat, type TimerClock } from './clock.ts';
import type { Logger } from './logger.ts';
import { counter, gauge, type Registry as Metrics } from './metrics.ts';
import { FloodgateError } from './errors.ts';
import { migrate, type Migration } from './pg-migrate.ts';
import { afterAttempt, attemptDue, leads, standbyEveryMs, type LeaseTimes, type LeaseView } from './lease.ts';

export const leaseMigrations: readonly Migration[] = [
  { version: 1, name: 'leases', sql: 'CREATE TABLE leases (role text PRIMARY KEY, holder text NOT NULL, epoch bigint NOT NULL, expires_at timestamptz NOT NULL)' },
  { version: 2, name: 'lease-holder-session', sql: 'ALTER TABLE leases ADD COLUMN holder_pid integer, ADD COLUMN renewed_at timestamptz' },
];

type Queryable = Pick<pg.ClientBase, 'query'>;

/** One attempt: renew if we hold it, else take it if it is free, ran out, or its holder's session ended. Our epoch, or null. */
export async function tryLease(db: Queryable, role: string, holder: string, ttlMs: number): Promise<{ epoch: number } | null> {
  const r = await db.query<{ epoch: string; holder: string }>(
    `INSERT INTO leases (role, holder, epoch, expires_at, holder_pid, renewed_at)
       VALUES ($1, $2, 1, clock_timestamp() + $3 * interval '1 millisecond', pg_backend_pid(), clock_timestamp())
     ON CONFLICT (role) DO UPDATE SET
       holder = excluded.holder,
       epoch = CASE WHEN leases.holder = excluded.holder AND leases.expires_at > clock_timestamp() THEN leases.epoch ELSE leases.epoch + 1 END,
       expires_at = excluded.expires_at, holder_pid = excluded.holder_pid, renewed_at = excluded.renewed_at
     WHERE leases.holder = excluded.holder AND leases.expires_at > clock_timestamp()
        OR leases.expires_at <= clock_timestamp()
        OR (leases.holder_pid IS NOT NULL AND leases.renewed_at > pg_postmaster_start_time()
            AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = leases.holder_pid))
     RETURNING epoch, holder`,
    [role, holder, ttlMs],
  );
  const row = r.rows[0];
  return row && row.holder === holder ? { epoch: Number(row.epoch) } : null;
}

/** The lease a write must still hold: its role, and this instance's epoch now (undefined: not leading). */
export interface LeaseFence {
  role: string;
  epoch(): number | undefined;
}

/**
 * Inside a write's transaction: go on only while the lease row carries this instance's epoch, and
 * keep it so until the commit (FOR SHARE: a takeover's update of the row waits for it). A leader
 * that was paused or cut off and replaced cannot write over its successor (LEASE_LOST).
 */
export async function requireLease(db: Queryable, fence: LeaseFence, what = 'written'): Promise<void> {
  const epoch = fence.epoch();
  const held = epoch === undefined ? [] : (await db.query('SELECT 1 FROM leases WHERE role = $1 AND epoch = $2 FOR SHARE', [fence.role, epoch])).rows;
  if (held.length === 0) throw new FloodgateError('LEASE_LOST', `not ${what}: the ${fence.role} lease is no longer held at epoch ${epoch ?? '(none)'}`);
}

/** Give the lease up at once (a clean shutdown): the standby need not wait for it to run out. */
export async function releaseLease(db: Queryable, role: string, holder: string): Promise<void> {
  await db.query('UPDATE leases SET expires_at = clock_timestamp() WHERE role = $1 AND holder = $2', [role, holder]);
}

/**
 * The one connection a holder renews over (its session is the holder's liveness, above), opened
 * with the pool's settings, outside the pool so that it never counts against the pool's size nor
 * idles out. It is opened on first use and again after it was lost; `onLost` hears of a loss.
 */
function leaseConnection(pool: pg.Pool, onLost: () => void): { db: Queryable; close(): Promise<void> } {
  let client: Promise<pg.Client> | undefined;
  const drop = (c: Promise<pg.Client>) => {
    if (client !== c) return;
    client = undefined;
    void c.then((x) => x.end()).catch(() => undefined);
    onLost();
  };
  const open = (): Promise<pg.Client> => {
    if (client) return client;
    const c = new pg.Client(pool.options);
    const opening = c.connect().then(() => c);
    client = opening;
    // The server ended the session (a restart, an admin, a cut): without a listener, a crash.
    c.on('error', () => drop(opening));
    c.on('end', () => drop(opening));
    opening.catch(() => drop(opening));
    return opening;
  };
  return {
    db: {
      query: (async (text: string, values?: unknown[]) => {
        const c = open();
        try {
          return await (await c).query(text, values);
        } catch (err) {
          drop(c);
          throw err;
        }
      }) as Queryable['query'],
    },
    async close() {
      const c = client;
      client = undefined;
      await c?.then((x) => x.end()).catch(() => undefined);
    },
  };
}

export interface LeaseHandle {
  view(): LeaseView;
  /** The epoch while this instance leads, else undefined. */
  epoch(): number | undefined;
  /** Did the last attempt reach the database? (false before the first answer, and through an outage: /healthz answers 503) */
  databaseUp(): boolean;
  close(): Promise<void>;
}

/**
 * What operators alarm on (docs/ha.md): whether this instance leads, whether it reaches the
 * database for its lease, and each change of role. No instance of a role leading
 * (`max by (role) (floodgate_lease_leader) == 0`) is an outage of that role.
 */
function leaseMetrics(metrics: Metrics | undefined, role: string) {
  if (!metrics) return undefined;
  return {
    leader: gauge(metrics, 'floodgate_lease_leader', '1 while this instance holds its role\'s lease (is active), else 0', ['role']).labels(role),
    database: gauge(metrics, 'floodgate_lease_database_up', '1 while the last lease attempt reached PostgreSQL, else 0', ['role']).labels(role),
    changes: counter(metrics, 'floodgate_lease_changes_total', 'Changes of this instance\'s role, by what it became', ['role', 'to']),
  };
}

/** Hold (or wait for) the lease of `role`, attempting every third of its time; `onChange` hears of every change of role. */
export function holdLease(o: { pool: pg.Pool; role: string; holder: string; times: LeaseTimes; clock: TimerClock; logger: Logger; metrics?: Metrics; onChange?(view: LeaseView): void }): LeaseHandle {
  const m = leaseMetrics(o.metrics, o.role);
  m?.leader.set(0);
  let view: LeaseView = { role: 'standby' };
  const changed = (v: LeaseView) => {
    m?.leader.set(v.role === 'leader' ? 1 : 0);
    m?.changes.inc({ role: o.role, to: v.role });
    o.onChange?.(v);
  };
  let closed = false;
  let running: Promise<void> = Promise.resolve();
  let lastSentAt = 0;
  let busy = false;
  let failures = 0;
  let reachable = false;
  // A leader whose session ended renews over a new one at once: until it does, a standby may
  // already take the lease (its session is gone), and the sooner the leader learns, the shorter
  // the time both believe they lead (fencing covers that time).
  const conn = leaseConnection(o.pool, () => (lastSentAt = -Infinity));
  const attempt = async () => {
    const sentAt = o.clock.now();
    lastSentAt = sentAt;
    let outcome: { epoch: number } | null | 'error';
    try {
      outcome = await tryLease(conn.db, o.role, o.holder, o.times.ttlMs);
      if (failures > 0) o.logger.warn({ role: o.role, failedAttempts: failures }, 'the database answers again for the lease');
      failures = 0;
      reachable = true;
      m?.database.set(1);
    } catch (err) {
      // Said once when it starts and every 30 attempts after (an outage asks every second), not
      // a line with a stack per attempt.
      if (failures % 30 === 0) o.logger.error({ err: (err as Error).message, role: o.role, failedAttempts: failures + 1 }, failures === 0 ? 'could not reach the database for the lease; trying again every second' : 'still cannot reach the database for the lease');
      failures++;
      outcome = 'error';
      reachable = false;
      m?.database.set(0);
    }
    if (closed) return;
    const before = view;
    view = afterAttempt(view, { sentAt, outcome }, o.times);
    if (before.role !== view.role || (before.role === 'leader' && view.role === 'leader' && before.epoch !== view.epoch)) {
      o.logger.warn({ role: o.role, holder: o.holder, now: view.role, epoch: view.role === 'leader' ? view.epoch : undefined }, view.role === 'leader' ? 'took the lease: active' : 'lost the lease: standby');
      changed(view);
    }
  };
  const timer = repeat(o.clock, standbyEveryMs(o.times), () => {
    // A leader whose own deadline passed without a renewal stands down now, reachable or not.
    if (view.role === 'leader' && !leads(view, o.clock.now())) {
      view = { role: 'standby' };
      o.logger.warn({ role: o.role, holder: o.holder }, 'lease ran out without a renewal: standby');
      changed(view);
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
    databaseUp: () => reachable,
    async close() {
      closed = true;
      timer.stop();
      await running;
      if (view.role === 'leader') await releaseLease(conn.db, o.role, o.holder).catch(() => undefined);
      await conn.close();
    },
  };
}

/** Create (or check) the leases table. */
export async function migrateLeases(pool: pg.Pool): Promise<void> {
  const c = await pool.connect();
  try {
    await migrate(c, 'leases', leaseMigrations);
  } finally {
    c.release();
  }
}
