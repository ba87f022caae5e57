/**
 * What ingest says about a refused message (pure): the reject message the sender reads on
 * `floodgate/rejects/<kind>/<id>` (DESIGN.md, "Rejects"), and the dead letters kept for
 * `GET /api/rejects`, one per refused reading with why.
 */
import type { ItemError, RejectMessage } from '../contracts/index.ts';
import type { ErrorCode } from '../lib/errors.ts';
import type { RejectInput } from './spool.ts';

export interface Refusal {
  topic: string;
  sensorId: string;
  kind: string;
  code: ErrorCode;
  reason: string;
  /** Per-reading problems of a batch (empty: the whole message was refused). */
  errors: ItemError[];
  /** Readings of the same message that were kept. */
  accepted: number;
  payload: Buffer;
}

/** How many readings a refusal refuses: those named by its errors, or the whole message. */
export const refusedCount = (r: Refusal) => (r.errors.length > 0 ? new Set(r.errors.map((e) => e.index)).size : 1);

/** The message the sender reads: at most 50 problems, with what was kept. */
export function rejectMessage(r: Refusal, receivedAt: string): RejectMessage {
  return { topic: r.topic, code: r.code, reason: r.reason, errors: r.errors.slice(0, 50), accepted: r.accepted, rejected: refusedCount(r), receivedAt };
}

/** The dead letters: one row per refused reading (or one for the message), with the first 1,000 bytes of it. */
export function deadLetters(r: Refusal): RejectInput[] {
  const data = r.payload.toString('utf8', 0, Math.min(r.payload.length, 1000));
  if (r.errors.length === 0) return [{ sensor: r.sensorId, kind: r.kind, ts: null, code: r.code, reason: r.reason, data }];
  return [...new Set(r.errors.map((e) => e.index))].map((index) => ({
    sensor: r.sensorId,
    kind: r.kind,
    ts: null,
    code: r.code,
    reason: r.errors
      .filter((e) => e.index === index)
      .map((e) => `[${index}]${e.path ? ' ' + e.path : ''}: ${e.message}`)
      .join('; '),
    data,
  }));
}
