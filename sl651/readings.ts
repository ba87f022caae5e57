/**
 * An SL 651 report as floodgate readings (issue 23 §3): what a station's rain gauge and water-level
 * gauge would have published over MQTT, at the observation times the report carries (not its
 * arrival: store-and-forward reports keep their own times). Pure.
 *
 * Rain, first of these the report holds (one interval per report, so rain is never counted twice):
 *   F4  twelve 5-minute amounts (interval 300 s, each at the end of its 5 minutes)
 *   22  5-minute period rain (300 s)           1A  1-hour period rain (3600 s)
 *   26  accumulated rain (PT): the difference from the station's previous total, over the time
 *       between them (a total that went down is a reset or a wrap: no reading)
 * Water level: 39 (instantaneous river level, m) and F5's twelve 5-minute levels.
 * Supply voltage 38 becomes `battery_v` of the readings at its time (the low-battery rule).
 * Everything else (20 current rain, 1F daily rain, water temperature, FF-extended ids …) rides as
 * `extra` on the reading at its time (stored as fields x_<id>: x_20, x_FF09); a value at a time
 * with no reading is counted as unmapped.
 */
import { READING_SCHEMAS, type SensorKind } from '../contracts/index.ts';
import { MAX_EXTRA } from '../contracts/readings.ts';
import type { Sl651Report, Sl651Value, WallTime } from '../contracts/sl651-report.ts';
import { wallTimeToUtc, type Zone } from '../lib/zone.ts';
import type { Station } from './stations.ts';

/** A reading payload as a device sends it: epoch ms `ts`, its fields, and maybe `extra`. */
export type ReadingItem = { ts: number; [field: string]: number | Record<string, number> };

export interface StationReadings {
  kind: SensorKind;
  sensorId: string;
  /** Each valid against the contract. */
  items: ReadingItem[];
}

export interface MappedReport {
  readings: StationReadings[];
  /** Values the contract refused (out of range …), with the reason. */
  invalid: Array<{ id: string; reason: string }>;
  /** Element ids with no floodgate field and no reading at their time to ride on (counted). */
  unmapped: string[];
  /** The station's accumulated rain (26) after this report, for the next one's difference. */
  total: { ts: number; mm: number } | undefined;
}

const utc = (t: WallTime, zone: Zone) => wallTimeToUtc(Date.UTC(t.y, t.mo - 1, t.d, t.h, t.mi, t.s), zone);

const RAIN_IDS = ['F4', '22', '1A'] as const;
const RAIN_INTERVAL_S: Record<(typeof RAIN_IDS)[number], number> = { F4: 300, '22': 300, '1A': 3600 };
const MAPPED = new Set(['F4', 'F5', '22', '1A', '26', '39', '38']);

function rainItems(values: Sl651Value[], zone: Zone, previousTotal: MappedReport['total']): { items: Array<Record<string, number>>; total: MappedReport['total'] } {
  const totals = values.filter((v) => v.id === '26' && v.value !== null);
  const last = totals.at(-1);
  const total = last ? { ts: utc(last.at, zone), mm: last.value! } : previousTotal;
  for (const id of RAIN_IDS) {
    const of = values.filter((v) => v.id === id);
    if (of.length > 0) return { items: of.filter((v) => v.value !== null).map((v) => ({ ts: utc(v.at, zone), rain_mm: v.value!, interval_s: RAIN_INTERVAL_S[id] })), total };
  }
  if (!last || !previousTotal) return { items: [], total };
  const ts = utc(last.at, zone);
  const intervalS = Math.round((ts - previousTotal.ts) / 1000);
  const mm = Math.round((last.value! - previousTotal.mm) * 10) / 10;
  // A total that went down was reset or wrapped; an interval outside 1 s – 1 day says nothing usable.
  if (mm < 0 || intervalS < 1 || intervalS > 86_400) return { items: [], total };
  return { items: [{ ts, rain_mm: mm, interval_s: intervalS }], total };
}

function levelItems(values: Sl651Value[], zone: Zone): Array<Record<string, number>> {
  const byTs = new Map<number, number>();
  for (const v of values) if ((v.id === 'F5' || v.id === '39') && v.value !== null) byTs.set(utc(v.at, zone), v.value);
  return [...byTs].sort((a, b) => a[0] - b[0]).map(([ts, level]) => ({ ts, level_m: level }));
}

/** The other elements' values at each time: a reading's `extra` (stored as fields x_<id>). */
function extrasByTime(values: Sl651Value[], zone: Zone): Map<number, Record<string, number>> {
  const out = new Map<number, Record<string, number>>();
  for (const v of values) {
    if (MAPPED.has(v.id) || v.value === null || !Number.isFinite(v.value) || !EXTRA_NAME.test(v.id)) continue;
    const ts = utc(v.at, zone);
    const e = out.get(ts) ?? {};
    if (Object.keys(e).length < MAX_EXTRA) e[v.id] = v.value;
    out.set(ts, e);
  }
  return out;
}
const EXTRA_NAME = /^[A-Za-z0-9_]{1,16}$/;

export function mapReport(report: Sl651Report, station: Station, zone: Zone, previousTotal?: MappedReport['total']): MappedReport {
  const out: MappedReport = { readings: [], invalid: [], unmapped: [], total: previousTotal };
  const battery = new Map<number, number>();
  for (const v of report.values) if (v.id === '38' && v.value !== null) battery.set(utc(v.at, zone), v.value);
  // Each time's other values ride on the first reading at that time (then they are taken).
  const extras = extrasByTime(report.values, zone);
  const push = (kind: SensorKind, items: Array<Record<string, number>>) => {
    const sensorId = station.sensors[kind];
    if (!sensorId || items.length === 0) return;
    const valid: ReadingItem[] = [];
    for (const item of items) {
      const b = battery.get(item['ts']!);
      const extra = extras.get(item['ts']!);
      const full: ReadingItem = { ...item, ts: item['ts']!, ...(b === undefined ? {} : { battery_v: b }), ...(extra ? { extra } : {}) };
      const r = READING_SCHEMAS[kind].safeParse(full);
      if (!r.success) {
        out.invalid.push({ id: kind, reason: r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') });
        continue;
      }
      valid.push(full);
      extras.delete(item['ts']!);
    }
    if (valid.length > 0) out.readings.push({ kind, sensorId, items: valid });
  };
  const rain = rainItems(report.values, zone, previousTotal);
  out.total = rain.total;
  push('rain', rain.items);
  push('water-level', levelItems(report.values, zone));
  // What no reading took (a time with only other values, a station without the sensor) is counted.
  out.unmapped = [...new Set([...extras.values()].flatMap((e) => Object.keys(e)))];
  return out;
}
