/**
 * Messages into the spool: each one checked (admission.ts decides), the sender told why a reading
 * was refused (floodgate/rejects/...), and a group committed in one transaction with its dead
 * letters. Counted as it goes.
 */
import { topics, type ItemError } from '../contracts/index.ts';
import type { RegistryIndex } from '../config/registry.ts';
import type { Clock } from '../lib/clock.ts';
import type { ErrorCode } from '../lib/errors.ts';
import type { Logger } from '../lib/logger.ts';
import type { Counter } from '../lib/metrics.ts';
import { isoWithOffset } from '../lib/time.ts';
import { admit } from './admission.ts';
import { deadLetters, refusedCount, rejectMessage, type Refusal } from './rejects.ts';
import type { StoredReading } from './sink.ts';
import type { RejectInput, Spool } from './spool.ts';

export interface IntakeDeps {
  spool: Spool;
  clock: Clock;
  logger: Logger;
  index(): RegistryIndex;
  maxReadingAgeMs: number;
  /** Publish a reject message (QoS 1, not awaited). */
  publish(topic: string, payload: string, opts: { qos: 1 }, cb: (err?: Error) => void): void;
  /** Readings were committed: the drain has work. */
  wake(): void;
  m: { readings: Counter<string>; rejected: Counter<string>; duplicates: Counter<string>; rejects: Counter<string> };
}

/** A message checked: its good readings and the dead letters of the rest. */
export interface Accepted {
  kind: string;
  good: StoredReading[];
  rejects: RejectInput[];
}

export function createIntake(d: IntakeDeps) {
  /** Tell the sender why (floodgate/rejects/...), count, and describe the dead letters to keep. */
  function reject(kind: string, sensorId: string, topic: string, code: ErrorCode, reason: string, errors: ItemError[], accepted: number, payload: Buffer): RejectInput[] {
    const refusal: Refusal = { topic, sensorId, kind, code, reason, errors, accepted, payload };
    const rejected = refusedCount(refusal);
    d.m.rejects.inc({ code });
    d.m.rejected.inc({ code }, rejected);
    d.m.readings.inc({ kind, result: 'rejected' }, rejected);
    // Not awaited: waiting for the broker's PUBACK inside message handling would stall this
    // connection, whose incoming packets mqtt.js processes serially.
    d.publish(topics.reject(kind, sensorId), JSON.stringify(rejectMessage(refusal, isoWithOffset(d.clock.now()))), { qos: 1 }, (err) => {
      if (err) d.logger.warn({ err: err.message, sensorId }, 'could not publish reject message');
    });
    return deadLetters(refusal);
  }

  /** Validate one message (admission.ts decides; here the counters, the log and the reject publish). */
  function accept(topic: string, payload: Buffer): Accepted | null {
    const a = admit(topic, payload, d.index(), d.clock.now(), d.maxReadingAgeMs);
    if (!a) return null; // not ours: we subscribe to readings only
    if ('refused' in a) {
      if (a.refused.code !== 'SENSOR_UNKNOWN' && a.refused.code !== 'SENSOR_KIND_MISMATCH') d.logger.info({ sensorId: a.sensorId, code: a.refused.code, reason: a.refused.reason }, 'payload rejected');
      return { kind: a.kind, good: [], rejects: reject(a.kind, a.sensorId, topic, a.refused.code, a.refused.reason, [], 0, payload) };
    }
    let rejects: RejectInput[] = [];
    if (a.errors.length > 0) {
      const n = new Set(a.errors.map((e) => e.index)).size;
      d.logger.info({ sensorId: a.sensorId, rejected: n, accepted: a.good.length, first: a.errors[0] }, 'readings rejected');
      rejects = reject(a.kind, a.sensorId, topic, 'PAYLOAD_INVALID', `${n} reading(s) invalid; ${a.good.length} stored`, a.errors, a.good.length, payload);
    }
    return { kind: a.kind, good: a.good, rejects };
  }

  /** A group of checked messages into the spool, one transaction. */
  function commit(items: Array<Accepted | null>): void {
    const good: StoredReading[] = [];
    const rejects: RejectInput[] = [];
    const perKind = new Map<string, number>();
    for (const it of items) {
      if (!it) continue;
      good.push(...it.good);
      rejects.push(...it.rejects);
    }
    const r = d.spool.commit(good, rejects, d.clock.now());
    for (const g of good) perKind.set(g.reading.kind, (perKind.get(g.reading.kind) ?? 0) + 1);
    for (const [kind, n] of perKind) d.m.readings.inc({ kind, result: 'accepted' }, n);
    if (r.duplicates > 0) d.m.duplicates.inc(r.duplicates);
    if (r.accepted > 0) d.wake();
  }
  return { accept, commit };
}
