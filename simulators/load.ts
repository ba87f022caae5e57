/**
 * `floodgate sim load`: many devices, each its own MQTT connection with its own secret, sending
 * readings at a fixed total rate for a while — the load a city puts on the gateway and ingest.
 *
 * The devices are the registry's load-test devices (LD-00001 …, `floodgate provision
 * --load-devices N`): rain gauges at a synthetic site that the rules and the console ignore, so a
 * load test never closes a road. Sending is paced by a 10 ms tick (rate × elapsed − sent, round
 * robin over the connected devices); each reading's PUBACK is awaited without blocking the next,
 * up to `maxInFlight` outstanding, beyond which the tick skips (the report counts it as "behind":
 * the system did not keep up). Each device's timestamps strictly increase, so no two readings of
 * one device share the (sensor, ts) key the store deduplicates on.
 */
import mqtt, { type MqttClient } from 'mqtt';
import { setTimeout as sleep } from 'node:timers/promises';
import { topics } from '../contracts/index.ts';
import type { Provisioning, Registry } from '../config/registry.ts';
import type { Clock } from '../lib/clock.ts';
import { percentile } from '../lib/stats.ts';

export interface LoadOptions {
  mqttUrl: string;
  sensors: number;
  /** Readings per second, all devices together. */
  ratePerS: number;
  durationS: number;
  /** Connections opened at once while connecting. */
  connectConcurrency?: number;
  maxInFlight?: number;
}

export interface LoadProgress {
  phase: 'connecting' | 'sending' | 'draining';
  elapsedS: number;
  connected: number;
  sent: number;
  acked: number;
  errors: number;
  /** Acknowledged readings per second over the last interval. */
  ratePerS: number;
}

export interface LoadReport {
  sensors: number;
  connected: number;
  connectErrors: number;
  connectS: number;
  /** Connections held until the end (a drop is an error). */
  held: number;
  sent: number;
  acked: number;
  errors: number;
  /** Ticks that could not send because maxInFlight readings awaited their PUBACK. */
  behind: number;
  targetRatePerS: number;
  /** Acknowledged readings per second over the sending phase. */
  achievedRatePerS: number;
  /** Publish → PUBACK (ms). */
  ackP50Ms: number;
  ackP99Ms: number;
  sendS: number;
  peakRssMb: number;
}

export interface LoadDeps {
  registry: Registry;
  provisioning: Provisioning;
  clock: Clock;
  onProgress?: (p: LoadProgress) => void;
  /** Every message sent, as NDJSON `{topic, payload}` lines. */
  record?: (line: string) => void;
}

/** The load-test devices available for `n` connections, or a message saying how to add them. */
export function loadDevices(registry: Registry, provisioning: Provisioning, n: number): string[] {
  const ids = registry.sensors.filter((s) => s.loadTest && !s.revoked && provisioning.sensors[s.id]).map((s) => s.id);
  if (ids.length < n) throw new Error(`${n} load-test devices needed, ${ids.length} provisioned: run floodgate provision --load-devices ${n} (with the same --data-dir)`);
  return ids.slice(0, n);
}

export async function runLoad(o: LoadOptions, deps: LoadDeps): Promise<LoadReport> {
  const ids = loadDevices(deps.registry, deps.provisioning, o.sensors);
  const concurrency = o.connectConcurrency ?? 200;
  const maxInFlight = o.maxInFlight ?? 10_000;
  const clients: MqttClient[] = [];
  const lastTs = new Map<string, number>();
  let connectErrors = 0;
  let dropped = 0;
  let sent = 0;
  let acked = 0;
  let errors = 0;
  let behind = 0;
  let inFlight = 0;
  let peakRss = process.memoryUsage().rss;
  const latencies: number[] = [];
  const start = performance.now();
  let phase: LoadProgress['phase'] = 'connecting';
  let lastAcked = 0;
  let lastAt = start;
  const progress = setInterval(() => {
    const now = performance.now();
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
    deps.onProgress?.({ phase, elapsedS: (now - start) / 1000, connected: clients.length, sent, acked, errors, ratePerS: ((acked - lastAcked) * 1000) / (now - lastAt) });
    lastAcked = acked;
    lastAt = now;
  }, 1000);
  try {
    for (let i = 0; i < ids.length; i += concurrency) {
      await Promise.all(
        ids.slice(i, i + concurrency).map(async (id) => {
          try {
            const c = await mqtt.connectAsync(o.mqttUrl, { protocolVersion: 4, clientId: id, username: id, password: deps.provisioning.sensors[id], clean: true, keepalive: 120, reconnectPeriod: 0, connectTimeout: 30_000 });
            c.on('close', () => {
              if (phase !== 'draining') dropped++;
            });
            c.on('error', () => {});
            clients.push(c);
          } catch {
            connectErrors++;
          }
        }),
      );
    }
    const connectS = (performance.now() - start) / 1000;
    if (clients.length === 0) throw new Error(`no load-test device could connect to ${o.mqttUrl}`);

    phase = 'sending';
    const t0 = performance.now();
    const seq = new Map<string, number>();
    // seq numbers unique to this run: a second run within ingest's seq-dedupe window
    // (FLOODGATE_DEDUPE_SEQ_TOLERANCE_S) would otherwise repeat seq + values and be dropped as
    // re-stamped copies of the first run's readings.
    const seqBase = Math.floor(deps.clock.now() / 1000) * 1_000_000;
    let next = 0;
    const send = (c: MqttClient) => {
      const id = c.options.clientId!;
      const ts = Math.max(deps.clock.now(), (lastTs.get(id) ?? 0) + 1);
      lastTs.set(id, ts);
      const n = seq.get(id) ?? seqBase;
      seq.set(id, n + 1);
      const topic = topics.reading('rain', id);
      const payload = JSON.stringify({ ts, seq: n, rain_mm: 0, interval_s: 60 });
      deps.record?.(JSON.stringify({ topic, payload }));
      const at = performance.now();
      sent++;
      inFlight++;
      c.publish(topic, payload, { qos: 1 }, (err) => {
        inFlight--;
        if (err) errors++;
        else {
          acked++;
          if (latencies.length < 2_000_000) latencies.push(performance.now() - at);
        }
      });
    };
    while (performance.now() - t0 < o.durationS * 1000) {
      const due = Math.floor(((performance.now() - t0) / 1000) * o.ratePerS) - sent;
      for (let k = 0; k < due; k++) {
        if (inFlight >= maxInFlight) {
          behind++;
          break;
        }
        send(clients[next++ % clients.length]!);
      }
      await sleep(10);
    }
    const sendS = (performance.now() - t0) / 1000;
    const ackedInTime = acked;
    // Wait for the last PUBACKs (bounded: a stuck broker shows as unacknowledged, not a hang).
    const drainUntil = performance.now() + 30_000;
    while (inFlight > 0 && performance.now() < drainUntil) await sleep(20);
    errors += inFlight;
    phase = 'draining';
    const held = clients.length - dropped;
    const sorted = Float64Array.from(latencies).sort();
    return {
      sensors: o.sensors,
      connected: clients.length,
      connectErrors,
      connectS: round(connectS),
      held,
      sent,
      acked,
      errors: errors + dropped,
      behind,
      targetRatePerS: o.ratePerS,
      achievedRatePerS: Math.round(ackedInTime / sendS),
      ackP50Ms: round(percentile(sorted, 50)),
      ackP99Ms: round(percentile(sorted, 99)),
      sendS: round(sendS),
      peakRssMb: Math.round(Math.max(peakRss, process.memoryUsage().rss) / 1e6),
    };
  } finally {
    phase = 'draining';
    clearInterval(progress);
    for (let i = 0; i < clients.length; i += 500) await Promise.all(clients.slice(i, i + 500).map((c) => c.endAsync(true).catch(() => {})));
  }
}

const round = (x: number) => Math.round(x * 10) / 10;

export function progressLine(p: LoadProgress): string {
  return `${p.phase} ${p.elapsedS.toFixed(0)} s: ${p.connected} connected, ${p.sent} sent, ${p.acked} acked, ${p.errors} errors, ${Math.round(p.ratePerS)} readings/s`;
}

export function reportLines(r: LoadReport): string[] {
  return [
    `load: ${r.connected}/${r.sensors} devices connected in ${r.connectS} s (${r.connectErrors} refused or failed), ${r.held} held to the end`,
    `      ${r.sent} readings sent, ${r.acked} acknowledged, ${r.errors} errors, in ${r.sendS} s: ${r.achievedRatePerS} readings/s (target ${r.targetRatePerS})${r.behind ? `; ${r.behind} ticks behind (${'>'}in-flight limit)` : ''}`,
    `      publish → PUBACK p50 ${r.ackP50Ms} ms, p99 ${r.ackP99Ms} ms; simulator peak RSS ${r.peakRssMb} MB`,
  ];
}
