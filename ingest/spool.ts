/**
 * The ingest spool: a local SQLite database (WAL) where an accepted reading becomes durable before
 * it is acknowledged to the broker, and from which it is removed only after the store accepted
 * the batch that holds it. It also remembers which readings it has admitted (sensor + ts), so a
 * redelivered or duplicate reading never reaches the store twice (VictoriaMetrics, unlike
 * InfluxDB, keeps duplicates), and keeps the lines the store refused for good (dead letters).
 */
import Database from 'better-sqlite3';
import { mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { MEASUREMENT } from '../contracts/index.ts';
import { toLine } from './line-protocol.ts';
import type { StoredReading } from './sink.ts';

export interface SpoolRow {
  id: number;
  measurement: string;
  sensor: string;
  ts: number;
  site: string;
  district: string;
  /** JSON of the numeric fields (plus seq). */
  fields: string;
  /** Line protocol, ms precision, computed once at admission. */
  line: string;
  receivedAt: number;
}

export interface SpoolOptions {
  /** 'normal': survives a process crash (SIGKILL); 'full': also a power cut, at one fsync per message. */
  sync: 'normal' | 'full';
  /** Admission keys are remembered this long to drop duplicates that arrive after a drain. */
  dedupeWindowMs: number;
  /**
   * A reading with the same sensor, `seq` and values as one admitted within this distance of its
   * `ts` is the same sample re-stamped (a device that resynced its clock and re-sent its buffer):
   * dropped as a duplicate. 0 turns seq dedupe off. Values must match too, so a device that
   * rebooted and restarted its counter never loses a different reading to an old seq.
   */
  seqToleranceMs?: number;
}

export type Spool = ReturnType<typeof openSpool>;

export interface RejectRecord {
  id: number;
  at: number;
  sensor: string;
  kind: string;
  ts: number | null;
  code: string;
  reason: string;
  data: string;
}

const COLS = `id, measurement, sensor, ts, site, district, fields, line, received_at AS receivedAt`;

export function openSpool(path: string, opts: SpoolOptions) {
  mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${opts.sync === 'full' ? 'FULL' : 'NORMAL'}`);
  db.exec(`
    CREATE TABLE IF NOT EXISTS spool (
      id INTEGER PRIMARY KEY AUTOINCREMENT, measurement TEXT NOT NULL, sensor TEXT NOT NULL, ts INTEGER NOT NULL,
      site TEXT NOT NULL, district TEXT NOT NULL, fields TEXT NOT NULL, line TEXT NOT NULL, received_at INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS seen (
      measurement TEXT NOT NULL, sensor TEXT NOT NULL, ts INTEGER NOT NULL, at INTEGER NOT NULL,
      PRIMARY KEY (measurement, sensor, ts)) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS seen_at ON seen (at);
    CREATE TABLE IF NOT EXISTS seen_seq (
      measurement TEXT NOT NULL, sensor TEXT NOT NULL, seq INTEGER NOT NULL, ts INTEGER NOT NULL, fields TEXT NOT NULL,
      at INTEGER NOT NULL, PRIMARY KEY (measurement, sensor, seq, ts)) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS seen_seq_at ON seen_seq (at);
    -- Dead letters: every rejected reading, invalid at the door or refused by the store, with why.
    CREATE TABLE IF NOT EXISTS rejects (
      id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, sensor TEXT NOT NULL, kind TEXT NOT NULL,
      ts INTEGER, code TEXT NOT NULL, reason TEXT NOT NULL, data TEXT NOT NULL);
    CREATE INDEX IF NOT EXISTS rejects_sensor ON rejects (sensor, id);
    CREATE INDEX IF NOT EXISTS rejects_code ON rejects (code, id);
    CREATE INDEX IF NOT EXISTS rejects_at ON rejects (at);
  `);
  const q = {
    seen: db.prepare('INSERT OR IGNORE INTO seen (measurement, sensor, ts, at) VALUES (?, ?, ?, ?)'),
    seqSeen: db.prepare('SELECT 1 FROM seen_seq WHERE measurement = ? AND sensor = ? AND seq = ? AND ts BETWEEN ? AND ? AND fields = ? LIMIT 1'),
    seqAdd: db.prepare('INSERT OR IGNORE INTO seen_seq (measurement, sensor, seq, ts, fields, at) VALUES (?, ?, ?, ?, ?, ?)'),
    seqPrune: db.prepare('DELETE FROM seen_seq WHERE at < ?'),
    seqMax: db.prepare('SELECT max(seq) AS m FROM seen_seq WHERE measurement = ? AND sensor = ?'),
    insert: db.prepare('INSERT INTO spool (measurement, sensor, ts, site, district, fields, line, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)'),
    peek: db.prepare(`SELECT ${COLS} FROM spool ORDER BY id LIMIT ?`),
    removeRange: db.prepare('DELETE FROM spool WHERE id BETWEEN ? AND ?'),
    reject: db.prepare('INSERT INTO rejects (at, sensor, kind, ts, code, reason, data) VALUES (?, ?, ?, ?, ?, ?, ?)'),
    stats: db.prepare('SELECT count(*) AS rows, min(received_at) AS oldest FROM spool'),
    prune: db.prepare('DELETE FROM seen WHERE at < ?'),
    deadCount: db.prepare("SELECT count(*) AS n FROM rejects WHERE code = 'STORE_REFUSED'"),
    pruneRejectsAge: db.prepare('DELETE FROM rejects WHERE at < ?'),
    pruneRejectsCount: db.prepare('DELETE FROM rejects WHERE id <= (SELECT max(id) FROM rejects) - ?'),
  };

  const seqTol = opts.seqToleranceMs ?? 0;
  /**
   * The highest seq remembered per series (from the table on first sight, then kept up to date):
   * a seq above it cannot be a copy, so the lookup is skipped — devices count up, so that is
   * nearly every reading. Only a seq at or below it (a re-send, a rebooted counter) is looked up.
   * Raised only, and only by what the table holds, so it never hides a remembered seq.
   */
  const maxSeq = new Map<string, number>();
  const highestSeq = (measurement: string, sensor: string): number => {
    const key = `${measurement}\u0000${sensor}`;
    let m = maxSeq.get(key);
    if (m === undefined) {
      m = (q.seqMax.get(measurement, sensor) as { m: number | null }).m ?? -1;
      maxSeq.set(key, m);
    }
    return m;
  };
  const admit = db.transaction((batch: StoredReading[], now: number) => {
    let accepted = 0;
    let duplicates = 0;
    for (const { reading, tags } of batch) {
      const measurement = MEASUREMENT[reading.kind];
      const values = seqTol > 0 && reading.seq !== undefined ? JSON.stringify(reading.fields) : undefined;
      // Same seq and values near the same time = the same sample, re-stamped (see seqToleranceMs).
      if (values !== undefined && reading.seq! <= highestSeq(measurement, tags.sensor) && q.seqSeen.get(measurement, tags.sensor, reading.seq, reading.ts - seqTol, reading.ts + seqTol, values)) {
        duplicates++;
        continue;
      }
      // Same series and timestamp = the same point: admitted once, whatever the redeliveries.
      if (q.seen.run(measurement, tags.sensor, reading.ts, now).changes === 0) {
        duplicates++;
        continue;
      }
      if (values !== undefined) {
        q.seqAdd.run(measurement, tags.sensor, reading.seq, reading.ts, values, now);
        const key = `${measurement}\u0000${tags.sensor}`;
        if (reading.seq! > (maxSeq.get(key) ?? -1)) maxSeq.set(key, reading.seq!);
      }
      const fields = reading.seq === undefined ? reading.fields : { ...reading.fields, seq: reading.seq };
      q.insert.run(measurement, tags.sensor, reading.ts, tags.site, tags.district, JSON.stringify(fields), toLine(reading, tags), now);
      accepted++;
    }
    return { accepted, duplicates };
  });

  /** One transaction for a group of messages: their readings and their rejects. */
  const commit = db.transaction((batch: StoredReading[], rejects: Array<Omit<RejectRecord, 'id' | 'at'>>, now: number) => {
    for (const r of rejects) q.reject.run(now, r.sensor, r.kind, r.ts, r.code, r.reason.slice(0, 2000), r.data.slice(0, 2000));
    return admit(batch, now);
  });

  const KIND_OF: Record<string, string> = Object.fromEntries(Object.entries(MEASUREMENT).map(([k, m]) => [m, k]));
  const deadLetter = db.transaction((rows: SpoolRow[], error: string, now: number) => {
    for (const r of rows) q.reject.run(now, r.sensor, KIND_OF[r.measurement] ?? r.measurement, r.ts, 'STORE_REFUSED', error.slice(0, 2000), r.line);
  });

  return {
    db,
    /** Durable on return (one transaction). Duplicates are dropped and counted. */
    admit: (batch: StoredReading[], now: number) => admit(batch, now),
    /** Readings and rejects of a group of messages, durable on return (one transaction). */
    commit: (batch: StoredReading[], rejects: Array<Omit<RejectRecord, 'id' | 'at'>>, now: number) => commit(batch, rejects, now),
    /** The oldest `limit` rows, in admission order. */
    peek: (limit: number) => q.peek.all(limit) as SpoolRow[],
    /** Remove a drained batch (rows are taken from the head, so a batch is an id range). */
    remove: (rows: SpoolRow[]) => {
      if (rows.length > 0) q.removeRange.run(rows[0]!.id, rows[rows.length - 1]!.id);
    },
    /** A reading the store refused for good (code STORE_REFUSED, with the server's message). */
    deadLetter: (rows: SpoolRow[], error: string, now: number) => deadLetter(rows, error, now),
    deadLetters: () => (q.deadCount.get() as { n: number }).n,
    /** A reading (or payload) refused at the door. `data` is what was received (truncated). */
    recordReject(r: Omit<RejectRecord, 'id' | 'at'>, now: number) {
      q.reject.run(now, r.sensor, r.kind, r.ts, r.code, r.reason.slice(0, 2000), r.data.slice(0, 2000));
    },
    listRejects(f: { sensor?: string; code?: string; limit: number }): RejectRecord[] {
      const where: string[] = [];
      const args: unknown[] = [];
      if (f.sensor) {
        where.push('sensor = ?');
        args.push(f.sensor);
      }
      if (f.code) {
        where.push('code = ?');
        args.push(f.code);
      }
      const sql = `SELECT id, at, sensor, kind, ts, code, reason, data FROM rejects ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY id DESC LIMIT ?`;
      return db.prepare(sql).all(...args, f.limit) as RejectRecord[];
    },
    /** Bounded retention: older than `maxAgeMs`, or beyond the newest `maxRows`. */
    pruneRejects: (now: number, maxAgeMs: number, maxRows: number) => q.pruneRejectsAge.run(now - maxAgeMs).changes + q.pruneRejectsCount.run(maxRows).changes,
    stats(now: number): { rows: number; oldestAgeMs: number; bytes: number } {
      const s = q.stats.get() as { rows: number; oldest: number | null };
      return { rows: s.rows, oldestAgeMs: s.oldest === null ? 0 : now - s.oldest, bytes: fileBytes(path) };
    },
    pruneSeen: (now: number) => q.prune.run(now - opts.dedupeWindowMs).changes + q.seqPrune.run(now - opts.dedupeWindowMs).changes,
    close: () => db.close(),
  };
}

function fileBytes(path: string): number {
  let total = 0;
  for (const p of [path, `${path}-wal`]) {
    try {
      total += statSync(p).size;
    } catch {
      // not there yet
    }
  }
  return total;
}
