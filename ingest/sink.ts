import type { Reading } from '../contracts/index.ts';
import type { PointTags } from './line-protocol.ts';

export interface StoredReading {
  reading: Reading;
  tags: PointTags;
}

/**
 * Where readings go. `write` resolves only once the readings are durable there; it rejects
 * otherwise and the caller keeps them (and does not acknowledge them to the broker).
 */
export interface ReadingSink {
  readonly name: string;
  write(batch: StoredReading[]): Promise<void>;
  close(): Promise<void>;
}
