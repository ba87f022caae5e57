/** The spool (real SQLite files) and the drain's batch/retry/split behaviour. */
import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { lineOfRow, openSpool, type Spool, type SpoolRow } from '../spool.ts';
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
      expect(text).toMatch(/floodgate_ingest_written_total\{sink="scripted"\} 9/);
      expect(text).toMatch(/floodgate_ingest_dead_letters_total 1/);
    } finally {
      await drain.close();
      spool.close();
      d.remove();
    }
  });
});
