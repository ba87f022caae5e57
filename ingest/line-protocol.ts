/**
 * Readings → InfluxDB points. One measurement per kind, tags `sensor`, `site`, `district`,
 * float fields, millisecond timestamps from the sensor (DESIGN.md, Storage). Escaping is the
 * official client's (`escape`); `lineOf` writes exactly what its Point writes (property-tested
 * against it in line-protocol.test.ts, and read back by a real InfluxDB 1.x in ingest/test),
 * without building a Point per reading: the tag part of a series is escaped once and reused.
 */
import { escape } from '@influxdata/influxdb-client';
import type { Reading } from '../contracts/index.ts';
import type { RegistryIndex } from '../config/registry.ts';

export interface PointTags {
  sensor: string;
  site: string;
  district: string;
}

/** Tags per sensor, per registry (a new registry index starts afresh): shared, never mutated. */
const tagCache = new WeakMap<RegistryIndex, Map<string, PointTags>>();

export function tagsFor(reading: Reading, index: RegistryIndex): PointTags {
  let bySensor = tagCache.get(index);
  if (!bySensor) tagCache.set(index, (bySensor = new Map()));
  let tags = bySensor.get(reading.sensorId);
  if (!tags) {
    const site = index.siteOfSensor(reading.sensorId);
    tags = Object.freeze({ sensor: reading.sensorId, site: tagValue(site?.name ?? ''), district: tagValue(site?.district ?? '') });
    bySensor.set(reading.sensorId, tags);
  }
  return tags;
}

/**
 * Line protocol cannot carry a tag value that ends in a backslash (it would escape the separator
 * after it; InfluxDB answers "invalid tag format"), nor control characters. The registry refuses
 * such names; this is the last line of defence so one odd name cannot fail a whole batch.
 */
export function tagValue(v: string): string {
  // eslint-disable-next-line no-control-regex
  return v.replace(/[\u0000-\u001f\u007f]/g, ' ').replace(/\\+$/, '');
}

/**
 * Escaped `measurement,district=…,sensor=…,site=…` per measurement and sensor, with the site and
 * district it was made for (a renamed site makes it again), and its UTF-8 bytes once a request body
 * needed them. Looked up by the strings themselves (their hashes are cached in them) rather than by
 * a key built per call. Bounded: cleared when large.
 */
interface Prefix {
  site: string;
  district: string;
  prefix: string;
  /** `prefix` and the space after it, UTF-8 (linesBody). */
  bytes?: Buffer;
}
const prefixes = new Map<string, Map<string, Prefix>>();

function seriesOf(measurement: string, tags: PointTags): Prefix {
  let bySensor = prefixes.get(measurement);
  if (!bySensor) prefixes.set(measurement, (bySensor = new Map()));
  const known = bySensor.get(tags.sensor);
  if (known && known.site === tags.site && known.district === tags.district) return known;
  let prefix = escape.measurement(measurement);
  if (tags.district) prefix += `,district=${escape.tag(tags.district)}`;
  if (tags.sensor) prefix += `,sensor=${escape.tag(tags.sensor)}`;
  if (tags.site) prefix += `,site=${escape.tag(tags.site)}`;
  if (bySensor.size >= 100_000) bySensor.clear();
  const series: Prefix = { site: tags.site, district: tags.district, prefix };
  bySensor.set(tags.sensor, series);
  return series;
}

/** Field names escaped once (they come from the reading schemas: a small, fixed set). */
const fieldNames = new Map<string, string>();
function fieldName(name: string): string {
  let escaped = fieldNames.get(name);
  if (escaped === undefined) {
    escaped = escape.tag(name);
    if (fieldNames.size < 10_000) fieldNames.set(name, escaped);
  }
  return escaped;
}

/**
 * Line protocol, ms precision: the same text as the client's `Point#toLineProtocol()` — tags and fields
 * sorted by key, empty tag values left out, floats as `String(n)`, `seq` as an integer field.
 */
export function lineOf(measurement: string, tags: PointTags, fields: Readonly<Record<string, number>>, seq: number | undefined, ts: number): string {
  return `${seriesOf(measurement, tags).prefix} ${fieldsAndTime(tags, fields, seq, ts)}`;
}

/** What follows the series prefix and its space: `name=value,…` and the timestamp. ASCII but for field names. */
function fieldsAndTime(tags: PointTags, fields: Readonly<Record<string, number>>, seq: number | undefined, ts: number): string {
  const names = Object.keys(fields);
  if (seq !== undefined && !('seq' in fields)) names.push('seq');
  for (let i = 1; i < names.length; i++) {
    // Readings are built in schema order: usually sorted already, and sorting is then skipped.
    if (names[i - 1]! > names[i]!) {
      names.sort();
      break;
    }
  }
  let body = '';
  for (const name of names) {
    if (!name) continue;
    let value: string;
    if (name === 'seq' && seq !== undefined) {
      if (!Number.isFinite(seq) || seq <= -9223372036854776e3 || seq >= 9223372036854776e3) throw new Error(`invalid integer value for field 'seq': '${seq}'!`);
      value = `${Math.floor(seq)}i`;
    } else {
      const v = fields[name]!;
      if (!Number.isFinite(v)) throw new Error(`invalid float value for field '${name}': ${v}`);
      value = String(v);
    }
    body += `${body ? ',' : ''}${fieldName(name)}=${value}`;
  }
  if (!body) throw new Error(`reading of ${tags.sensor} has no fields`);
  return `${body} ${Math.floor(ts)}`;
}

/** A point to write: its measurement, tags (sensor, site, district), numeric fields, seq and ts. */
export interface LinePoint extends PointTags {
  measurement: string;
  values: Readonly<Record<string, number>>;
  seq: number | null;
  ts: number;
}

/** Reused for every body; grows to the largest batch's body (~0.5 MB at the default 5,000 lines) and stays. */
let scratch = Buffer.allocUnsafe(1 << 20);
/**
 * Buffer's own UTF-8 writer, which `write()` calls after handling its arguments — work that took
 * more of a CPU profile than the encoding itself: Node's `buf.utf8Write(string, offset)`.
 */
const utf8Write = (Buffer.prototype as unknown as { utf8Write(this: Buffer, s: string, offset: number): number }).utf8Write;

/**
 * A batch as a write request's body: the UTF-8 bytes of its lines joined by `\n`, exactly
 * `Buffer.from(points.map(lineOf…).join('\n'))` (tested), without building that text. Site names
 * are Chinese, which made every line and the joined body a two-byte string to be encoded again as
 * a whole: here a series' prefix is encoded once and the rest of a line (ASCII for the schemas'
 * field names) is written straight into the buffer — a third less CPU per line (benchmarks/README.md).
 */
export function linesBody(points: ReadonlyArray<LinePoint>): Buffer {
  let at = 0;
  for (let i = 0; i < points.length; i++) {
    const p = points[i]!;
    const series = seriesOf(p.measurement, p);
    const head = (series.bytes ??= Buffer.from(`${series.prefix} `));
    const rest = fieldsAndTime(p, p.values, p.seq ?? undefined, p.ts);
    // At most 3 bytes per UTF-16 unit, and the newline.
    const need = at + head.length + rest.length * 3 + 1;
    if (need > scratch.length) {
      const grown = Buffer.allocUnsafe(Math.max(need, scratch.length * 2));
      scratch.copy(grown, 0, 0, at);
      scratch = grown;
    }
    if (i > 0) scratch[at++] = 0x0a;
    scratch.set(head, at);
    at += head.length;
    at += utf8Write.call(scratch, rest, at);
  }
  // A copy: the scratch buffer is reused by the next batch while this body may still be in flight.
  return Buffer.from(scratch.subarray(0, at));
}
