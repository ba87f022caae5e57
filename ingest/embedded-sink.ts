import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { MEASUREMENT } from '../contracts/index.ts';
import type { ReadingSink, StoredReading } from './sink.ts';

/**
 * The embedded store used when no InfluxDB is configured, so `floodgate up` runs anywhere.
 * Same semantics as InfluxDB for a point: (measurement, sensor, ts) is the key and a rewrite
 * overwrites (idempotent redelivery). WAL with synchronous=FULL: a committed write survives a
 * crash and a power cut, which is what "durable before PUBACK" needs.
 */
export function createEmbeddedSink(path: string): ReadingSink & { count(): number; db: Database.Database } {
  mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec(`CREATE TABLE IF NOT EXISTS readings (
    measurement TEXT NOT NULL, sensor TEXT NOT NULL, ts INTEGER NOT NULL,
    site TEXT NOT NULL, district TEXT NOT NULL, fields TEXT NOT NULL,
    PRIMARY KEY (measurement, sensor, ts)) WITHOUT ROWID`);
  const upsert = db.prepare(
    'INSERT OR REPLACE INTO readings (measurement, sensor, ts, site, district, fields) VALUES (?, ?, ?, ?, ?, ?)',
  );
  const writeAll = db.transaction((batch: StoredReading[]) => {
    for (const { reading, tags } of batch) {
      const fields = reading.seq === undefined ? reading.fields : { ...reading.fields, seq: reading.seq };
      upsert.run(MEASUREMENT[reading.kind], tags.sensor, reading.ts, tags.site, tags.district, JSON.stringify(fields));
    }
  });
  return {
    name: 'embedded',
    db,
    async write(batch) {
      writeAll(batch);
    },
    count: () => (db.prepare('SELECT count(*) AS n FROM readings').get() as { n: number }).n,
    async close() {
      db.close();
    },
  };
}
