/**
 * A PostgreSQL connection pool for a service: a connection that the server ends (a restart, a
 * failover, a network cut) is reported as an 'error' of the pool (idle) or of the client (in use),
 * which without a listener would crash the process; here it is logged and the pool opens a new connection on the next query. Queries
 * during an outage fail after `connectionTimeoutMillis` instead of hanging, so callers can hold,
 * report 503 and retry. The URL (it may carry a password) is never logged.
 */
import pg from 'pg';
import type { Logger } from './logger.ts';

export function createPool(url: string, log: Logger, opts: { max?: number; connectTimeoutMs?: number } = {}): pg.Pool {
  // A session idle inside a transaction for 3 s is ended by the server. A rules leader paused
  // (SIGSTOP, a frozen VM) in the middle of a fenced save holds a share lock on its lease row, and
  // its successor's takeover of that row waited for it without end (rules/test/failover.test.ts,
  // on a busy CI machine). Our transactions never wait on anything but the database.
  const pool = new pg.Pool({ connectionString: url, max: opts.max ?? 4, connectionTimeoutMillis: opts.connectTimeoutMs ?? 5_000, idle_in_transaction_session_timeout: 3_000 });
  pool.on('error', (err) => log.warn({ err: { message: err.message, code: (err as { code?: string }).code } }, 'PostgreSQL connection lost; the next query opens a new one'));
  // A connection checked out of the pool (a transaction between two queries) reports the server's
  // end on the client itself, where no one listened: a rules standby died of it when PostgreSQL
  // stopped (HA chaos test). Its holder learns of it from the next query, which fails.
  pool.on('connect', (client) => client.on('error', (err) => log.debug({ err: { message: err.message } }, 'PostgreSQL connection lost while in use')));
  return pool;
}

/** A pool for `url` and what `open` makes on it; if `open` fails, the pool is ended and the error thrown. */
export async function openOnPool<T>(url: string, log: Logger, max: number, open: (pool: pg.Pool) => Promise<T>): Promise<{ pool: pg.Pool; value: T }> {
  const pool = createPool(url, log, { max });
  try {
    return { pool, value: await open(pool) };
  } catch (err) {
    await pool.end();
    throw err;
  }
}
