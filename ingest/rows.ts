/**
 * What flows between ingest's spool and its sinks: a reading on its way in, a spooled row on its
 * way out. Its own file, so that neither imports the other.
 */
import type { Reading } from '../contracts/index.ts';
import type { PointTags } from './line-protocol.ts';

/** Readings ready for the spool: a validated reading and its tags. */
export interface StoredReading {
  reading: Reading;
  tags: PointTags;
}

export interface SpoolRow {
  id: number;
  measurement: string;
  sensor: string;
  ts: number;
  site: string;
  district: string;
  /** The numeric fields. */
  values: Record<string, number>;
  /** The device's counter, stored as an integer field `seq`; null when it sent none. */
  seq: number | null;
  receivedAt: number;
}
