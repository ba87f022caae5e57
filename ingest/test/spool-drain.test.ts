/** The spool (real SQLite files) and the drain's batch/retry/split behaviour. */
import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { statSync } from 'node:fs';
import Database from 'better-sqlite3';
import { lineOfRow, openSpool, type Spool, type SpoolRow, type SqliteSpool } from '../spool.ts';
import { createDrain } from '../drain.ts';
import { SinkError, type ReadingSink } from '../sink.ts';
import { createMetricsRegistry } from '../../lib/metrics.ts';
import { silentLogger } from '../../lib/logger.ts';
import { systemClock } from '../../lib/clock.ts';
import { tempDir } from '../../test/helpers/servers.ts';
import { eventually } from '../../test/helpers/stack.ts';
import type { StoredReading } from '../sink.ts';

const T0 = Date.parse('2026-07-01T10:00:00+08:00');
const reading = (sensor: string, i: number, depth = i): StoredReading => ({
  reading: { kind: 'ponding', sensorId: sensor, ts: T0 + i * 60_000, seq: i, fields: { depth_cm: depth } },
  tags: { sensor, site: 'site a', district: 'd' },
});

describe('spool', () => {
  const dirs: Array<{ remove(): void }> = [];
  const spools: Spool[] = [];
  afterEach(() => {
    spools.splice(0).forEach((s) => s.close());
    dirs.splice(0).forEach((d) => d.remove());
  });
  const open = (path?: string) => {
    const d = tempDir('spool');
    dirs.push(d);
    const s = openSpool(path ?? join(d.path, 'spool.db'), { sync: 'normal', dedupeWindowMs: 60_000 });
    spools.push(s);
    return s;
  };

  it('admits readings in order with their line protocol, and drops duplicates of sensor + ts', () => {
    const s = open();
    expect(s.admit([reading('PD-1', 0), reading('PD-1', 1)], 1000)).toEqual({ accepted: 2, duplicates: 0 });
    expect(s.admit([reading('PD-1', 1, 99), reading('PD-2', 1)], 1001)).toEqual({ accepted: 1, duplicates: 1 });
    const rows = s.peek(10);
    expect(rows.map((r) => `${r.sensor}@${r.ts - T0}`)).toEqual(['PD-1@0', 'PD-1@60000', 'PD-2@60000']);
    expect(lineOfRow(rows[0]!)).toBe(`ponding,district=d,sensor=PD-1,site=site\\ a depth_cm=0,seq=0i ${T0}`); // tags sorted, as InfluxDB prefers
  });

  it.each([
    // [case, second reading (seq, ts offset ms, depth), dropped?]
    ['same seq and values, re-stamped 3 min later', [0, 180_000, 5], true],
    ['same seq and values, re-stamped 3 min earlier', [0, -180_000, 5], true],
    ['same seq, other value (a rebooted counter)', [0, 180_000, 6], false],
    ['same seq and values, beyond the tolerance', [0, 600_001, 5], false],
    ['other seq, same values', [1, 180_000, 5], false],
  ] as const)('seq dedupe: %s', (_case, [seq, dt, depth], dropped) => {
    const d = tempDir('spool');
    dirs.push(d);
    const s = openSpool(join(d.path, 'spool.db'), { sync: 'normal', dedupeWindowMs: 60_000, seqToleranceMs: 600_000 });
    spools.push(s);
    const at = (seqN: number, ts: number, v: number): StoredReading => ({
      reading: { kind: 'ponding', sensorId: 'PD-1', ts, seq: seqN, fields: { depth_cm: v } },
      tags: { sensor: 'PD-1', site: 'a', district: 'd' },
    });
    s.admit([at(0, T0, 5)], 1000);
    s.remove(s.peek(10)); // drained already: the memory of it is what drops the copy
    expect(s.admit([at(seq, T0 + dt, depth)], 2000)).toEqual(dropped ? { accepted: 0, duplicates: 1 } : { accepted: 1, duplicates: 0 });
    s.pruneSeen(2000 + 60_001);
    expect(s.admit([at(0, T0 + 1, 5)], 63_000)).toEqual({ accepted: 1, duplicates: 0 }); // forgotten after the window
  });

  it('seq dedupe survives a reopen: re-stamped copies of remembered seqs are dropped, new seqs admitted', () => {
    const d = tempDir('spool');
    dirs.push(d);
    const path = join(d.path, 'spool.db');
    const opts = { sync: 'normal' as const, dedupeWindowMs: 60_000, seqToleranceMs: 600_000 };
    const at = (seqN: number, ts: number): StoredReading => ({ reading: { kind: 'ponding', sensorId: 'PD-1', ts, seq: seqN, fields: { depth_cm: seqN } }, tags: { sensor: 'PD-1', site: 'a', district: 'd' } });
    const a = openSpool(path, opts);
    a.admit([0, 1, 2, 3, 4, 5].map((i) => at(i, T0 + i * 60_000)), 1000);
    a.close();
    const b = openSpool(path, opts);
    spools.push(b);
    // The device re-sends 3..5 with its clock corrected by +90 s, then goes on with 6.
    expect(b.admit([3, 4, 5].map((i) => at(i, T0 + i * 60_000 + 90_000)), 2000)).toEqual({ accepted: 0, duplicates: 3 });
    expect(b.admit([at(6, T0 + 6 * 60_000)], 2000)).toEqual({ accepted: 1, duplicates: 0 });
  });

  it('still drops a duplicate after its original was drained, within the window', () => {
    const s = open();
    s.admit([reading('PD-1', 0)], 1000);
    s.remove(s.peek(10));
    expect(s.admit([reading('PD-1', 0)], 2000)).toEqual({ accepted: 0, duplicates: 1 });
    s.pruneSeen(1000 + 60_001);
    expect(s.admit([reading('PD-1', 0)], 62_000)).toEqual({ accepted: 1, duplicates: 0 });
  });

  it('removes a drained batch by id range and reports depth and age', () => {
    const s = open();
    s.admit([0, 1, 2, 3, 4].map((i) => reading('PD-1', i)), 1000);
    expect(s.stats(6000)).toMatchObject({ rows: 5, oldestAgeMs: 5000 });
    s.remove(s.peek(3));
    expect(s.peek(10).map((r) => r.seq)).toEqual([3, 4]);
    expect(s.stats(6000).bytes).toBeGreaterThan(0);
  });

  it('counts the bytes waiting exactly through admits, partial removes and a reopen; the file does not shrink', () => {
    const d = tempDir('spool');
    dirs.push(d);
    const path = join(d.path, 'spool.db');
    const a = openSpool(path, { sync: 'normal', dedupeWindowMs: 60_000 });
    // What the segments really hold: the figure the bound and the alarm go by.
    const inTable = (x: SqliteSpool) => (x.db.prepare('SELECT coalesce(sum(length(CAST(body AS BLOB))), 0) AS b FROM segments').get() as { b: number }).b;
    a.admit(Array.from({ length: 300 }, (_, i) => reading('PD-1', i)), 1000);
    a.admit(Array.from({ length: 300 }, (_, i) => ({ ...reading('PD-2', i), tags: { sensor: 'PD-2', site: '中山北路下立交', district: 'd' } })), 1001);
    expect(a.heldBytes()).toBeGreaterThan(0);
    expect(a.heldBytes()).toBe(inTable(a));
    expect(a.stats(2000).bytes).toBe(a.heldBytes());
    a.remove(a.peek(150)); // half of the first segment: it is rewritten with the rest
    expect(a.heldBytes()).toBe(inTable(a));
    a.remove(a.peek(300)); // the rest of the first and half of the second
    expect(a.heldBytes()).toBe(inTable(a));
    a.close(); // the last connection: its WAL is checkpointed into the database and removed
    const dbBefore = statSync(path).size;
    const b = open(path);
    expect(b.heldBytes()).toBe(inTable(b));
    b.remove(b.peek(1000));
    expect(b.stats(3000)).toMatchObject({ rows: 0, bytes: 0 });
    b.db.pragma('wal_checkpoint(TRUNCATE)');
    expect(statSync(path).size).toBeGreaterThanOrEqual(dbBefore); // pages are reused, not given back
    expect(b.stats(3000).fileBytes).toBeGreaterThanOrEqual(dbBefore);
  });

  it('hands the drain whole segments: a batch stops short of one that would not fit, unless it is the first', () => {
    const s = open();
    s.admit([0, 1, 2].map((i) => reading('PD-1', i)), 1000);
    s.admit([3, 4, 5].map((i) => reading('PD-1', i)), 1000);
    expect(s.peek(5, { wholeSegments: true }).map((r) => r.seq)).toEqual([0, 1, 2]);
    expect(s.peek(5).map((r) => r.seq)).toEqual([0, 1, 2, 3, 4]);
    expect(s.peek(2, { wholeSegments: true }).map((r) => r.seq)).toEqual([0, 1]); // a first segment larger than the batch is cut
    s.remove(s.peek(6, { wholeSegments: true }));
    expect(s.stats(2000)).toMatchObject({ rows: 0, bytes: 0 });
  });

  it('reads segments beyond its memory from the file, in order, with the same content', () => {
    const d = tempDir('spool');
    dirs.push(d);
    const path = join(d.path, 'spool.db');
    // Room in memory for the first two segments only: the third and fourth come from the file.
    const s = openSpool(path, { sync: 'normal', dedupeWindowMs: 60_000, cacheReadings: 4 });
    spools.push(s);
    for (const sensor of ['PD-1', 'PD-2', 'PD-3', 'PD-4']) s.admit([0, 1].map((i) => ({ ...reading(sensor, i), tags: { sensor, site: '中山北路下立交', district: 'd' } })), 1000);
    const fromFile = open(path); // a second connection: nothing in memory
    expect(s.peek(100)).toEqual(fromFile.peek(100));
    expect(s.peek(100).map((r) => `${r.sensor}/${r.seq}`)).toEqual(['PD-1/0', 'PD-1/1', 'PD-2/0', 'PD-2/1', 'PD-3/0', 'PD-3/1', 'PD-4/0', 'PD-4/1']);
    const inTable = () => (s.db.prepare('SELECT coalesce(sum(length(CAST(body AS BLOB))), 0) AS b FROM segments').get() as { b: number }).b;
    s.remove(s.peek(5)); // two cached segments, one from the file, and half of one from the file
    expect(s.heldBytes()).toBe(inTable());
    s.admit([reading('PD-5', 0)], 1001); // memory has room again
    expect(s.peek(100).map((r) => `${r.sensor}/${r.seq}`)).toEqual(['PD-3/1', 'PD-4/0', 'PD-4/1', 'PD-5/0']);
    expect(s.peek(100)).toEqual(fromFile.peek(100));
  });

  it('writes each series once per segment; a site renamed within a group keeps each reading its own tags', () => {
    const s = open();
    const renamed = { ...reading('PD-1', 2), tags: { sensor: 'PD-1', site: '中山北路下立交', district: 'd' } };
    s.admit([reading('PD-1', 0), reading('PD-2', 0), reading('PD-1', 1), renamed, reading('PD-1', 3)], 1000);
    const body = JSON.parse(s.db.prepare('SELECT body FROM segments').pluck().get() as string) as { s: unknown[]; r: unknown[] };
    expect(body.s).toEqual([
      ['ponding', 'PD-1', 'site a', 'd'],
      ['ponding', 'PD-2', 'site a', 'd'],
      ['ponding', 'PD-1', '中山北路下立交', 'd'],
      ['ponding', 'PD-1', 'site a', 'd'],
    ]);
    expect(body.r).toHaveLength(5);
    expect(s.peek(10).map((r) => `${r.sensor}/${r.seq}/${r.site}`)).toEqual(['PD-1/0/site a', 'PD-2/0/site a', 'PD-1/1/site a', 'PD-1/2/中山北路下立交', 'PD-1/3/site a']);
  });

  it('reads, splits and drains segments in the layout of user_version 2 (a tuple per reading)', () => {
    const d = tempDir('spool');
    dirs.push(d);
    const path = join(d.path, 'spool.db');
    // The file an earlier version left: its segments' bodies are arrays of
    // [measurement, sensor, ts, site, district, fields, seq].
    openSpool(path, { sync: 'normal', dedupeWindowMs: 60_000 }).close();
    const v2 = new Database(path);
    const tuple = (sensor: string, i: number) => ['ponding', sensor, T0 + i * 60_000, '中山北路下立交', 'd', { depth_cm: i }, i];
    v2.prepare('INSERT INTO segments (first, n, received_at, body) VALUES (?, ?, ?, ?)').run(1, 4, 900, JSON.stringify([0, 1, 2, 3].map((i) => tuple(i % 2 ? 'PD-2' : 'PD-1', i))));
    v2.pragma('user_version = 2');
    v2.close();
    const s = open(path);
    expect(s.stats(1000)).toMatchObject({ rows: 4 });
    expect(s.peek(10)).toEqual(
      [0, 1, 2, 3].map((i) => ({ id: i + 1, measurement: 'ponding', sensor: i % 2 ? 'PD-2' : 'PD-1', ts: T0 + i * 60_000, site: '中山北路下立交', district: 'd', values: { depth_cm: i }, seq: i, receivedAt: 900 })),
    );
    s.admit([reading('PD-1', 4)], 1000); // new readings follow, in the new layout
    s.remove(s.peek(1)); // the old segment's rest is rewritten
    expect(s.peek(10).map((r) => `${r.id}:${r.sensor}/${r.seq}/${r.site}`)).toEqual(['2:PD-2/1/中山北路下立交', '3:PD-1/2/中山北路下立交', '4:PD-2/3/中山北路下立交', '5:PD-1/4/site a']);
    const inTable = (s.db.prepare('SELECT coalesce(sum(length(CAST(body AS BLOB))), 0) AS b FROM segments').get() as { b: number }).b;
    expect(s.heldBytes()).toBe(inTable);
    s.remove(s.peek(10));
    expect(s.stats(2000)).toMatchObject({ rows: 0, bytes: 0 });
  });

  it('keeps nothing of a commit that failed: no reading appears that is not in the file', () => {
    const s = open();
    s.admit([reading('PD-1', 0)], 1000);
    const bad = { sensor: null as unknown as string, kind: 'ponding', ts: null, code: 'X', reason: 'r', data: '' }; // NOT NULL violated
    expect(() => s.commit([reading('PD-1', 1)], [bad], 1000)).toThrow(/NOT NULL/);
    expect(s.peek(10).map((r) => r.seq)).toEqual([0]);
    expect(s.stats(1000).rows).toBe(1);
    expect(s.commit([reading('PD-1', 1)], [], 1000)).toEqual({ accepted: 1, duplicates: 0 }); // not taken for a copy
  });

  it('keeps rejects queryable by sensor and code, with bounded retention', () => {
    const s = open();
    for (let i = 0; i < 6; i++) s.recordReject({ sensor: `PD-${i % 2}`, kind: 'ponding', ts: null, code: i < 4 ? 'PAYLOAD_INVALID' : 'PAYLOAD_NOT_JSON', reason: `r${i}`, data: '{}' }, 1000 + i);
    expect(s.listRejects({ sensor: 'PD-0', limit: 10 }).map((r) => r.reason)).toEqual(['r4', 'r2', 'r0']);
    expect(s.listRejects({ code: 'PAYLOAD_NOT_JSON', limit: 10 }).map((r) => r.reason)).toEqual(['r5', 'r4']);
    expect(s.listRejects({ sensor: 'PD-1', code: 'PAYLOAD_INVALID', limit: 1 }).map((r) => r.reason)).toEqual(['r3']);
    expect(s.pruneRejects(1003, 1, 100)).toBe(2); // at 1000 and 1001 are older than 1002
    expect(s.pruneRejects(1003, 1_000_000, 2)).toBe(2); // r2 and r3: only the newest 2 stay
    expect(s.listRejects({ limit: 10 }).map((r) => r.reason)).toEqual(['r5', 'r4']);
  });

  it('keeps what it admitted across a reopen (the file is the truth)', () => {
    const d = tempDir('spool');
    dirs.push(d);
    const path = join(d.path, 'spool.db');
    const a = openSpool(path, { sync: 'normal', dedupeWindowMs: 60_000 });
    a.admit([reading('PD-1', 0), reading('PD-1', 1)], 1000);
    a.close();
    const b = open(path);
    expect(b.peek(10)).toHaveLength(2);
    expect(b.admit([reading('PD-1', 1)], 1001).duplicates).toBe(1);
  });
});

describe('spool written by an earlier version (a row per reading)', () => {
  it('keeps every spooled reading, in order, and still drops copies of what it had admitted', () => {
    const d = tempDir('spool-v1');
    const path = join(d.path, 'spool.db');
    // The version 1 layout, as the ingest of 2026-11-28 wrote it.
    const v1 = new Database(path);
    v1.exec(`
      CREATE TABLE spool (id INTEGER PRIMARY KEY AUTOINCREMENT, measurement TEXT NOT NULL, sensor TEXT NOT NULL, ts INTEGER NOT NULL,
        site TEXT NOT NULL, district TEXT NOT NULL, fields TEXT NOT NULL, line TEXT NOT NULL, received_at INTEGER NOT NULL);
      CREATE TABLE seen (measurement TEXT NOT NULL, sensor TEXT NOT NULL, ts INTEGER NOT NULL, at INTEGER NOT NULL,
        PRIMARY KEY (measurement, sensor, ts)) WITHOUT ROWID;
      CREATE TABLE seen_seq (measurement TEXT NOT NULL, sensor TEXT NOT NULL, seq INTEGER NOT NULL, ts INTEGER NOT NULL, fields TEXT NOT NULL,
        at INTEGER NOT NULL, PRIMARY KEY (measurement, sensor, seq, ts)) WITHOUT ROWID;`);
    const add = v1.prepare('INSERT INTO spool (id, measurement, sensor, ts, site, district, fields, line, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)');
    // Ids with a gap (a drained split batch), two sensors, one reading without seq.
    for (const [id, sensor, i, seq] of [[3, 'PD-1', 0, 0], [4, 'PD-2', 0, 7], [5, 'PD-1', 1, 1], [9, 'PD-1', 2, null]] as const) {
      add.run(id, 'ponding', sensor, T0 + i * 60_000, 'site a', 'd', JSON.stringify({ depth_cm: i, ...(seq === null ? {} : { seq }) }), 'unused', 1000 + id);
    }
    for (const [sensor, i] of [['PD-1', 0], ['PD-2', 0], ['PD-1', 1], ['PD-1', 2], ['PD-3', 5]] as const) v1.prepare('INSERT INTO seen VALUES (?, ?, ?, ?)').run('ponding', sensor, T0 + i * 60_000, 1500);
    v1.prepare('INSERT INTO seen_seq VALUES (?, ?, ?, ?, ?, ?)').run('ponding', 'PD-3', 5, T0 + 5 * 60_000, JSON.stringify({ depth_cm: 5 }), 1500);
    v1.close();

    const s = openSpool(path, { sync: 'normal', dedupeWindowMs: 60_000, seqToleranceMs: 600_000 });
    try {
      const rows = s.peek(10);
      expect(rows.map((r) => [r.id, r.sensor, r.ts - T0, r.values['depth_cm'], r.seq, r.receivedAt])).toEqual([
        [3, 'PD-1', 0, 0, 0, 1003],
        [4, 'PD-2', 0, 0, 7, 1003],
        [5, 'PD-1', 60_000, 1, 1, 1003],
        [9, 'PD-1', 120_000, 2, null, 1009],
      ]);
      expect(lineOfRow(rows[1]!)).toBe(`ponding,district=d,sensor=PD-2,site=site\\ a depth_cm=0,seq=7i ${T0}`);
      expect(s.stats(2000).rows).toBe(4);
      // Copies of admitted readings (same ts; same seq and values re-stamped) are still dropped.
      expect(s.admit([reading('PD-1', 1), reading('PD-2', 0)], 2000)).toEqual({ accepted: 0, duplicates: 2 });
      const restamped: StoredReading = { reading: { kind: 'ponding', sensorId: 'PD-3', ts: T0 + 5 * 60_000 + 90_000, seq: 5, fields: { depth_cm: 5 } }, tags: { sensor: 'PD-3', site: 'a', district: 'd' } };
      expect(s.admit([restamped], 2000)).toEqual({ accepted: 0, duplicates: 1 });
      expect(s.admit([reading('PD-1', 3)], 2000)).toEqual({ accepted: 1, duplicates: 0 });
      s.remove(s.peek(3));
      expect(s.peek(10).map((r) => r.id)).toEqual([9, 10]);
      const tables = (s.db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as Array<{ name: string }>).map((t) => t.name);
      expect(tables).not.toContain('spool');
      expect(tables).not.toContain('seen');
      // The migrated keys are forgotten like the others once the window has passed.
      expect(s.pruneSeen(1500 + 60_001)).toBeGreaterThan(0);
      expect(s.admit([reading('PD-2', 0)], 70_000)).toEqual({ accepted: 1, duplicates: 0 });
    } finally {
      s.close();
      d.remove();
    }
  });
});

describe('drain', () => {
  /** A scripted sink: refuses lines containing `bad`, fails the first `outages` calls with 503. */
  function scriptedSink(outages: number) {
    const written: SpoolRow[] = [];
    let calls = 0;
    const sink: ReadingSink = {
      name: 'scripted',
      async write(rows) {
        calls++;
        if (calls <= outages) throw new SinkError({ kind: 'http', status: 503, message: 'unavailable', retryAfterMs: undefined });
        if (rows.some((r) => r.values['depth_cm'] === 666)) throw new SinkError({ kind: 'http', status: 400, message: 'partial write: field type conflict', retryAfterMs: undefined });
        written.push(...rows);
      },
      async close() {},
    };
    return { sink, written, calls: () => calls };
  }

  it('retries through an outage, splits a refused batch, dead-letters only the bad line, keeps order', async () => {
    const d = tempDir('drain');
    const spool = openSpool(join(d.path, 'spool.db'), { sync: 'normal', dedupeWindowMs: 60_000 });
    const { sink, written } = scriptedSink(3);
    const metrics = createMetricsRegistry();
    spool.admit(Array.from({ length: 10 }, (_, i) => reading('PD-1', i, i === 6 ? 666 : i)), Date.now());
    const drain = createDrain({ spool, sink, logger: silentLogger, metrics, clock: systemClock, batchSize: 8, backoff: { baseMs: 5, maxMs: 20, minMs: 1 }, idleMs: 20 });
    try {
      await eventually(() => spool.stats(Date.now()).rows === 0, 'an empty spool');
      expect(written.map((r) => r.values['depth_cm'])).toEqual([0, 1, 2, 3, 4, 5, 7, 8, 9]);
      expect(spool.deadLetters()).toBe(1);
      expect(spool.listRejects({ limit: 10 })).toEqual([
        expect.objectContaining({ sensor: 'PD-1', kind: 'ponding', ts: T0 + 6 * 60_000, code: 'STORE_REFUSED', reason: 'HTTP 400: partial write: field type conflict' }),
      ]);
      const text = await metrics.metrics();
      expect(text).toMatch(/floodgate_ingest_write_retries_total\{sink="scripted",reason="503"\} 3/);
      expect(text).toMatch(/floodgate_ingest_written_total\{sink="scripted",kind="ponding"\} 9/);
      expect(text).toMatch(/floodgate_ingest_dead_letters_total 1/);
    } finally {
      await drain.close();
      spool.close();
      d.remove();
    }
  });
});
