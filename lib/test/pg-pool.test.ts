/**
 * The services' pool on a real PostgreSQL that stops: a connection in use when the server ends it
 * must not crash the process (its 'error' had no listener), and its holder learns of it from the
 * next query.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool } from '../pg-pool.ts';
import { startPostgres, type Postgres } from '../../test/helpers/postgres.ts';
import { eventually, testLogger } from '../../test/helpers/stack.ts';

describe('createPool', () => {
  let server: Postgres;
  beforeAll(async () => {
    server = await startPostgres();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('a connection in use when the server stops fails its next query, and nothing is thrown into the void', async () => {
    const pool = createPool(server.url, testLogger, { max: 2, connectTimeoutMs: 1000 });
    const idle = await pool.connect();
    idle.release(); // one idle in the pool
    const inUse = await pool.connect(); // one held, as inside a transaction between two queries
    expect((await inUse.query<{ one: number }>('SELECT 1 AS one')).rows[0]?.one).toBe(1);
    const ended = new Promise((r) => inUse.once('end', r));
    await server.stopServer();
    await ended; // the server's goodbye reached the client (an 'error' event first, then 'end')
    await expect(inUse.query('SELECT 1')).rejects.toThrow();
    inUse.release(true);
    await expect(pool.query('SELECT 1')).rejects.toThrow(); // the server is away: fails, no hang
    await server.startServer();
    // And back: the first queries may still meet "the database system is starting up".
    await eventually(async () => (await pool.query<{ one: number }>('SELECT 1 AS one').catch(() => undefined))?.rows[0]?.one === 1, 'a query on the pool once PostgreSQL is back', 60_000);
    await pool.end();
  });

  it('a session that stops inside a transaction (a paused leader mid-save) is ended by the server, so its row lock does not block a takeover', async () => {
    const pool = createPool(server.url, testLogger, { max: 2, connectTimeoutMs: 5000 });
    const other = createPool(server.url, testLogger, { max: 1, connectTimeoutMs: 5000 });
    await pool.query('CREATE TABLE IF NOT EXISTS lease_row (role text PRIMARY KEY, epoch int NOT NULL)');
    await pool.query("INSERT INTO lease_row VALUES ('rules', 1) ON CONFLICT DO NOTHING");
    const paused = await pool.connect();
    await paused.query('BEGIN');
    await paused.query("SELECT 1 FROM lease_row WHERE role = 'rules' FOR SHARE"); // then nothing more: SIGSTOP
    // The successor's takeover of the row: it waits for the lock until the server ends the idle session.
    const r = await other.query("UPDATE lease_row SET epoch = epoch + 1 WHERE role = 'rules' RETURNING epoch");
    expect(r.rows[0]?.epoch).toBe(2);
    await expect(paused.query('COMMIT')).rejects.toThrow(); // the paused one learns of it when it wakes
    paused.release(true);
    await Promise.all([pool.end(), other.end()]);
  });
});
