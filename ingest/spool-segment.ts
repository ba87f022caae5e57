/**
 * A spool segment: the readings of one committed group as one JSON body, each series' tags once.
 * The layouts, the decoding of either, and the admission keys kept beside them.
 */
import type { SpoolRow } from './rows.ts';

/**
 * A reading in a segment body as spools of user_version 2 wrote it (and the v1 migration still
 * does): [measurement, sensor, ts, site, district, fields, seq or null]. Still read.
 */
export type Tuple = [string, string, number, string, string, Record<string, number>, number | null];
/** A series of a segment: [measurement, sensor, site, district]. */
export type Series = [string, string, string, string];
/** A reading of a segment: [index of its series, ts, fields, seq or null]. */
export type Row = [number, number, Record<string, number>, number | null];
/**
 * A segment's readings, as written now: `{"s": series, "r": rows}`, each series' tags once. Its line
 * protocol is written when it is read (the drain), not stored: half the bytes to write twice (WAL,
 * then the database file) and to delete again. The site names (Chinese) once per series instead of
 * once per reading made the body less than half as long (~41 bytes a reading instead of ~95) and
 * plain ASCII but for them: less to encode, write and delete per reading (benchmarks/README.md).
 */
export interface Segment {
  s: Series[];
  r: Row[];
}

/** A segment body of either layout, as a Segment. */
export function decodeSegment(body: string): Segment {
  const parsed = JSON.parse(body) as Segment | Tuple[];
  if (!Array.isArray(parsed)) return parsed;
  const s: Series[] = [];
  const index = new Map<string, number>();
  const r = parsed.map(([measurement, sensor, ts, site, district, values, seq]): Row => {
    const key = JSON.stringify([measurement, sensor, site, district]);
    let i = index.get(key);
    if (i === undefined) {
      index.set(key, (i = s.length));
      s.push([measurement, sensor, site, district]);
    }
    return [i, ts, values, seq];
  });
  return { s, r };
}
/**
 * An admission key: [ts, seq or null, values or null (seq dedupe off)]. The values are the
 * reading's fields, serialized with the key row; key rows of earlier versions hold them as a JSON
 * string instead. Compared as JSON (sameValues), only for a possible re-stamped copy: a
 * JSON.stringify per admitted reading cost ~3% of ingest's CPU.
 */
export type Key = [number, number | null, Readonly<Record<string, number>> | string | null];

/** Whether a remembered key's values are the reading's fields (`json`: theirs, serialized once). */
export const sameValues = (stored: Key[2], json: string): boolean => stored !== null && (typeof stored === 'string' ? stored : JSON.stringify(stored)) === json;

export interface SegmentHead {
  first: number;
  n: number;
  receivedAt: number;
}

/**
 * Readings of segments this process committed kept in memory for the drain, which would otherwise
 * read back and parse what it has just written (~2 µs a reading of a 2-core machine's CPU at full
 * rate, benchmarks/README.md). Bounded: in an outage the spool outgrows it and the rest is read
 * from the file, which stays the truth (a restart starts with an empty cache).

/** A segment's readings as spool rows, numbered from its first id. */
export const rowsOf = (h: SegmentHead, { s, r }: Segment): SpoolRow[] =>
  r.map(([si, ts, values, seq], i) => {
    const [measurement, sensor, site, district] = s[si]!;
    return { id: h.first + i, measurement, sensor, ts, site, district, values, seq, receivedAt: h.receivedAt };
  });
