/**
 * The ingest spool: a local SQLite database (WAL) where an accepted reading becomes durable before
 * it is acknowledged to the broker, and from which it is removed only after the store accepted
 * the batch that holds it. It also remembers which readings it has admitted (sensor + ts), so a
 * redelivered or duplicate reading never reaches the store twice (VictoriaMetrics, unlike
 * InfluxDB, keeps duplicates), and keeps the lines the store refused for good (dead letters).
 *
 * Layout (user_version 3; 2 differed only in the segment body, which is still read). A row per
 * reading cost five B-tree inserts and a delete (spool row, seen key + its age index, seq key + its
 * age index): ~35 µs of a 2-core machine's CPU per reading, more than the broker spends delivering
 * it (benchmarks/README.md). So the unit of storage is the commit group, not the reading:
 * - `segments`: one row per committed group, its readings as one JSON body (each series' tags
 *   once, see Segment), numbered `first`, `first + 1`, … (a reading's id). The drain reads whole
 *   segments from the head and deletes them; removing part of one (a split batch) rewrites its
 *   remainder.
 * - `admitted`: one row per series per group, holding that group's keys of the series
 *   (ts, seq, values) and their ts range. In memory only the highest ts and seq admitted per
 *   series are cached: a reading above them cannot be a copy — devices count up and clocks move
 *   forward, so that is nearly every reading — and only the others (redeliveries, re-sends,
 *   reordered readings) are looked up by ts range.
 */
import type Database from 'better-sqlite3';
import { statSync } from 'node:fs';
import { KIND_OF_MEASUREMENT, MEASUREMENT } from '../contracts/index.ts';
import { lineOf } from './line-protocol.ts';
import type { SpoolRow, StoredReading } from './rows.ts';
import { decodeSegment, rowsOf, sameValues, type Key, type Row, type Segment, type SegmentHead } from './spool-segment.ts';
import { openSpoolDatabase } from './spool-migrate.ts';

export type { SpoolRow };

/** A spooled reading as line protocol (ms precision): what InfluxDB is sent. */
export const lineOfRow = (r: SpoolRow): string => lineOf(r.measurement, r, r.values, r.seq ?? undefined, r.ts);

/** A spooled reading's fields and seq as one JSON object (the embedded store's column). */
export const fieldsJson = (r: SpoolRow): string => JSON.stringify(r.seq === null ? r.values : { ...r.values, seq: r.seq });

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
  /** Readings of recent segments kept in memory for the drain (default SPOOL_CACHE_READINGS). */
  cacheReadings?: number;
}

/** What admission did with a group: readings accepted (now durable) and duplicates dropped. */
export interface Admission {
  accepted: number;
  duplicates: number;
}

/**
 * The spool as ingest uses it. Every write is durable when it returns (one transaction); reads see
 * what was committed. The embedded implementation is SQLite (`openSpool`).
 */
export interface Spool {
  /** Readings of a group, durable on return. Duplicates are dropped and counted. */
  admit(batch: StoredReading[], now: number): Admission;
  /** Readings and rejects of a group of messages, durable on return (one transaction). */
  commit(batch: StoredReading[], rejects: RejectInput[], now: number): Admission;
  /**
   * The oldest `limit` rows, in admission order. `wholeSegments` (the drain) stops short of a
   * segment that would not fit, so removing the batch never rewrites a segment's remainder; only a
   * first segment larger than `limit` is cut.
   */
  peek(limit: number, opts?: { wholeSegments?: boolean }): SpoolRow[];
  /** Remove a drained batch (rows are taken from the head, so a batch is an id range). */
  remove(batch: SpoolRow[]): void;
  /** Readings the store refused for good (code STORE_REFUSED, with the server's message). */
  deadLetter(rows: SpoolRow[], error: string, now: number): void;
  deadLetters(): number;
  /** A reading (or payload) refused at the door. `data` is what was received (truncated). */
  recordReject(r: RejectInput, now: number): void;
  listRejects(f: { sensor?: string | undefined; code?: string | undefined; limit: number }): RejectRecord[];
  /** Bounded retention: older than `maxAgeMs`, or beyond the newest `maxRows`. Returns how many went. */
  pruneRejects(now: number, maxAgeMs: number, maxRows: number): number;
  /** Bytes of the readings waiting (in memory: cheap enough to check per message). */
  heldBytes(): number;
  /**
   * `bytes`: the readings waiting (what the bound and the alarm go by); `fileBytes`: the spool on
   * disk, which also holds the dedupe keys, the dead letters and free pages.
   */
  stats(now: number): { rows: number; oldestAgeMs: number; bytes: number; fileBytes: number };
  /** Forget admission keys older than the dedupe window; how many. */
  pruneSeen(now: number): number;
  close(): void;
}

/** The SQLite spool, with its database at hand for tests that look inside. */
export type SqliteSpool = Spool & { db: Database.Database };

/** A dead letter as given: the spool adds its id and time. */
export type RejectInput = Omit<RejectRecord, 'id' | 'at'>;

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

/**
 * Readings of segments this process committed kept in memory for the drain, which would otherwise
 * read back and parse what it has just written (~2 µs a reading of a 2-core machine's CPU at full
 * rate, benchmarks/README.md). Bounded: in an outage the spool outgrows it and the rest is read
 * from the file, which stays the truth (a restart starts with an empty cache).
 */
export const SPOOL_CACHE_READINGS = 50_000;

function prepare(db: Database.Database) {
  return {
    addSegment: db.prepare('INSERT INTO segments (first, n, received_at, body) VALUES (?, ?, ?, ?)'),
    heads: db.prepare('SELECT first, n, received_at AS receivedAt FROM segments ORDER BY first'),
    headsFrom: db.prepare('SELECT first, n, received_at AS receivedAt FROM segments WHERE first + n > ? AND first <= ? ORDER BY first'),
    body: db.prepare('SELECT body FROM segments WHERE first = ?').pluck(),
    bytesOf: db.prepare('SELECT octet_length(body) FROM segments WHERE first = ?').pluck(),
    dropSegment: db.prepare('DELETE FROM segments WHERE first = ?'),
    head: db.prepare('SELECT received_at AS receivedAt FROM segments ORDER BY first LIMIT 1'),
    totals: db.prepare('SELECT coalesce(sum(n), 0) AS rows, coalesce(max(first + n), 1) AS next, coalesce(sum(length(CAST(body AS BLOB))), 0) AS bytes FROM segments'),
    addKeys: db.prepare('INSERT INTO admitted (at, measurement, sensor, min_ts, max_ts, max_seq, keys) VALUES (?, ?, ?, ?, ?, ?, ?)'),
    maxTs: db.prepare('SELECT max(max_ts) AS m FROM admitted WHERE measurement = ? AND sensor = ?'),
    maxSeq: db.prepare('SELECT max(max_seq) AS m FROM admitted WHERE measurement = ? AND sensor = ?'),
    keysAround: db.prepare('SELECT keys FROM admitted WHERE measurement = ? AND sensor = ? AND max_ts >= ? AND min_ts <= ?'),
    pruneKeys: db.prepare('DELETE FROM admitted WHERE id < coalesce((SELECT id FROM admitted WHERE at >= ? ORDER BY id LIMIT 1), (SELECT max(id) + 1 FROM admitted))'),
    reject: db.prepare('INSERT INTO rejects (at, sensor, kind, ts, code, reason, data) VALUES (?, ?, ?, ?, ?, ?, ?)'),
    deadCount: db.prepare("SELECT count(*) AS n FROM rejects WHERE code = 'STORE_REFUSED'"),
    pruneRejectsAge: db.prepare('DELETE FROM rejects WHERE at < ?'),
    pruneRejectsCount: db.prepare('DELETE FROM rejects WHERE id <= (SELECT max(id) FROM rejects) - ?'),
  };
}
type Statements = ReturnType<typeof prepare>;

const bodyBytes = (body: string) => Buffer.byteLength(body);

interface Admitted {
  accepted: number;
  duplicates: number;
  /** The segment written, for the cache once the transaction has committed. */
  segment?: { first: number; segment: Segment; bytes: number };
}

/**
 * Admission: which readings of a group are new (duplicates dropped by series and ts, or by seq and
 * values when seq dedupe is on), written as one segment and the group's keys. Runs inside the
 * caller's transaction. `nextId` is the id of the next admitted reading.
 */
function createAdmission(q: Statements, opts: SpoolOptions, firstId: number) {
  let nextId = firstId;
  const seqTol = opts.seqToleranceMs ?? 0;
  type High = { ts: number; seq: number };
  /**
   * Per series, the highest ts and seq remembered (read from the table on first sight, then raised
   * as readings are admitted): a reading above both cannot be a copy, so no lookup. Raised only —
   * also by a transaction that then rolls back — so they never hide a remembered key; a value too
   * high costs a lookup, never a lost reading. Pruned keys leave them high for the same reason.
   * By measurement, then sensor: looked up by the strings themselves, no key built per reading.
   */
  const high = new Map<string, Map<string, High>>();
  const highOf = (measurement: string, sensor: string): High => {
    let bySensor = high.get(measurement);
    if (!bySensor) high.set(measurement, (bySensor = new Map()));
    let h = bySensor.get(sensor);
    if (!h) {
      const ts = (q.maxTs.get(measurement, sensor) as { m: number | null }).m ?? -Infinity;
      const seq = seqTol > 0 ? ((q.maxSeq.get(measurement, sensor) as { m: number | null }).m ?? -Infinity) : -Infinity;
      h = { ts, seq };
      bySensor.set(sensor, h);
    }
    return h;
  };

  /** The remembered keys of a series whose ts range meets [from, to]: stored, and this group's. */
  function* keysNear(measurement: string, sensor: string, from: number, to: number, group: Key[] | undefined): Generator<Key> {
    for (const r of q.keysAround.iterate(measurement, sensor, from, to) as Iterable<{ keys: string }>) yield* JSON.parse(r.keys) as Key[];
    if (group) yield* group;
  }


  /** Admit a group (inside a transaction): its segment and its keys. */
  function admitGroup(batch: StoredReading[], now: number): Admitted {
    let duplicates = 0;
    const segment: Segment = { s: [], r: [] };
    /** This group's keys per series (by its High, one per series): an `admitted` row each; `si`: its index in the segment. */
    const groups = new Map<High, { measurement: string; sensor: string; keys: Key[]; minTs: number; maxTs: number; maxSeq: number | null; si: number }>();
    for (const { reading, tags } of batch) {
      const measurement = MEASUREMENT[reading.kind];
      const h = highOf(measurement, tags.sensor);
      const g = groups.get(h);
      const seq = seqTol > 0 && reading.seq !== undefined ? reading.seq : null;
      const values = seq !== null ? reading.fields : null;
      if (reading.ts <= h.ts || (seq !== null && seq <= h.seq)) {
        // Possibly seen: same series and timestamp = the same point, admitted once whatever the
        // redeliveries; same seq and values near the same time = the same sample, re-stamped.
        const tol = seq !== null && seq <= h.seq ? seqTol : 0;
        let copy = false;
        let json: string | undefined;
        for (const [ts, s, v] of keysNear(measurement, tags.sensor, reading.ts - tol, reading.ts + tol, g?.keys)) {
          if (ts === reading.ts || (s !== null && s === seq && Math.abs(ts - reading.ts) <= seqTol && sameValues(v, (json ??= JSON.stringify(reading.fields))))) {
            copy = true;
            break;
          }
        }
        if (copy) {
          duplicates++;
          continue;
        }
      }
      if (reading.ts > h.ts) h.ts = reading.ts;
      if (seq !== null && seq > h.seq) h.seq = seq;
      const key: Key = [reading.ts, seq, values];
      let group = g;
      if (group) {
        group.keys.push(key);
        if (reading.ts < group.minTs) group.minTs = reading.ts;
        if (reading.ts > group.maxTs) group.maxTs = reading.ts;
        if (seq !== null && (group.maxSeq === null || seq > group.maxSeq)) group.maxSeq = seq;
      } else {
        groups.set(h, (group = { measurement, sensor: tags.sensor, keys: [key], minTs: reading.ts, maxTs: reading.ts, maxSeq: seq, si: -1 }));
      }
      // The series' tags once per segment (a site renamed within the group starts another entry).
      const known = segment.s[group.si];
      if (!known || known[2] !== tags.site || known[3] !== tags.district) {
        group.si = segment.s.length;
        segment.s.push([measurement, tags.sensor, tags.site, tags.district]);
      }
      segment.r.push([group.si, reading.ts, reading.fields, reading.seq ?? null]);
    }
    for (const g of groups.values()) q.addKeys.run(now, g.measurement, g.sensor, g.minTs, g.maxTs, g.maxSeq, JSON.stringify(g.keys));
    const n = segment.r.length;
    if (n > 0) {
      // A rolled-back transaction leaves a gap in the ids: harmless, segments are found by range.
      const body = JSON.stringify(segment);
      const first = nextId;
      q.addSegment.run(first, n, now, body);
      nextId += n;
      return { accepted: n, duplicates, segment: { first, segment, bytes: bodyBytes(body) } };
    }
    return { accepted: 0, duplicates };
  }
  return admitGroup;
}

/**
 * Remove the readings with ids in [from, to]; a segment only partly inside keeps the rest. Cache
 * entries are only dropped in here (a rollback then costs a re-read, never a stale reading).
 */
function rangeRemover(db: Database.Database, q: Statements, segmentOf: (first: number) => Segment, uncache: (first: number) => { bytes: number } | undefined) {
  return db.transaction((from: number, to: number): { removed: number; bytes: number } => {
    let removed = 0;
    let bytes = 0;
    for (const s of q.headsFrom.all(from, to) as SegmentHead[]) {
      const last = s.first + s.n - 1;
      // A whole segment is not parsed: its size comes from the cache, or from SQLite.
      const segment = s.first >= from && last <= to ? undefined : segmentOf(s.first);
      bytes += uncache(s.first)?.bytes ?? (q.bytesOf.get(s.first) as number);
      q.dropSegment.run(s.first);
      if (!segment) {
        removed += s.n;
        continue;
      }
      const keep = (first: number, part: Row[]) => {
        if (part.length === 0) return;
        // The whole series list is kept with either part: a few entries, not worth renumbering.
        const body = JSON.stringify({ s: segment.s, r: part } satisfies Segment);
        q.addSegment.run(first, part.length, s.receivedAt, body);
        bytes -= bodyBytes(body);
      };
      const before = segment.r.slice(0, Math.max(0, from - s.first));
      const after = segment.r.slice(Math.min(s.n, to - s.first + 1));
      keep(s.first, before);
      keep(to + 1, after);
      removed += s.n - before.length - after.length;
    }
    return { removed, bytes };
  });
}

/** Dead letters: readings refused at the door, or by the store for good, with why. */
function rejectOps(db: Database.Database, q: Statements) {
  return {
    /** A reading the store refused for good (code STORE_REFUSED, with the server's message). */
    deadLetter: db.transaction((rows: SpoolRow[], error: string, now: number) => {
      for (const r of rows) q.reject.run(now, r.sensor, KIND_OF_MEASUREMENT[r.measurement] ?? r.measurement, r.ts, 'STORE_REFUSED', error.slice(0, 2000), lineOfRow(r));
    }),
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
  };
}

export function openSpool(path: string, opts: SpoolOptions): SqliteSpool {
  const db = openSpoolDatabase(path, opts.sync);

  const q = prepare(db);

  const totals = q.totals.get() as { rows: number; next: number; bytes: number };
  /** Readings in the spool, kept here so the once-a-second stats never scan the table. */
  let rows = totals.rows;
  /**
   * Bytes of the readings waiting (segment bodies), kept like `rows`. The spool's bound and alarm
   * go by this, not by the file: SQLite reuses freed pages but never shrinks its file, so after an
   * outage had filled it, a file-size measure stayed "full" with nothing left to drain, and
   * admission would have waited for room forever.
   */
  let held = totals.bytes;
  /** The id of the next admitted reading. */
  const nextId = totals.next;
  /** Segments by first id (see SPOOL_CACHE_READINGS); filled only after their transaction committed. */
  const cache = new Map<number, { segment: Segment; bytes: number }>();
  const cacheLimit = opts.cacheReadings ?? SPOOL_CACHE_READINGS;
  let cachedReadings = 0;
  const uncache = (first: number) => {
    const c = cache.get(first);
    if (c) {
      cache.delete(first);
      cachedReadings -= c.segment.r.length;
    }
    return c;
  };
  const segmentOf = (first: number): Segment => cache.get(first)?.segment ?? decodeSegment(q.body.get(first) as string);

  const admitGroup = createAdmission(q, opts, nextId);
  const counted = ({ segment, ...r }: Admitted) => {
    // After the commit: a failed transaction adds nothing, neither here nor to the cache.
    rows += r.accepted;
    if (segment) {
      held += segment.bytes;
      const n = segment.segment.r.length;
      if (cachedReadings + n <= cacheLimit) {
        cache.set(segment.first, { segment: segment.segment, bytes: segment.bytes });
        cachedReadings += n;
      }
    }
    return r;
  };
  const admit = db.transaction(admitGroup);
  /** One transaction for a group of messages: their readings and their rejects. */
  const commit = db.transaction((batch: StoredReading[], rejects: RejectInput[], now: number) => {
    for (const r of rejects) q.reject.run(now, r.sensor, r.kind, r.ts, r.code, r.reason.slice(0, 2000), r.data.slice(0, 2000));
    return admitGroup(batch, now);
  });

  const removeRange = rangeRemover(db, q, segmentOf, uncache);

  return {
    db,
    /** Durable on return (one transaction). Duplicates are dropped and counted. */
    admit: (batch: StoredReading[], now: number) => counted(admit(batch, now)),
    /** Readings and rejects of a group of messages, durable on return (one transaction). */
    commit: (batch: StoredReading[], rejects: RejectInput[], now: number) => counted(commit(batch, rejects, now)),
    /**
     * The oldest `limit` rows, in admission order. `wholeSegments` (the drain) stops short of a
     * segment that would not fit, so removing the batch never rewrites a segment's remainder; only
     * a first segment larger than `limit` is cut.
     */
    peek(limit: number, opts: { wholeSegments?: boolean } = {}): SpoolRow[] {
      const out: SpoolRow[] = [];
      for (const s of q.heads.iterate() as Iterable<SegmentHead>) {
        if (opts.wholeSegments && out.length > 0 && out.length + s.n > limit) break;
        for (const r of rowsOf(s, segmentOf(s.first))) out.push(r);
        if (out.length >= limit) break;
      }
      return out.length > limit ? out.slice(0, limit) : out;
    },
    /** Remove a drained batch (rows are taken from the head, so a batch is an id range). */
    remove: (batch: SpoolRow[]) => {
      if (batch.length === 0) return;
      const r = removeRange(batch[0]!.id, batch[batch.length - 1]!.id);
      rows -= r.removed;
      held -= r.bytes;
    },
    ...rejectOps(db, q),
    /** Bytes of the readings waiting (in memory: cheap enough to check per message). */
    heldBytes: () => held,
    /**
     * `bytes`: the readings waiting (what the bound and the alarm go by); `fileBytes`: the database
     * and its WAL on disk, which also hold the dedupe keys (for the dedupe window), the dead letters
     * (for their retention) and free pages SQLite reuses.
     */
    stats(now: number): { rows: number; oldestAgeMs: number; bytes: number; fileBytes: number } {
      const head = rows > 0 ? (q.head.get() as { receivedAt: number } | undefined) : undefined;
      return { rows, oldestAgeMs: head ? now - head.receivedAt : 0, bytes: held, fileBytes: fileBytes(path) };
    },
    /**
     * Forget admission keys older than the dedupe window. Rows are numbered in admission order, so
     * the old ones are a prefix: found by walking from the start, no index on `at` to maintain.
     */
    pruneSeen: (now: number) => q.pruneKeys.run(now - opts.dedupeWindowMs).changes,
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
