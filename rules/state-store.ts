/**
 * The rules engine's state on disk (SQLite, WAL): every sensor's windows and alert phases, and each
 * district's gauge levels. The service saves what a message changed before it acknowledges the
 * message, so after a restart (or SIGKILL) the engine resumes where it was: no duplicate close, no
 * forgotten reopen, rain totals continue. A message redelivered after a crash between the alert
 * publish and the save is evaluated again against the saved state, which yields the same
 * transition with the same alert id — and the alerts service treats it as the duplicate it is.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { newRainState, type DistrictState, type EngineState, type RainState, type SensorState } from './engine.ts';

interface StoredRain extends Omit<RainState, 'buckets' | 'seen'> {
  /** Non-zero minute buckets as [slot, mm]. */
  buckets: Array<[number, number]>;
  seen: number[];
}
type StoredSensor = Omit<SensorState, 'rain'> & { rain?: StoredRain };

export function serializeSensor(s: SensorState): string {
  if (!s.rain) return JSON.stringify(s);
  const buckets: Array<[number, number]> = [];
  s.rain.buckets.forEach((v, i) => {
    if (v !== 0) buckets.push([i, v]);
  });
  const stored: StoredSensor = { ...s, rain: { ...s.rain, buckets, seen: [...s.rain.seen] } };
  return JSON.stringify(stored);
}

export function deserializeSensor(json: string): SensorState {
  const stored = JSON.parse(json) as StoredSensor;
  if (!stored.rain) return stored as SensorState;
  const rain: RainState = { ...newRainState(), ...stored.rain, buckets: new Float64Array(1440), seen: new Set(stored.rain.seen) };
  for (const [i, v] of stored.rain.buckets) rain.buckets[i] = v;
  return { ...stored, rain };
}

export function serializeDistrict(d: DistrictState): string {
  return JSON.stringify({ ...d, gauges: [...d.gauges] });
}

export function deserializeDistrict(json: string): DistrictState {
  const d = JSON.parse(json) as Omit<DistrictState, 'gauges'> & { gauges: Array<[string, number]> };
  return { ...d, gauges: new Map(d.gauges) };
}

/**
 * Where the engine's state is kept between restarts: embedded SQLite (below), or PostgreSQL
 * (./pg-state-store.ts) shared by the instances of an HA deployment. Asynchronous, since a server
 * database is; both pass one contract suite (rules/test/state-store.test.ts).
 */
export interface StateStore {
  /** Save state serialized earlier (snapshots taken as readings were evaluated), in one transaction. */
  saveSerialized(sensors: Map<string, string>, districts: Map<string, string>): Promise<void>;
  /** Everything saved: the engine resumes from it. */
  load(): Promise<EngineState>;
  close(): Promise<void>;
}

/** Rebuild the engine's state from stored rows. */
export function stateFromRows(sensors: Iterable<{ id: string; json: string }>, districts: Iterable<{ id: string; json: string }>): EngineState {
  const state: EngineState = { sensors: new Map(), districts: new Map() };
  for (const r of sensors) state.sensors.set(r.id, deserializeSensor(r.json));
  for (const r of districts) state.districts.set(r.id, deserializeDistrict(r.json));
  return state;
}

export function openStateStore(path: string): StateStore {
  mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL'); // survives a process crash; the broker redelivers the rest
  db.exec(`
    CREATE TABLE IF NOT EXISTS sensor_state (id TEXT PRIMARY KEY, json TEXT NOT NULL) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS district_state (id TEXT PRIMARY KEY, json TEXT NOT NULL) WITHOUT ROWID;
  `);
  const q = {
    sensor: db.prepare('INSERT INTO sensor_state (id, json) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET json = excluded.json'),
    district: db.prepare('INSERT INTO district_state (id, json) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET json = excluded.json'),
  };
  const saveSerialized = db.transaction((sensors: Map<string, string>, districts: Map<string, string>) => {
    for (const [id, json] of sensors) q.sensor.run(id, json);
    for (const [id, json] of districts) q.district.run(id, json);
  });
  return {
    saveSerialized: async (sensors: Map<string, string>, districts: Map<string, string>) => saveSerialized(sensors, districts),
    load: async () => stateFromRows(db.prepare('SELECT id, json FROM sensor_state').all() as Array<{ id: string; json: string }>, db.prepare('SELECT id, json FROM district_state').all() as Array<{ id: string; json: string }>),
    close: async () => void db.close(),
  };
}
