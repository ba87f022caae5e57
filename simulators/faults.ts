/**
 * Faults on demand: what real field sensors do wrong, applied to a scenario's clean readings.
 *
 * Pure and seeded: `applyFaults(readings, faults, seed)` turns readings into what the devices
 * actually send — each message with the simulated time it leaves the device, its exact payload
 * bytes and how many valid readings it carries — plus the devices that first log in with a wrong
 * secret. Every fault names its targets (sensor ids, or a fraction of the scenario's sensors,
 * optionally of some kinds) and a window in scenario minutes; each is counted in `effects`, so a
 * run can say what it injected and the test can check what the system made of it.
 */
import { z } from 'zod';
import { MAIN_FIELD, SENSOR_KINDS, type Reading, type SensorKind } from '../contracts/index.ts';
import { prng } from '../lib/prng.ts';

const minute = z.number().min(0).max(7 * 24 * 60);
const target = {
  /** Sensor ids, or … */
  sensors: z.array(z.string().min(1)).optional(),
  /** … this fraction of the scenario's sensors (seeded pick), of these kinds (default all). */
  fraction: z.number().gt(0).max(1).optional(),
  kinds: z.array(z.enum(SENSOR_KINDS)).optional(),
  /** The window, in scenario minutes (default: the whole run). */
  fromMin: minute.default(0),
  toMin: minute.optional(),
};
const chance = z.number().gt(0).max(1).default(1);

export const Fault = z
  .discriminatedUnion('kind', [
    /** Readings in the window are never sent (a dead modem): lost at the source. */
    z.strictObject({ kind: z.literal('dropout'), ...target }),
    /** The link is down: readings are kept on the device and sent as one batch (an array) when it returns. */
    z.strictObject({ kind: z.literal('outage'), ...target }),
    /** A vehicle passes under an ultrasonic sensor: an extra reading `heightCm` higher, every `everyMin`. */
    z.strictObject({ kind: z.literal('spike'), ...target, heightCm: z.number().positive().default(40), everyMin: z.number().positive().default(10) }),
    /** The sensor sticks: the value at the window's start, repeated. */
    z.strictObject({ kind: z.literal('flatline'), ...target }),
    /** The device's clock is off by `skewS` seconds (its timestamps, not when it sends). */
    z.strictObject({ kind: z.literal('clock-skew'), ...target, skewS: z.number().int().min(-86_400 * 365).max(86_400 * 365) }),
    /** A reading sent twice (a retry after a lost PUBACK; the same bytes). */
    z.strictObject({ kind: z.literal('duplicate'), ...target, probability: chance }),
    /** A reading overtaken by the next one (sent after it). */
    z.strictObject({ kind: z.literal('reorder'), ...target, probability: chance }),
    /** A payload broken in transit or by firmware: not JSON, a string for a number, a unit mistake… */
    z.strictObject({ kind: z.literal('malformed'), ...target, probability: chance }),
    /** The device first logs in with a wrong secret (`attempts` times) and is refused. */
    z.strictObject({ kind: z.literal('wrong-credentials'), ...target, attempts: z.number().int().min(1).max(10).default(1) }),
    /** The battery runs down linearly over the window (battery_v from `fromV` to `toV`) and stays down. */
    z.strictObject({ kind: z.literal('battery-drain'), ...target, fromV: z.number().min(0).max(60).default(3.7), toV: z.number().min(0).max(60).default(3.2) }),
  ])
  .refine((f) => (f.sensors === undefined) !== (f.fraction === undefined), { message: 'name the targets: either sensors (ids) or fraction (of the scenario sensors), not both' })
  .refine((f) => f.toMin === undefined || f.toMin > f.fromMin, { message: 'toMin must be after fromMin' });
export type Fault = z.infer<typeof Fault>;
export type FaultKind = Fault['kind'];

/** One MQTT message as the device sends it. */
export interface Send {
  /** Simulated time it leaves the device (epoch ms). */
  sendTs: number;
  sensorId: string;
  kind: SensorKind;
  payload: string;
  /** Valid readings it carries (0 for a malformed payload). */
  readings: number;
  /** The first reading's timestamp, for ordering. */
  ts: number;
}

export interface FaultPlan {
  sends: Send[];
  /** Devices that log in with a wrong secret first, and how many times. */
  wrongLogins: Map<string, number>;
  /** What each fault kind did: readings (or logins) affected. */
  effects: Partial<Record<FaultKind, number>>;
}

const MALFORMED: Array<(r: Reading) => string> = [
  (r) => `{"ts":${r.ts},"${MAIN_FIELD[r.kind].field}":`, // cut off mid-message
  (r) => JSON.stringify({ ts: r.ts, [MAIN_FIELD[r.kind].field]: 'n/a' }), // a string for a number
  (r) => JSON.stringify({ ts: Math.floor(r.ts / 1000), ...r.fields }), // seconds for milliseconds
  (r) => JSON.stringify({ ts: r.ts, [MAIN_FIELD[r.kind].field]: -9999 }), // the sensor's error code
  () => '\u0000\u00ff\u0010garbage', // not text at all
];

export function payloadOf(r: Reading): Record<string, number> {
  return { ts: r.ts, ...(r.seq !== undefined ? { seq: r.seq } : {}), ...r.fields };
}

/**
 * The targets of each fault: its sensors, or a seeded fraction of `sensors` (of its kinds).
 * Picks are independent of the order faults are listed in beyond their own position.
 */
export function faultTargets(f: Fault, sensors: Array<{ id: string; kind: SensorKind }>, seed: number, index: number): Set<string> {
  if (f.sensors) return new Set(f.sensors);
  const pool = sensors.filter((s) => !f.kinds || f.kinds.includes(s.kind)).map((s) => s.id);
  const rand = prng(seed * 7919 + index * 104_729 + 1);
  // Fisher–Yates on a copy, then the first ⌈fraction·n⌉.
  for (let i = pool.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [pool[i], pool[j]] = [pool[j]!, pool[i]!];
  }
  return new Set(pool.slice(0, Math.ceil(f.fraction! * pool.length)));
}

/** What every stage needs: which sensors a fault hits, its window, the seeded randomness, the tally. */
interface FaultContext {
  targets: Array<Set<string>>;
  within(f: Fault, ts: number): boolean;
  applies(i: number, r: Reading): boolean;
  minuteOf(ts: number): number;
  rand(): number;
  count(k: FaultKind, n?: number): number;
}

/** Stage 1, what the sensor measures (flatline, spike, battery), in place; returns the extra readings (spikes). */
function measure(rs: Reading[], faults: Fault[], { targets, applies, minuteOf, count }: FaultContext): Reading[] {
  const extra: Reading[] = [];
faults.forEach((f, i) => {
  if (f.kind === 'flatline') {
    const stuck = new Map<string, number>();
    for (const r of rs) {
      if (!applies(i, r) || r.kind === 'rain') continue;
      const field = MAIN_FIELD[r.kind].field;
      if (!stuck.has(r.sensorId)) stuck.set(r.sensorId, r.fields[field]!);
      r.fields[field] = stuck.get(r.sensorId)!;
      count('flatline');
    }
  } else if (f.kind === 'spike') {
    const lastSpike = new Map<string, number>();
    for (const r of rs) {
      if (!applies(i, r) || r.kind !== 'ponding') continue;
      const prev = lastSpike.get(r.sensorId);
      if (prev !== undefined && r.ts - prev < f.everyMin * 60_000) continue;
      lastSpike.set(r.sensorId, r.ts);
      // The vehicle passes 20 s after a regular report; the sensor reports the jump at once.
      extra.push({ ...r, ts: r.ts + 20_000, seq: undefined, fields: { ...r.fields, depth_cm: Number((r.fields['depth_cm']! + f.heightCm).toFixed(1)) } });
      count('spike');
    }
  } else if (f.kind === 'battery-drain') {
    const end = f.toMin ?? rs.reduce((m, r) => Math.max(m, minuteOf(r.ts)), 0);
    // After the window the battery stays run down (until someone replaces it).
    for (const r of rs) {
      if (!targets[i]!.has(r.sensorId) || minuteOf(r.ts) < f.fromMin) continue;
      const p = Math.min(1, (minuteOf(r.ts) - f.fromMin) / Math.max(1e-9, end - f.fromMin));
      r.fields['battery_v'] = Number((f.fromV + (f.toV - f.fromV) * p).toFixed(2));
      count('battery-drain');
    }
  }
});
  return extra;
}

/** Stage 4, what the network does to the sends: duplicates and reordering. */
function network(sends: Send[], faults: Fault[], { targets, within, rand, count }: FaultContext): Send[] {
faults.forEach((f, i) => {
  if (f.kind === 'duplicate') {
    const copies: Send[] = [];
    for (const s of sends) {
      if (!targets[i]!.has(s.sensorId) || !within(f, s.sendTs) || s.readings === 0 || rand() >= f.probability) continue;
      copies.push({ ...s, sendTs: s.sendTs + 5_000 });
      count('duplicate', s.readings);
    }
    sends = [...sends, ...copies].sort((a, b) => a.sendTs - b.sendTs || (a.sensorId < b.sensorId ? -1 : 1));
  } else if (f.kind === 'reorder') {
    // Swap a message with the same device's next one: the later reading arrives first.
    const lastOf = new Map<string, number>();
    for (let k = 0; k < sends.length; k++) {
      const s = sends[k]!;
      const prevIdx = lastOf.get(s.sensorId);
      lastOf.set(s.sensorId, k);
      if (prevIdx === undefined || !targets[i]!.has(s.sensorId) || !within(f, s.sendTs)) continue;
      const prev = sends[prevIdx]!;
      if (prev.readings === 0 || s.readings === 0 || rand() >= f.probability) continue;
      [sends[prevIdx], sends[k]] = [{ ...s, sendTs: prev.sendTs }, { ...prev, sendTs: s.sendTs }];
      lastOf.delete(s.sensorId); // a swapped pair is not swapped again
      count('reorder');
    }
  }
});
  return sends;
}

/**
 * Apply `faults` to `readings` (a scenario's clean readings, `t0` its start in epoch ms).
 * Order of application: what the sensor measures (flatline, spike, battery), what its clock says
 * (skew), what leaves the device (dropout, malformed, outage batches), what the network does
 * (duplicate, reorder). Sends come out sorted by send time.
 */
export function applyFaults(readings: Reading[], faults: Fault[], o: { t0: number; seed: number }): FaultPlan {
  const effects: FaultPlan['effects'] = {};
  const count = (k: FaultKind, n = 1) => (effects[k] = (effects[k] ?? 0) + n);
  const sensors = [...new Map(readings.map((r) => [r.sensorId, { id: r.sensorId, kind: r.kind }])).values()].sort((a, b) => (a.id < b.id ? -1 : 1));
  const targets = faults.map((f, i) => faultTargets(f, sensors, o.seed, i));
  const rand = prng(o.seed * 31 + 17);
  const minuteOf = (ts: number) => (ts - o.t0) / 60_000;
  const within = (f: Fault, ts: number) => minuteOf(ts) >= f.fromMin && (f.toMin === undefined || minuteOf(ts) < f.toMin);
  const applies = (i: number, r: Reading) => targets[i]!.has(r.sensorId) && within(faults[i]!, r.ts);
  const ctx: FaultContext = { targets, within, applies, minuteOf, rand, count };

  // 1. What the sensor measures.
  let rs = readings.map((r) => ({ ...r, fields: { ...r.fields } }));
  const extra = measure(rs, faults, ctx);
  rs = [...rs, ...extra].sort((a, b) => a.ts - b.ts || (a.sensorId < b.sensorId ? -1 : 1));

  // 2. What the device's clock says: the send time stays the true time.
  const sendTsOf = new Map<Reading, number>(rs.map((r) => [r, r.ts]));
  faults.forEach((f, i) => {
    if (f.kind !== 'clock-skew') return;
    for (const r of rs) {
      if (!applies(i, r)) continue;
      r.ts += f.skewS * 1000;
      count('clock-skew');
    }
  });

  // 3. What leaves the device. Window checks use the true (send) time.
  const appliesAt = (i: number, r: Reading) => targets[i]!.has(r.sensorId) && within(faults[i]!, sendTsOf.get(r)!);
  let sends: Send[] = [];
  const outageOf = (r: Reading) => faults.findIndex((f, i) => f.kind === 'outage' && appliesAt(i, r));
  const held = new Map<string, Reading[]>();
  for (const r of rs) {
    if (faults.some((f, i) => f.kind === 'dropout' && appliesAt(i, r))) {
      count('dropout');
      continue;
    }
    const bad = faults.findIndex((f, i) => f.kind === 'malformed' && appliesAt(i, r) && rand() < f.probability);
    if (bad >= 0) {
      sends.push({ sendTs: sendTsOf.get(r)!, sensorId: r.sensorId, kind: r.kind, payload: MALFORMED[Math.floor(rand() * MALFORMED.length)]!(r), readings: 0, ts: r.ts });
      count('malformed');
      continue;
    }
    const o = outageOf(r);
    if (o >= 0) {
      const key = `${o}\u0000${r.sensorId}`;
      held.set(key, [...(held.get(key) ?? []), r]);
      count('outage');
      continue;
    }
    sends.push({ sendTs: sendTsOf.get(r)!, sensorId: r.sensorId, kind: r.kind, payload: JSON.stringify(payloadOf(r)), readings: 1, ts: r.ts });
  }
  // Store-and-forward: the link returns at the window's end and the device sends its backlog in
  // batches of at most 1000 (contracts MAX_BATCH), oldest first.
  for (const [key, batch] of held) {
    const f = faults[Number(key.split('\u0000')[0])]!;
    const lastTs = batch.reduce((m, r) => Math.max(m, sendTsOf.get(r)!), -Infinity);
    const back = f.toMin !== undefined ? o.t0 + f.toMin * 60_000 : lastTs + 60_000;
    // The backlog goes out just before the device's first regular reading after the outage.
    const parts = Math.ceil(batch.length / 1000);
    for (let i = 0; i < batch.length; i += 1000) {
      const part = batch.slice(i, i + 1000);
      sends.push({ sendTs: back - parts + i / 1000, sensorId: part[0]!.sensorId, kind: part[0]!.kind, payload: JSON.stringify(part.map(payloadOf)), readings: part.length, ts: part[0]!.ts });
    }
  }
  sends.sort((a, b) => a.sendTs - b.sendTs || (a.sensorId < b.sensorId ? -1 : 1));

  // 4. What the network does.
  sends = network(sends, faults, ctx);

  const wrongLogins = new Map<string, number>();
  faults.forEach((f, i) => {
    if (f.kind !== 'wrong-credentials') return;
    for (const id of targets[i]!) {
      if (!sensors.some((s) => s.id === id)) continue;
      wrongLogins.set(id, (wrongLogins.get(id) ?? 0) + f.attempts);
      count('wrong-credentials', f.attempts);
    }
  });
  return { sends, wrongLogins, effects };
}
