/**
 * The rules engine's state in PostgreSQL, shared by the rules instances of an HA deployment: the
 * one that takes over the lease loads what the last leader saved. A save may be fenced by the
 * lease: it commits only while the lease row still carries this instance's epoch (read FOR SHARE,
 * so a takeover waits for the save or the save sees the takeover), and a leader that was paused
 * or cut off and replaced cannot overwrite its successor's state (LEASE_LOST).
 */
import type { Pool, PoolClient } from 'pg';
import { FloodgateError } from '../lib/errors.ts';
import { migrate, type Migration } from '../lib/pg-migrate.ts';
import { requireLease, type LeaseFence } from '../lib/pg-lease.ts';
import { stateFromRows, type StateStore } from './state-store.ts';

export const RULES_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'engine-state',
    sql: `CREATE TABLE rules_sensor_state (id text PRIMARY KEY, json text NOT NULL);
          CREATE TABLE rules_district_state (id text PRIMARY KEY, json text NOT NULL);`,
  },
];

/** The lease a save must still hold. */
export type SaveFence = LeaseFence;

const upsert = (table: string) =>
  `INSERT INTO ${table} (id, json) SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT (id) DO UPDATE SET json = excluded.json`;

const checkFence = (c: PoolClient, fence: SaveFence) => requireLease(c, fence, 'saved');

export async function openPgStateStore(pool: Pool, fence?: SaveFence): Promise<StateStore> {
  const c = await pool.connect();
  try {
    await migrate(c, 'rules', RULES_MIGRATIONS);
  } finally {
    c.release();
  }
  return {
    async saveSerialized(sensors, districts) {
      if (sensors.size === 0 && districts.size === 0 && !fence) return;
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        if (fence) await checkFence(client, fence);
        if (sensors.size > 0) await client.query(upsert('rules_sensor_state'), [[...sensors.keys()], [...sensors.values()]]);
        if (districts.size > 0) await client.query(upsert('rules_district_state'), [[...districts.keys()], [...districts.values()]]);
        await client.query('COMMIT');
        client.release();
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        // A refused save leaves a good connection; any other fault may have broken it: drop it.
        client.release(!(err instanceof FloodgateError));
        throw err;
      }
    },
    async load() {
      const [s, d] = await Promise.all([
        pool.query<{ id: string; json: string }>('SELECT id, json FROM rules_sensor_state'),
        pool.query<{ id: string; json: string }>('SELECT id, json FROM rules_district_state'),
      ]);
      return stateFromRows(s.rows, d.rows);
    },
    // The pool is the caller's (shared with the lease): it closes it.
    close: async () => undefined,
  };
}
