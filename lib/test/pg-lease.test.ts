/**
 * Migrations and leases on a real PostgreSQL (Debian's postgresql package, a fresh cluster on a
 * free port): a migration runs once; a database the code does not match is refused; of instances
 * racing for a lease exactly one wins; a lease that runs out is taken over with a higher epoch and
 * the old holder's renewal is refused; a clean release hands over at once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { startPostgres, type Postgres } from '../../test/helpers/postgres.ts';
import { migrate } from '../pg-migrate.ts';
import { holdLease, leaseMigration, releaseLease, tryLease } from '../pg-lease.ts';
import { systemClock } from '../clock.ts';
import { silentLogger } from '../logger.ts';
import { eventually } from '../../test/helpers/stack.ts';

describe('PostgreSQL migrations and leases', () => {
  let server: Postgres;
  let pool: pg.Pool;
  beforeAll(async () => {
    server = await startPostgres();
    pool = new pg.Pool({ connectionString: server.url, max: 12 });
    // pool.end() resolves before every connection has closed: the server's shutdown in afterAll
    // can still reach one (57P01), which an idle pooled client reports as the pool's 'error'.
    pool.on('error', () => undefined);
  });
  afterAll(async () => {
    await pool?.end();
    await server?.stop();
  });

  it('applies a migration once, and refuses a database that does not match the code', async () => {
    const client = await pool.connect();
    try {
      expect(await migrate(client, 'leases', [leaseMigration])).toEqual([1]);
      expect(await migrate(client, 'leases', [leaseMigration])).toEqual([]);
      await expect(migrate(client, 'leases', [{ ...leaseMigration, name: 'leases-renamed' }])).rejects.toMatchObject({ code: 'DATABASE_SCHEMA' });
      await expect(migrate(client, 'leases', [])).rejects.toThrow(/does not know: a newer version ran against it/);
      await expect(migrate(client, 'leases', [{ ...leaseMigration, version: 2 }])).rejects.toThrow(/expected 1/);
      // A failed migration leaves nothing behind (one transaction).
      await expect(migrate(client, 'leases', [leaseMigration, { version: 2, name: 'broken', sql: 'CREATE TABLE x (; nonsense' }])).rejects.toThrow();
      expect((await client.query("SELECT to_regclass('x') AS t")).rows[0].t).toBeNull();
      expect((await client.query('SELECT count(*)::int AS n FROM schema_migrations')).rows[0].n).toBe(1);
      // Another component's list is its own: its version 1 is not the leases' version 1.
      expect(await migrate(client, 'other', [{ version: 1, name: 'other-table', sql: 'CREATE TABLE other_t (x int)' }])).toEqual([1]);
      expect(await migrate(client, 'leases', [leaseMigration])).toEqual([]);
    } finally {
      client.release();
    }
  });

  it('of ten instances racing for a free lease exactly one wins', async () => {
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => tryLease(pool, 'race', `i${i}`, 60_000)));
    expect(results.filter((r) => r !== null)).toEqual([{ epoch: 1 }]);
  });

  it('renewing keeps the epoch; a lease that ran out is taken with a higher one, and the old holder is refused', async () => {
    expect(await tryLease(pool, 'rules', 'a', 400)).toEqual({ epoch: 1 });
    expect(await tryLease(pool, 'rules', 'b', 400)).toBeNull();
    expect(await tryLease(pool, 'rules', 'a', 400)).toEqual({ epoch: 1 });
    // a stops renewing (it died, or hangs): b takes over once the lease has run out by the database's clock.
    const taken = await eventually(() => tryLease(pool, 'rules', 'b', 60_000), 'b takes the lease', 10_000);
    expect(taken).toEqual({ epoch: 2 });
    expect(await tryLease(pool, 'rules', 'a', 400)).toBeNull(); // the stale leader is fenced off
  });

  it('holders: one active, and a clean release hands over at once with a new epoch', async () => {
    const times = { ttlMs: 1500, marginMs: 300 };
    const changes: string[] = [];
    const a = holdLease({ pool, role: 'alerts', holder: 'a', times, clock: systemClock, logger: silentLogger, onChange: (v) => changes.push(`a:${v.role}`) });
    await eventually(() => a.epoch() !== undefined, 'a leads');
    const b = holdLease({ pool, role: 'alerts', holder: 'b', times, clock: systemClock, logger: silentLogger, onChange: (v) => changes.push(`b:${v.role}`) });
    const first = a.epoch()!;
    await a.close(); // releases the lease
    await eventually(() => b.epoch() !== undefined, 'b leads after a released', 10_000);
    expect(b.epoch()).toBe(first + 1);
    expect(changes).toEqual(['a:leader', 'b:leader']);
    await b.close();
    await releaseLease(pool, 'alerts', 'nobody'); // releasing a lease one does not hold changes nothing
    expect(await tryLease(pool, 'alerts', 'c', 1000)).toEqual({ epoch: first + 2 });
  });
});
