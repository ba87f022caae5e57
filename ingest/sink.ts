import type { SpoolRow, StoredReading } from './rows.ts';
import type { WriteFailure } from './write-outcome.ts';

export type { SpoolRow, StoredReading };

/** A failed store write, classified so the drain can decide (retry, split, dead-letter). */
export class SinkError extends Error {
  readonly failure: WriteFailure;
  constructor(failure: WriteFailure) {
    super(failure.kind === 'http' ? `HTTP ${failure.status}: ${failure.message}` : failure.message);
    this.name = 'SinkError';
    this.failure = failure;
  }
}

/**
 * Where spooled readings go. `write` resolves only once the store accepted the whole batch; it
 * throws a SinkError otherwise and the rows stay in the spool.
 */
export interface ReadingSink {
  readonly name: string;
  write(rows: SpoolRow[]): Promise<void>;
  close(): Promise<void>;
}
