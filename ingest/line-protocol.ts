/**
 * Readings → InfluxDB points. One measurement per kind, tags `sensor`, `site`, `district`,
 * float fields, millisecond timestamps from the sensor (DESIGN.md, Storage). Escaping is left to
 * the official client's Point (tested against real InfluxDB 1.x in ingest/test).
 */
import { Point } from '@influxdata/influxdb-client';
import { MEASUREMENT, type Reading } from '../contracts/index.ts';
import type { RegistryIndex } from '../config/registry.ts';

export interface PointTags {
  sensor: string;
  site: string;
  district: string;
}

export function tagsFor(reading: Reading, index: RegistryIndex): PointTags {
  const site = index.siteOfSensor(reading.sensorId);
  return { sensor: reading.sensorId, site: tagValue(site?.name ?? ''), district: tagValue(site?.district ?? '') };
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

export function toPoint(reading: Reading, tags: PointTags): Point {
  const p = new Point(MEASUREMENT[reading.kind]).tag('sensor', tags.sensor).timestamp(reading.ts);
  if (tags.site) p.tag('site', tags.site);
  if (tags.district) p.tag('district', tags.district);
  for (const [name, value] of Object.entries(reading.fields)) p.floatField(name, value);
  if (reading.seq !== undefined) p.intField('seq', reading.seq);
  return p;
}

/** Line protocol with ms precision, one line per reading. */
export function toLine(reading: Reading, tags: PointTags): string {
  const line = toPoint(reading, tags).toLineProtocol();
  // A Point without fields yields undefined; the contracts guarantee at least one field.
  if (line === undefined) throw new Error(`reading of ${reading.sensorId} has no fields`);
  return line;
}
