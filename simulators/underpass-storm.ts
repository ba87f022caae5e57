/**
 * `floodgate sim --scenario underpass-storm`: a handful of underpass ponding sensors ride through
 * a storm that crosses 25 cm and drains, as real MQTT devices with their own credentials.
 *
 * Time is compressed: the storm's simulated minutes are replayed from `durationMin` ago up to now,
 * one simulated minute every `stepMs` of wall time. Timestamps are the sensors' (never in the
 * future), and the rules engine works on sensor time, so the closure logic sees a real storm.
 */
import mqtt, { type MqttClient } from 'mqtt';
import { setTimeout as sleep } from 'node:timers/promises';
import { topics } from '../contracts/index.ts';
import type { Registry, Provisioning } from '../config/registry.ts';
import type { Clock } from '../lib/clock.ts';
import type { Logger } from '../lib/logger.ts';
import { depthAt, underpassStormProfile } from './storm.ts';
import { prng } from '../lib/prng.ts';

export interface StormOptions {
  mqttUrl: string;
  /** How many underpasses (the first N ponding sensors of the registry) ... */
  sensors: number;
  /** ... or exactly these sensor ids. */
  sensorIds?: string[];
  stepMs: number;
  seed: number;
}

export interface StormSummary {
  scenario: 'underpass-storm';
  sensors: string[];
  published: number;
  simulatedMin: number;
  wallMs: number;
  peakCm: number;
  crossed: number;
  /** Every reading the devices published, for end-to-end checks. */
  readings: Array<{ sensorId: string; ts: number; seq: number; depth_cm: number }>;
}

export async function runUnderpassStorm(
  opts: StormOptions,
  deps: { registry: Registry; provisioning: Provisioning; clock: Clock; logger: Logger },
): Promise<StormSummary> {
  const started = deps.clock.now();
  const ponding = deps.registry.sensors.filter((s) => s.kind === 'ponding');
  const chosen = opts.sensorIds ?? ponding.slice(0, opts.sensors).map((s) => s.id);
  for (const id of chosen) {
    if (!ponding.some((s) => s.id === id)) throw new Error(`${id} is not a ponding sensor in the registry`);
    if (!deps.provisioning.sensors[id]) throw new Error(`no secret for ${id} in the provisioning file`);
  }
  const rand = prng(opts.seed);
  const profiles = chosen.map(() => underpassStormProfile(rand));
  const durationMin = Math.max(...profiles.map((p) => p.durationMin));
  const t0 = started - durationMin * 60_000;

  const clients: MqttClient[] = [];
  try {
    for (const id of chosen) {
      const client = mqtt.connect(opts.mqttUrl, {
        protocolVersion: 4,
        clientId: id,
        username: id,
        password: deps.provisioning.sensors[id],
        clean: true,
        reconnectPeriod: 500,
        connectTimeout: 10_000,
        will: { topic: topics.status('ponding', id), payload: Buffer.from(JSON.stringify({ state: 'lost' })), qos: 1, retain: true },
      });
      clients.push(client);
      await new Promise<void>((resolve, reject) => {
        client.once('connect', () => resolve());
        client.once('error', (err) => reject(new Error(`${id} could not connect: ${err.message}`, { cause: err })));
      });
      await client.publishAsync(topics.status('ponding', id), JSON.stringify({ state: 'online', ts: deps.clock.now() }), { qos: 1, retain: true });
    }

    const readings: StormSummary['readings'] = [];
    let peak = 0;
    const crossed = new Set<string>();
    for (let minute = 0; minute < durationMin; minute++) {
      const ts = t0 + minute * 60_000;
      await Promise.all(
        chosen.map(async (id, i) => {
          const p = profiles[i]!;
          if (minute >= p.durationMin) return;
          const depth_cm = depthAt(p, minute, rand);
          const reading = { ts, seq: minute, depth_cm, battery_v: 3.6 };
          // QoS 1: resolves on the gateway's PUBACK, so "published" means "the broker has it".
          await clients[i]!.publishAsync(topics.reading('ponding', id), JSON.stringify(reading), { qos: 1 });
          readings.push({ sensorId: id, ts, seq: minute, depth_cm });
          if (!p.spikesAtMin.includes(minute)) {
            peak = Math.max(peak, depth_cm);
            if (depth_cm > 25) crossed.add(id);
          }
        }),
      );
      if (opts.stepMs > 0) await sleep(opts.stepMs);
    }
    for (const [i, id] of chosen.entries()) {
      await clients[i]!.publishAsync(topics.status('ponding', id), JSON.stringify({ state: 'offline', ts: deps.clock.now() }), { qos: 1, retain: true });
    }
    return {
      scenario: 'underpass-storm',
      sensors: chosen,
      published: readings.length,
      simulatedMin: durationMin,
      wallMs: deps.clock.now() - started,
      peakCm: peak,
      crossed: crossed.size,
      readings,
    };
  } finally {
    await Promise.all(clients.map((c) => c.endAsync()));
  }
}

export function summaryLine(s: StormSummary): string {
  return (
    `underpass-storm: ${s.sensors.length} sensors (${s.sensors[0]}…${s.sensors[s.sensors.length - 1]}), ` +
    `${s.published} readings acknowledged by the gateway, ${s.simulatedMin} simulated min in ${(s.wallMs / 1000).toFixed(1)} s, ` +
    `peak ${s.peakCm.toFixed(1)} cm, ${s.crossed}/${s.sensors.length} crossed 25 cm`
  );
}
