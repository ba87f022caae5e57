/**
 * Run a role's active part only while this instance holds the role's lease (lib/pg-lease.ts):
 * started when the lease is won, aborted at once when it is lost or runs out, closed cleanly
 * (then the lease released, so a standby takes over at once) on shutdown. A start that fails (the
 * database or the broker away) is logged and tried again while the lease is still held.
 */
import type { Pool } from 'pg';
import { randomUUID } from 'node:crypto';
import { repeat, type TimerClock } from './clock.ts';
import type { Logger } from './logger.ts';
import type { Registry as Metrics } from './metrics.ts';
import { holdLease } from './pg-lease.ts';
import { standbyEveryMs, type LeaseTimes } from './lease.ts';

export interface ActivePart {
  close(): Promise<void>;
  abort(): void;
}

export interface Leadership<T> {
  /** This instance's epoch while it leads, else undefined (what fences its writes). */
  epoch(): number | undefined;
  /** The active part while it runs here. */
  active(): T | undefined;
  /** Does this instance reach the database its lease lives in? (always, without one) */
  databaseUp(): boolean;
  close(): Promise<void>;
}

export function runWhileLeader<T extends ActivePart>(o: {
  pool: Pool;
  role: string;
  holder: string;
  times: LeaseTimes;
  clock: TimerClock;
  logger: Logger;
  metrics?: Metrics;
  start(signal: AbortSignal): Promise<T>;
}): Leadership<T> {
  let active: T | undefined;
  let starting: AbortController | undefined;
  let closed = false;
  const lease = holdLease({ pool: o.pool, role: o.role, holder: o.holder, times: o.times, clock: o.clock, logger: o.logger, ...(o.metrics ? { metrics: o.metrics } : {}), onChange: () => reconcile() });
  const leading = () => !closed && lease.epoch() !== undefined;

  function reconcile(): void {
    if (leading() && !active && !starting) begin();
    else if (!leading() && (active || starting)) stepDown();
  }

  function begin(): void {
    const ctl = new AbortController();
    starting = ctl;
    const t0 = o.clock.now();
    o.start(ctl.signal).then(
      (a) => {
        starting = undefined;
        if (ctl.signal.aborted || !leading()) return a.abort();
        active = a;
        o.logger.warn({ role: o.role, epoch: lease.epoch(), startMs: o.clock.now() - t0 }, 'active');
      },
      (err: unknown) => {
        starting = undefined;
        if (!ctl.signal.aborted) o.logger.error({ err, role: o.role }, 'could not start the active part; trying again while the lease is held');
      },
    );
  }

  function stepDown(): void {
    starting?.abort();
    starting = undefined;
    if (active) {
      active.abort();
      active = undefined;
      o.logger.warn({ role: o.role }, 'standby: the lease is lost, the active part stopped');
    }
  }

  const timer = repeat(o.clock, standbyEveryMs(o.times), reconcile);
  return {
    epoch: () => lease.epoch(),
    active: () => active,
    databaseUp: () => lease.databaseUp(),
    async close() {
      closed = true;
      timer.stop();
      starting?.abort();
      const a = active;
      active = undefined;
      await a?.close();
      await lease.close(); // releases the lease: a standby takes over without waiting for it to run out
    },
  };
}

/**
 * A role's active part, as a service runs it: without a database (one instance, embedded stores)
 * started once, at once, with epoch 0; with one, while this instance holds the role's lease, the
 * lease's margin a fifth of its time.
 */
export async function runActivePart<T extends ActivePart>(o: {
  lease: { pool: Pool; role: string; holder: string; ttlMs: number; clock: TimerClock; logger: Logger; metrics?: Metrics } | undefined;
  start(mayRun: () => boolean, signal?: AbortSignal): Promise<T>;
}): Promise<Leadership<T>> {
  if (!o.lease) {
    const only = await o.start(() => true);
    return { epoch: () => 0, active: () => only, databaseUp: () => true, close: () => only.close() };
  }
  const { ttlMs, ...given } = o.lease;
  // Each process is a holder of its own (`<instance id>~<random>`): restarted with the same
  // instance id, it does not renew its dead predecessor's lease under the old epoch, but waits
  // for it to run out like any standby, and leads with a higher epoch.
  const lease = { ...given, holder: `${given.holder}~${randomUUID().slice(0, 8)}` };
  const leader: Leadership<T> = runWhileLeader<T>({ ...lease, times: { ttlMs, marginMs: Math.floor(ttlMs / 5) }, start: (signal) => o.start(() => leader.epoch() !== undefined, signal) });
  lease.logger.info({ role: lease.role, instance: lease.holder, leaseTtlMs: ttlMs }, 'active only while holding the lease');
  return leader;
}
