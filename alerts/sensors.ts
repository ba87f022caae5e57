/**
 * The console's sensor board: each sensor's latest value, when it was last heard from, and a
 * 6-hour sparkline (72 five-minute buckets, the highest value of each, by sensor time). Fed by
 * the readings the alerts service sees (QoS 0: a display, not a record — InfluxDB is the record).
 * Kept in memory: after a restart the sparklines fill again.
 */
import { MAIN_FIELD, type Reading, type SensorKind } from '../contracts/index.ts';
import { indexRegistry, type Registry } from '../config/registry.ts';

const BUCKET_MS = 5 * 60_000;
export const SPARK_BUCKETS = 72;

interface Sensor {
  id: string;
  kind: SensorKind;
  site: string;
  name: string;
  district: string;
  value: number | null;
  ts: number | null;
  lastSeen: number | null;
}

interface Entry extends Sensor {
  /** bucket index (epoch / 5 min) → highest value in it */
  buckets: Map<number, number>;
}

export interface SensorView extends Sensor {
  unit: string;
  /** SPARK_BUCKETS values, oldest first; null where nothing was heard. */
  spark: Array<number | null>;
}

export function createSensorBoard(registry: Registry) {
  let entries = new Map<string, Entry>();
  /** The registry's sensors, in its order; what the board knows of a sensor still listed is kept. */
  function load(r: Registry) {
    const index = indexRegistry(r);
    const next = new Map<string, Entry>();
    for (const s of r.sensors) {
      if (s.loadTest) continue; // ten thousand synthetic gauges are not the city's sensors
      const site = index.site(s.site);
      const known = entries.get(s.id);
      const heard = known && known.kind === s.kind ? known : { value: null, ts: null, lastSeen: null, buckets: new Map<number, number>() };
      next.set(s.id, { id: s.id, kind: s.kind, site: s.site, name: site?.name ?? '', district: site?.district ?? '', value: heard.value, ts: heard.ts, lastSeen: heard.lastSeen, buckets: heard.buckets });
    }
    entries = next;
  }
  load(registry);
  return {
    /** The registry changed: new sensors appear, removed ones go, moved ones show their new site. */
    updateRegistry: load,
    observe(r: Reading, arrivalMs: number): void {
      const e = entries.get(r.sensorId);
      const v = r.fields[MAIN_FIELD[r.kind].field];
      if (!e || v === undefined) return;
      e.lastSeen = arrivalMs;
      if (e.ts === null || r.ts >= e.ts) {
        e.ts = r.ts;
        e.value = v;
      }
      const b = Math.floor(r.ts / BUCKET_MS);
      e.buckets.set(b, Math.max(e.buckets.get(b) ?? -Infinity, v));
      const oldest = Math.floor(arrivalMs / BUCKET_MS) - SPARK_BUCKETS * 2;
      if (e.buckets.size > SPARK_BUCKETS * 2) for (const k of e.buckets.keys()) if (k < oldest) e.buckets.delete(k);
    },
    /**
     * Latest value of each sensor heard from, and its change against the highest of ten minutes
     * before (null: nothing then).
     */
    levels(ids: string[]): Map<string, [value: number, trend: number | null]> {
      const out = new Map<string, [number, number | null]>();
      for (const id of ids) {
        const e = entries.get(id);
        if (!e || e.value === null || e.ts === null) continue;
        const before = e.buckets.get(Math.floor(e.ts / BUCKET_MS) - 2);
        out.set(id, [e.value, before === undefined ? null : Math.round((e.value - before) * 100) / 100]);
      }
      return out;
    },
    list(f: { q?: string; kind?: SensorKind; district?: string; limit: number }, nowMs: number): SensorView[] {
      const q = f.q?.toLowerCase();
      const out: SensorView[] = [];
      const last = Math.floor(nowMs / BUCKET_MS);
      for (const e of entries.values()) {
        if (f.kind && e.kind !== f.kind) continue;
        if (f.district && e.district !== f.district) continue;
        if (q && !e.id.toLowerCase().includes(q) && !e.name.toLowerCase().includes(q) && !e.site.toLowerCase().includes(q)) continue;
        // The sparkline ends at the sensor's newest reading (sensor time: a replay is backdated);
        // "last seen" says how long ago that arrived.
        const end = e.ts === null ? last : Math.floor(e.ts / BUCKET_MS);
        const spark = Array.from({ length: SPARK_BUCKETS }, (_, i) => e.buckets.get(end - SPARK_BUCKETS + 1 + i) ?? null);
        out.push({ id: e.id, kind: e.kind, site: e.site, name: e.name, district: e.district, value: e.value, unit: MAIN_FIELD[e.kind].unit, ts: e.ts, lastSeen: e.lastSeen, spark });
        if (out.length >= f.limit) break;
      }
      return out;
    },
  };
}
export type SensorBoard = ReturnType<typeof createSensorBoard>;
