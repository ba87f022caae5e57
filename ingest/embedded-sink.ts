import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { ReadingSink, SpoolRow } from './sink.ts';
import { fieldsJson } from './spool.ts';

/**
 * The embedded store used when no InfluxDB is configured, so `floodgate up` runs anywhere.
 * Same semantics as InfluxDB for a point: (measurement, sensor, ts) is the key and a rewrite
 * overwrites (idempotent redelivery).
 */
export function createEmbeddedSink(path: string): ReadingSink & { count(): number; db: Database.Database } {
  mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec(`CREATE TABLE IF NOT EXISTS readings (
    measurement TEXT NOT NULL, sensor TEXT NOT NULL, ts INTEGER NOT NULL,
    site TEXT NOT NULL, district TEXT NOT NULL, fields TEXT NOT NULL,
    PRIMARY KEY (measurement, sensor, ts)) WITHOUT ROWID`);
  const upsert = db.prepare('INSERT OR REPLACE INTO readings (measurement, sensor, ts, site, district, fields) VALUES (?, ?, ?, ?, ?, ?)');
  const writeAll = db.transaction((rows: SpoolRow[]) => {
    for (const r of rows) upsert.run(r.measurement, r.sensor, r.ts, r.site, r.district, fieldsJson(r));
  });
  return {
    name: 'embedded',
    db,
    async write(rows) {
      writeAll(rows);
    },
    count: () => (db.prepare('SELECT count(*) AS n FROM readings').get() as { n: number }).n,
    async close() {
      db.close();
    },
  };
}
