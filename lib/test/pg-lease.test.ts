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
import { holdLease, leaseMigrations, releaseLease, tryLease } from '../pg-lease.ts';
import { systemClock } from '../clock.ts';
import { silentLogger } from '../logger.ts';
import { createMetricsRegistry, type Registry } from '../metrics.ts';
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
      const [first] = leaseMigrations;
      expect(await migrate(client, 'leases', [first!])).toEqual([1]);
      expect(await migrate(client, 'leases', [first!])).toEqual([]);
      // A database at version 1 (an older floodgate made it) is brought up to the code's.
      expect(await migrate(client, 'leases', leaseMigrations)).toEqual([2]);
      expect(await migrate(client, 'leases', leaseMigrations)).toEqual([]);
      await expect(migrate(client, 'leases', [{ ...first!, name: 'leases-renamed' }, leaseMigrations[1]!])).rejects.toMatchObject({ code: 'DATABASE_SCHEMA' });
      await expect(migrate(client, 'leases', [first!])).rejects.toThrow(/does not know: a newer version ran against it/);
      await expect(migrate(client, 'leases', [{ ...first!, version: 2 }])).rejects.toThrow(/expected 1/);
      // A failed migration leaves nothing behind (one transaction).
      await expect(migrate(client, 'leases', [...leaseMigrations, { version: 3, name: 'broken', sql: 'CREATE TABLE x (; nonsense' }])).rejects.toThrow();
      expect((await client.query("SELECT to_regclass('x') AS t")).rows[0].t).toBeNull();
      expect((await client.query('SELECT count(*)::int AS n FROM schema_migrations')).rows[0].n).toBe(2);
      // Another component's list is its own: its version 1 is not the leases' version 1.
      expect(await migrate(client, 'other', [{ version: 1, name: 'other-table', sql: 'CREATE TABLE other_t (x int)' }])).toEqual([1]);
      expect(await migrate(client, 'leases', leaseMigrations)).toEqual([]);
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
    // Each instance's own metrics, as each process has (what operators alarm on).
    const [ma, mb] = [createMetricsRegistry(), createMetricsRegistry()];
    const value = async (m: Registry, line: string) => Number(new RegExp(`^${line} (\\S+)$`, 'm').exec(await m.metrics())?.[1]);
    const a = holdLease({ pool, role: 'alerts', holder: 'a', times, clock: systemClock, logger: silentLogger, metrics: ma, onChange: (v) => changes.push(`a:${v.role}`) });
    await eventually(() => a.epoch() !== undefined, 'a leads');
    const b = holdLease({ pool, role: 'alerts', holder: 'b', times, clock: systemClock, logger: silentLogger, metrics: mb, onChange: (v) => changes.push(`b:${v.role}`) });
    await eventually(async () => (await value(mb, 'floodgate_lease_database_up\\{role="alerts"\\}')) === 1, "b's first attempt answered");
    expect([await value(ma, 'floodgate_lease_leader\\{role="alerts"\\}'), await value(mb, 'floodgate_lease_leader\\{role="alerts"\\}')]).toEqual([1, 0]);
    const first = a.epoch()!;
    await a.close(); // releases the lease
    await eventually(() => b.epoch() !== undefined, 'b leads after a released', 10_000);
    expect(await value(mb, 'floodgate_lease_leader\\{role="alerts"\\}')).toBe(1);
    expect(await value(mb, 'floodgate_lease_changes_total\\{role="alerts",to="leader"\\}')).toBe(1);
    expect(b.epoch()).toBe(first + 1);
    expect(changes).toEqual(['a:leader', 'b:leader']);
    await b.close();
    await releaseLease(pool, 'alerts', 'nobody'); // releasing a lease one does not hold changes nothing
    expect(await tryLease(pool, 'alerts', 'c', 1000)).toEqual({ epoch: first + 2 });
  });

  it("a lease whose holder's session ended is free at once, long before it runs out", async () => {
    const a = new pg.Client({ connectionString: server.url });
    await a.connect();
    expect(await tryLease(a, 'gone', 'a', 600_000)).toEqual({ epoch: 1 });
    expect(await tryLease(pool, 'gone', 'b', 600_000)).toBeNull(); // a's session lives: b waits
    await a.end(); // what the kernel does for a process that died: its socket closes
    // The lease has ten minutes to run: only the ended session can hand it over within this wait.
    expect(await eventually(() => tryLease(pool, 'gone', 'b', 600_000), 'b takes the lease of an ended session', 30_000)).toEqual({ epoch: 2 });
  });

  it('a leader whose session the server ended renews over a new one and keeps its epoch', async () => {
    const a = holdLease({ pool, role: 'cut', holder: 'a', times: { ttlMs: 600_000, marginMs: 1000 }, clock: systemClock, logger: silentLogger });
    try {
      await eventually(() => a.epoch() !== undefined, 'a leads');
      const pidOf = async () => (await pool.query<{ holder_pid: number }>("SELECT holder_pid FROM leases WHERE role = 'cut'")).rows[0]!.holder_pid;
      const before = await pidOf();
      await pool.query('SELECT pg_terminate_backend($1)', [before]);
      await eventually(async () => (await pidOf()) !== before, 'a renews over a new session', 30_000);
      expect(a.epoch()).toBe(1);
      expect(await tryLease(pool, 'cut', 'b', 1000)).toBeNull();
    } finally {
      await a.close();
    }
  });

  // Last: it restarts the server.
  it('after a server restart every recorded session is stale: the lease runs its time', async () => {
    const a = new pg.Client({ connectionString: server.url });
    a.on('error', () => undefined);
    await a.connect();
    expect(await tryLease(a, 'restart', 'a', 600_000)).toEqual({ epoch: 1 });
    // A holder's view of the database through the outage: what its /healthz reports.
    const h = holdLease({ pool, role: 'watch', holder: 'h', times: { ttlMs: 1000, marginMs: 200 }, clock: systemClock, logger: silentLogger });
    await eventually(() => h.databaseUp(), 'h reaches the database');
    await server.stopServer();
    await eventually(() => !h.databaseUp(), 'h sees the database gone', 30_000);
    await server.startServer();
    await eventually(() => h.databaseUp(), 'h reaches it again', 60_000);
    await h.close();
    await a.end().catch(() => undefined);
    // a's session is gone, but so is every session: the row predates the server, so b waits.
    expect(await eventually(() => tryLease(pool, 'restart', 'b', 600_000).then((r) => ({ r })).catch(() => undefined), 'the server answers again', 60_000)).toEqual({ r: null });
    expect(await tryLease(pool, 'restart', 'a', 600_000)).toEqual({ epoch: 1 }); // a, back, renews
  });
});
