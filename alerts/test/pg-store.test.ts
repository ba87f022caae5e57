/**
 * The alerts store contract on a real PostgreSQL 15 (Debian's server, a fresh cluster on a free
 * port): the same suite the embedded SQLite store passes, each test on emptied tables.
 */
import { openPgAlertStore } from '../pg-store.ts';
import { alertStoreContract } from './store-contract.ts';
import { usePostgres } from '../../test/helpers/postgres.ts';

const pg = usePostgres();

alertStoreContract('PostgreSQL', async () => {
  const store = await openPgAlertStore(pg.pool());
  await pg.pool().query('TRUNCATE alerts, alert_audit, pages, silences, notices, notice_attempts, notice_sequences RESTART IDENTITY');
  return store;
});
