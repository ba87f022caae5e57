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
import { payloadOf, type Send } from './faults.ts';

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

export async function replayReadings(readings: Reading[], o: ReplayOptions, deps: ReplayDeps): Promise<ReplaySummary> {
  const plan = schedule(readings, deps.clock.now(), o);
  const sends: Send[] = plan.map(({ reading }) => ({ sendTs: reading.ts, sensorId: reading.sensorId, kind: reading.kind, payload: JSON.stringify(payloadOf(reading)), readings: 1, ts: reading.ts }));
  const r = await sendAsDevices(sends, new Map(), { mqttUrl: o.mqttUrl, speed: o.speed }, deps);
  return { ...r, shiftedByMs: plan.length ? plan[0]!.reading.ts - readings.reduce((m, x) => Math.min(m, x.ts), Infinity) : 0 };
}

export interface ReplayDeps {
  registry: Registry;
  provisioning: Provisioning;
  clock: Clock;
  /** Every message sent, as NDJSON lines `{topic, payload}` (`floodgate backtest` and `sim replay` read them). */
  record?: (line: string) => void;
}

export interface SendSummary extends Omit<ReplaySummary, 'shiftedByMs'> {
  /** Messages (a batch is one) and the valid readings in them. */
  messages: number;
  /** Messages whose publish failed (the device's connection closed for good). */
  failed: number;
  /** Logins refused as the scenario asked (wrong-credentials faults). */
  refusedLogins: number;
  /** Wrong logins the gateway accepted: a security fault; must be 0. */
  acceptedWrongLogins: number;
}

/**
 * Send `sends` (sorted by send time) as the devices themselves, paced so that `speed` simulated
 * minutes pass per wall minute. Devices in `wrongLogins` first try a wrong secret that many times.
 */
export async function sendAsDevices(sends: Send[], wrongLogins: Map<string, number>, o: { mqttUrl: string; speed: number }, deps: ReplayDeps): Promise<SendSummary> {
  const started = deps.clock.now();
  const kinds = new Map(deps.registry.sensors.map((s) => [s.id, s.kind]));
  const ids = [...new Set(sends.map((p) => p.sensorId))].filter((id) => kinds.has(id) && deps.provisioning.sensors[id]);
  const clients = new Map<string, MqttClient>();
  let refusedLogins = 0;
  let acceptedWrongLogins = 0;
  try {
    for (const [id, n] of wrongLogins) {
      for (let k = 0; k < n; k++) {
        try {
          const c = await mqtt.connectAsync(o.mqttUrl, { protocolVersion: 4, clientId: id, username: id, password: `wrong-${k}-${deps.provisioning.sensors[id] ?? ''}`, clean: true, reconnectPeriod: 0, connectTimeout: 15_000 });
          acceptedWrongLogins++;
          await c.endAsync(true);
        } catch {
          refusedLogins++;
        }
      }
    }
    // Connect a few at a time: a city's worth of CONNECTs at once would only queue in the gateway.
    for (let i = 0; i < ids.length; i += 32) {
      await Promise.all(
        ids.slice(i, i + 32).map(async (id) => {
          const c = await mqtt.connectAsync(o.mqttUrl, { protocolVersion: 4, clientId: id, username: id, password: deps.provisioning.sensors[id], clean: true, reconnectPeriod: 500, connectTimeout: 15_000 });
          clients.set(id, c);
        }),
      );
    }
    const sent = await paced(sends, o.speed, (s) => {
      const client = clients.get(s.sensorId);
      if (!client) return undefined;
      const topic = topics.reading(s.kind, s.sensorId);
      deps.record?.(JSON.stringify({ topic, payload: s.payload }));
      return () => client.publishAsync(topic, s.payload, { qos: 1 }).then(() => undefined);
    });
    const span = sends.length ? sends.reduce((m, x) => Math.max(m, x.ts), -Infinity) - sends.reduce((m, x) => Math.min(m, x.ts), Infinity) : 0;
    return { sensors: clients.size, ...sent, refusedLogins, acceptedWrongLogins, simulatedMin: Math.round(span / 60_000), wallMs: deps.clock.now() - started };
  } finally {
    await Promise.all([...clients.values()].map((c) => c.endAsync()));
  }
}

/**
 * Send `sends` (sorted by send time) paced so that `speed` simulated minutes pass per wall minute:
 * `start(send)` gives the send's job (undefined: the device cannot send; its readings are counted
 * as skipped). Each device sends in order; devices run side by side, so one slow answer does not
 * hold up the city (at --speed 60 the whole demo city sends ~1,000 messages a second). At most
 * 2,000 jobs are in flight at once (a counter, not a race over promises: that cost O(n) per
 * message and held the whole city's handlers in memory).
 */
export async function paced(sends: Send[], speed: number, start: (s: Send) => (() => Promise<void>) | undefined): Promise<{ published: number; messages: number; failed: number; skipped: number }> {
  let published = 0;
  let messages = 0;
  let skipped = 0;
  let failed = 0;
  const first = sends[0]?.sendTs ?? 0;
  const t0 = performance.now();
  const chains = new Map<string, Promise<void>>();
  let pending = 0;
  let wake: (() => void) | undefined;
  const settle = () => {
    pending--;
    if (wake && pending < 2000) {
      const w = wake;
      wake = undefined;
      w();
    }
  };
  for (const s of sends) {
    const wait = (s.sendTs - first) / speed - (performance.now() - t0);
    if (wait > 5) await sleep(wait);
    const job = start(s);
    if (!job) {
      skipped += s.readings;
      continue;
    }
    pending++;
    const p = (chains.get(s.sensorId) ?? Promise.resolve())
      .then(job)
      .then(
        () => {
          published += s.readings;
          messages++;
        },
        () => {
          failed++;
        },
      )
      .finally(settle);
    chains.set(s.sensorId, p);
    if (pending >= 2000) await new Promise<void>((r) => (wake = r));
  }
  await Promise.all(chains.values());
  return { published, messages, failed, skipped };
}
