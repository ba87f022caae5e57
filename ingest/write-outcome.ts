/**
 * What to do after a store write failed: pure decisions, table-tested.
 * 429, 5xx, timeouts and connection errors are retried with backoff (honouring Retry-After);
 * other 4xx mean the store refuses something in the batch: split it to isolate the bad line,
 * which goes to the dead letters with the server's message.
 */
import { SPOOL_LEVEL_FROM, type SPOOL_LEVELS } from '../contracts/index.ts';

export type WriteFailure =
  | { kind: 'http'; status: number; message: string; retryAfterMs: number | undefined }
  | { kind: 'network'; message: string };

export type WriteDecision = { action: 'retry'; delayMs: number } | { action: 'split' } | { action: 'dead-letter'; error: string };

export function decideOnWriteFailure(f: WriteFailure, batchSize: number, backoffMs: number): WriteDecision {
  if (f.kind === 'network') return { action: 'retry', delayMs: backoffMs };
  if (f.status === 408 || f.status === 429 || f.status >= 500) return { action: 'retry', delayMs: Math.max(backoffMs, f.retryAfterMs ?? 0) };
  if (batchSize > 1) return { action: 'split' };
  return { action: 'dead-letter', error: `HTTP ${f.status}: ${f.message}` };
}

/** Halves of a batch, in order. */
export function splitBatch<T>(rows: T[]): [T[], T[]] {
  const mid = Math.ceil(rows.length / 2);
  return [rows.slice(0, mid), rows.slice(mid)];
}

/** The levels of the spool alarm, as its contract names them (contracts/ingest.ts). */
export type SpoolLevel = (typeof SPOOL_LEVELS)[number];

/** Spool fill state for the alarm: warn long before full. */
export function spoolLevel(bytes: number, maxBytes: number): SpoolLevel {
  const f = bytes / maxBytes;
  if (f >= SPOOL_LEVEL_FROM.full) return 'full';
  if (f >= SPOOL_LEVEL_FROM.critical) return 'critical';
  if (f >= SPOOL_LEVEL_FROM.warning) return 'warning';
  return 'ok';
}
