/**
 * The spool's tables (user_version 3), created on open, and the migration of a spool written by an
 * earlier version. Applied in one transaction; a spool of any earlier version opens with nothing
 * lost.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Key, Tuple } from './spool-segment.ts';

const SCHEMA_VERSION = 3;

/** Open (creating if need be) the spool database at `path`, WAL, migrated to the current layout. */
export function openSpoolDatabase(path: string, sync: 'normal' | 'full'): Database.Database {
  mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${sync === 'full' ? 'FULL' : 'NORMAL'}`);
  db.exec(`
    CREATE TABLE IF NOT EXISTS segments (
      first INTEGER PRIMARY KEY, n INTEGER NOT NULL, received_at INTEGER NOT NULL, body TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS admitted (
      id INTEGER PRIMARY KEY, at INTEGER NOT NULL, measurement TEXT NOT NULL, sensor TEXT NOT NULL,
      min_ts INTEGER NOT NULL, max_ts INTEGER NOT NULL, max_seq INTEGER, keys TEXT NOT NULL);
    CREATE INDEX IF NOT EXISTS admitted_series ON admitted (measurement, sensor, max_ts);
    -- Dead letters: every rejected reading, invalid at the door or refused by the store, with why.
    CREATE TABLE IF NOT EXISTS rejects (
      id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, sensor TEXT NOT NULL, kind TEXT NOT NULL,
      ts INTEGER, code TEXT NOT NULL, reason TEXT NOT NULL, data TEXT NOT NULL);
    CREATE INDEX IF NOT EXISTS rejects_sensor ON rejects (sensor, id);
    CREATE INDEX IF NOT EXISTS rejects_code ON rejects (code, id);
    CREATE INDEX IF NOT EXISTS rejects_at ON rejects (at);
  `);
  migrateV1(db);
  db.pragma(`user_version = ${SCHEMA_VERSION}`);
  return db;
}

/**
 * A spool written by an earlier version (a row per reading in `spool`, keys in `seen` and
 * `seen_seq`): its readings become segments, in order, and its keys admission rows, so nothing
 * spooled is lost and duplicates are still dropped across the upgrade.
 */
function migrateV1(db: Database.Database): void {
  const has = (t: string) => db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(t) !== undefined;
  if (!has('spool') && !has('seen') && !has('seen_seq')) return;
  db.transaction(() => {
    if (has('spool')) {
      const add = db.prepare('INSERT INTO segments (first, n, received_at, body) VALUES (?, ?, ?, ?)');
      let chunk: Array<{ id: number; receivedAt: number; t: Tuple }> = [];
      const flush = () => {
        if (chunk.length === 0) return;
        add.run(chunk[0]!.id, chunk.length, chunk[0]!.receivedAt, JSON.stringify(chunk.map((c) => c.t)));
        chunk = [];
      };
      type V1Row = { id: number; measurement: string; sensor: string; ts: number; site: string; district: string; fields: string; receivedAt: number };
      const page = db.prepare('SELECT id, measurement, sensor, ts, site, district, fields, received_at AS receivedAt FROM spool WHERE id > ? ORDER BY id LIMIT 5000');
      for (const r of pages((after: V1Row | undefined) => page.all(after?.id ?? -1) as V1Row[])) {
        // A segment numbers its readings first, first + 1, …: a gap in the old ids starts a new one.
        if (chunk.length > 0 && (r.id !== chunk[chunk.length - 1]!.id + 1 || chunk.length >= 1000)) flush();
        const { seq, ...values } = JSON.parse(r.fields) as Record<string, number>;
        chunk.push({ id: r.id, receivedAt: r.receivedAt, t: [r.measurement, r.sensor, r.ts, r.site, r.district, values, seq ?? null] });
      }
      flush();
      db.exec('DROP TABLE spool');
    }
    type KeyRow = { measurement: string; sensor: string; ts: number; seq: number | null; fields: string | null };
    const addKeys = db.prepare('INSERT INTO admitted (at, measurement, sensor, min_ts, max_ts, max_seq, keys) VALUES (?, ?, ?, ?, ?, ?, ?)');
    // Every migrated row gets the newest old key's time: pruning walks the rows in id order and
    // stops at the first young one, so the time must not go down from row to row. The old keys are
    // kept a little longer than the window, never shorter.
    const newest = Math.max(
      ...(['seen', 'seen_seq'] as const).filter(has).map((t) => (db.prepare(`SELECT coalesce(max(at), 0) AS m FROM ${t}`).get() as { m: number }).m),
      0,
    );
    const copyKeys = (rows: Iterable<KeyRow>) => {
      let cur: { measurement: string; sensor: string; keys: Key[]; maxSeq: number | null } | undefined;
      const flush = () => {
        if (!cur) return;
        const ts = cur.keys.map((k) => k[0]);
        addKeys.run(newest, cur.measurement, cur.sensor, Math.min(...ts), Math.max(...ts), cur.maxSeq, JSON.stringify(cur.keys));
        cur = undefined;
      };
      for (const r of rows) {
        if (cur && (cur.measurement !== r.measurement || cur.sensor !== r.sensor || cur.keys.length >= 500)) flush();
        cur ??= { measurement: r.measurement, sensor: r.sensor, keys: [], maxSeq: null };
        cur.keys.push([r.ts, r.seq, r.fields]);
        if (r.seq !== null && (cur.maxSeq === null || r.seq > cur.maxSeq)) cur.maxSeq = r.seq;
      }
      flush();
    };
    // Read in pages (keyset on the primary key): a statement may not stay open while rows are
    // written on the same connection, and the old tables may hold millions of keys.
    if (has('seen')) {
      const page = db.prepare('SELECT measurement, sensor, ts, NULL AS seq, NULL AS fields FROM seen WHERE (measurement, sensor, ts) > (?, ?, ?) ORDER BY measurement, sensor, ts LIMIT 5000');
      copyKeys(pages((a: KeyRow | undefined) => page.all(a?.measurement ?? '', a?.sensor ?? '', a?.ts ?? -Infinity) as KeyRow[]));
      db.exec('DROP TABLE seen');
    }
    if (has('seen_seq')) {
      const page = db.prepare('SELECT measurement, sensor, ts, seq, fields FROM seen_seq WHERE (measurement, sensor, seq, ts) > (?, ?, ?, ?) ORDER BY measurement, sensor, seq, ts LIMIT 5000');
      copyKeys(pages((a: KeyRow | undefined) => page.all(a?.measurement ?? '', a?.sensor ?? '', a?.seq ?? -Infinity, a?.ts ?? -Infinity) as KeyRow[]));
      db.exec('DROP TABLE seen_seq');
    }
  })();
}

/** Every row of a paged query: `next(last row of the previous page)` until a page comes back empty. */
function* pages<R>(next: (after: R | undefined) => R[]): Generator<R> {
  let after: R | undefined;
  for (;;) {
    const page = next(after);
    if (page.length === 0) return;
    yield* page;
    after = page[page.length - 1];
  }
}
