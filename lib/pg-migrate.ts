/**
 * Versioned migrations for a PostgreSQL database: numbered SQL, applied in order, in one
 * transaction, each recorded in `schema_migrations` with its component and name. Each component
 * (leases, rules, alerts …) owns its numbered list, so services share one database without
 * sharing one list. Instances that start together
 * take turns (a transaction-scoped advisory lock), so a migration runs once. A database whose
 * record disagrees with the code (a version applied under another name, or one the code does not
 * know: a newer floodgate ran here) is refused rather than guessed at.
 */
import type { ClientBase } from 'pg';
import { FloodgateError } from './errors.ts';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** Any constant shared by every floodgate: the advisory lock's key. */
const LOCK_KEY = 0x666c6f6f; // "floo"

/** Check the list itself: versions 1, 2, 3 … in order, names unique. */
export function checkMigrations(migrations: readonly Migration[]): void {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`migration ${m.name}: version ${m.version}, expected ${i + 1} (versions run 1, 2, 3 … in order)`);
  });
}

/** Apply what is missing; returns the versions applied now. */
export async function migrate(client: ClientBase, component: string, migrations: readonly Migration[]): Promise<number[]> {
  checkMigrations(migrations);
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [LOCK_KEY]);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (component text NOT NULL, version integer NOT NULL, name text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (component, version))`);
    const done = new Map((await client.query<{ version: number; name: string }>('SELECT version, name FROM schema_migrations WHERE component = $1 ORDER BY version', [component])).rows.map((r) => [r.version, r.name]));
    for (const [version, name] of done) {
      const known = migrations[version - 1];
      if (!known) throw new FloodgateError('DATABASE_SCHEMA', `the database has ${component} migration ${version} (${name}), which this floodgate does not know: a newer version ran against it`);
      if (known.name !== name) throw new FloodgateError('DATABASE_SCHEMA', `the database's ${component} migration ${version} is "${name}", this floodgate's is "${known.name}"`);
    }
    const applied: number[] = [];
    for (const m of migrations) {
      if (done.has(m.version)) continue;
      await client.query(m.sql);
      await client.query('INSERT INTO schema_migrations (component, version, name) VALUES ($1, $2, $3)', [component, m.version, m.name]);
      applied.push(m.version);
    }
    await client.query('COMMIT');
    return applied;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}
