/**
 * The alerts store contract on a real PostgreSQL 15 (Debian's server, a fresh cluster on a free
 * port): the same suite the embedded SQLite store passes, each test on emptied tables.
 */
import { afterAll, beforeAll } from 'vitest';
import pg from 'pg';
import { openPgAlertStore } from '../pg-store.ts';
import { alertStoreContract } from './store-contract.ts';
import { startPostgres, type Postgres } from '../../test/helpers/postgres.ts';

let server: Postgres;
let pool: pg.Pool;
beforeAll(async () => {
  server = await startPostgres();
  pool = new pg.Pool({ connectionString: server.url, max: 4 });
  pool.on('error', () => undefined); // connections the server's shutdown reaches after pool.end()
});
afterAll(async () => {
  await pool?.end();
  await server?.stop();
});

alertStoreContract('PostgreSQL', async () => {
  const store = await openPgAlertStore(pool);
  await pool.query('TRUNCATE alerts, alert_audit, pages, silences, notices, notice_attempts, notice_sequences RESTART IDENTITY');
  return store;
});
