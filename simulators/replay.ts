/**
 * `floodgate sim replay <file>`: recorded readings back through a live system, as real devices
 * (each sensor its own MQTT connection with its own secret), paced by simulated time.
 *
 * The file is what `floodgate backtest` reads: NDJSON (the device payload plus "sensor", or
 * {topic, payload} as recorded from MQTT) or CSV (sensor,ts,value|fields…). By default the
 * recording is shifted so that it ends now — ingest refuses readings older than its maximum age,
 * and a storm from July is to be replayed today — keeping every interval between readings.
 * `speed` is simulated minutes per wall minute (60: an hour of storm in a minute).
 */
import mqtt, { type MqttClient } from 'mqtt';
import { setTimeout as sleep } from 'node:timers/promises';
import { topics, type Reading } from '../contracts/index.ts';
import type { Provisioning, Registry } from '../config/registry.ts';
import type { Clock } from '../lib/clock.ts';

export interface ReplayOptions {
  mqttUrl: string;
  speed: number;
  /** Shift the recording to end now (default) or keep its timestamps. */
  shift: boolean;
}

export interface ReplaySummary {
  sensors: number;
  published: number;
  /** Readings left out: sensors without a secret in the provisioning file. */
  skipped: number;
  simulatedMin: number;
  wallMs: number;
  shiftedByMs: number;
}

/** When (wall ms after the start) each reading goes out, and with which timestamp (pure). */
export function schedule(readings: Reading[], nowMs: number, o: Pick<ReplayOptions, 'speed' | 'shift'>): Array<{ atMs: number; reading: Reading }> {
  if (readings.length === 0) return [];
  const sorted = [...readings].sort((a, b) => a.ts - b.ts);
  const first = sorted[0]!.ts;
  const last = sorted[sorted.length - 1]!.ts;
  const shift = o.shift ? nowMs - last : 0;
  return sorted.map((r) => ({ atMs: (r.ts - first) / o.speed, reading: { ...r, ts: r.ts + shift } }));
}

export async function replayReadings(readings: Reading[], o: ReplayOptions, deps: { registry: Registry; provisioning: Provisioning; clock: Clock }): Promise<ReplaySummary> {
  const started = deps.clock.now();
  const plan = schedule(readings, started, o);
  const kinds = new Map(deps.registry.sensors.map((s) => [s.id, s.kind]));
  const ids = [...new Set(plan.map((p) => p.reading.sensorId))].filter((id) => kinds.has(id) && deps.provisioning.sensors[id]);
  const clients = new Map<string, MqttClient>();
  try {
    // Connect a few at a time: each login costs the gateway a scrypt check.
    for (let i = 0; i < ids.length; i += 16) {
      await Promise.all(
        ids.slice(i, i + 16).map(async (id) => {
          const c = await mqtt.connectAsync(o.mqttUrl, { protocolVersion: 4, clientId: id, username: id, password: deps.provisioning.sensors[id], clean: true, reconnectPeriod: 500, connectTimeout: 15_000 });
          clients.set(id, c);
        }),
      );
    }
    let published = 0;
    let skipped = 0;
    const t0 = performance.now();
    for (const { atMs, reading } of plan) {
      const client = clients.get(reading.sensorId);
      if (!client) {
        skipped++;
        continue;
      }
      const wait = atMs - (performance.now() - t0);
      if (wait > 5) await sleep(wait);
      const payload = { ts: reading.ts, ...(reading.seq !== undefined ? { seq: reading.seq } : {}), ...reading.fields };
      await client.publishAsync(topics.reading(reading.kind, reading.sensorId), JSON.stringify(payload), { qos: 1 });
      published++;
    }
    const span = plan.length ? plan[plan.length - 1]!.reading.ts - plan[0]!.reading.ts : 0;
    return { sensors: clients.size, published, skipped, simulatedMin: Math.round(span / 60_000), wallMs: deps.clock.now() - started, shiftedByMs: plan.length ? plan[0]!.reading.ts - [...readings].sort((a, b) => a.ts - b.ts)[0]!.ts : 0 };
  } finally {
    await Promise.all([...clients.values()].map((c) => c.endAsync()));
  }
}
