/**
 * Fault tests against a real VictoriaMetrics: ingest killed with SIGKILL mid-stream, the store
 * stopped under load, and the gateway restarted (durable persistence). Each ends with every
 * published reading present exactly once: per sensor, the set of timestamps and the sum of values
 * equal what was published. Raw duplicate samples are counted too: VictoriaMetrics keeps them
 * (InfluxDB would overwrite), so a crash between a store write and its spool removal shows up.
 */
import { afterEach, describe, expect, it } from 'vitest';
import mqtt, { type MqttClient } from 'mqtt';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import { createGateway, type GatewayHandle } from '../../gateway/gateway.ts';
import { gatewayConfig } from '../../gateway/config.ts';
import { DEFAULT_LIMITS } from '../../gateway/limits.ts';
import { topics } from '../../contracts/index.ts';
import { saveRegistry, type Provisioning, type Registry } from '../../config/registry.ts';
import { createMetricsRegistry } from '../../lib/metrics.ts';
import { systemClock } from '../../lib/clock.ts';
import { freePort, startProcess, startVictoriaMetrics, stopProcess, tempDir, type VictoriaMetrics } from '../../test/helpers/servers.ts';
import { eventually, smallCity, testLogger, RECENT_HOUR } from '../../test/helpers/stack.ts';
import { isSubscribed } from '../../test/helpers/broker-clients.ts';

const BIN = fileURLToPath(new URL('../../bin/floodgate.js', import.meta.url));
const SENSORS = ['PD-001', 'PD-002', 'PD-003', 'PD-004', 'PD-005'];
const PER_SENSOR = 1200;
const T0 = RECENT_HOUR;

interface Rig {
  city: { registry: Registry; provisioning: Provisioning };
  dir: { path: string; remove(): void };
  vm: VictoriaMetrics;
  gwPort: number;
  gateway: GatewayHandle;
  startGateway(): Promise<void>;
  startIngest(): Promise<ChildProcess>;
  ingest: ChildProcess | undefined;
  ingestLogs: () => string;
}

/**
 * `persistence`: the gateway's session store, LevelDB (durable) unless a test says otherwise. Two
 * aedes delivery faults that these tests found on resumed sessions are cured in the gateway (see
 * docs/brokers.md and gateway/test/session-resume.test.ts).
 */
async function rig(persistence: 'memory' | 'level' = 'level'): Promise<Rig> {
  const city = await smallCity(5);
  const dir = tempDir('faults');
  const registryPath = join(dir.path, 'registry.json');
  saveRegistry(registryPath, city.registry);
  const vm = await startVictoriaMetrics();
  const gwPort = await freePort();
  const r: Rig = {
    city,
    dir,
    vm,
    gwPort,
    gateway: undefined as unknown as GatewayHandle,
    ingest: undefined,
    ingestLogs: () => '',
    async startGateway() {
      // Devices here replay a backlog as fast as they can: the per-device rate limit is lifted.
      const limits = { ...DEFAULT_LIMITS, deviceRatePerS: 10_000, deviceBurst: 100_000 };
      r.gateway = await createGateway(gatewayConfig({ port: gwPort, limits, persistence: persistence === 'memory' ? { type: 'memory' } : { type: 'level', dir: join(dir.path, 'broker') } }), {
        logger: testLogger,
        metrics: createMetricsRegistry(),
        registry: city.registry,
        serviceSecret: city.provisioning.serviceSecret,
        clock: systemClock,
      });
    },
    async startIngest() {
      const { proc, logs } = startProcess(process.execPath, [BIN, 'ingest'], {
        ...process.env,
        // warn: a duplicate's story (a store write retried) is in the failure message.
        FLOODGATE_LOG_LEVEL: process.env['FLOODGATE_TEST_LOG'] || 'warn',
        FLOODGATE_MQTT_URL: `mqtt://127.0.0.1:${gwPort}`,
        FLOODGATE_REGISTRY: registryPath,
        FLOODGATE_SERVICE_SECRET: city.provisioning.serviceSecret,
        FLOODGATE_DATA_DIR: dir.path,
        FLOODGATE_INGEST_BATCH: '500',
        INFLUX_URL: vm.url,
        INFLUX_TOKEN: 'vm',
        INFLUX_ORG: 'floodgate',
        INFLUX_BUCKET: 'readings',
      });
      r.ingest = proc;
      r.ingestLogs = logs;
      // Ready once its persistent session is subscribed: the gateway holds its subscription. Its
      // connection alone was not enough: on a busy machine the SUBSCRIBE came after the first
      // readings, which no session was subscribed to yet (the first ~100 of each sensor missing).
      await eventually(() => isSubscribed(r.gateway, 'floodgate-ingest', topics.allReadings), 'ingest connected and subscribed', 30_000);
      return proc;
    },
  };
  await r.startGateway();
  return r;
}

/** Devices publish PER_SENSOR readings each (QoS 1, 8 in flight), calling `at` as they pass fractions. */
async function publishAll(r: Rig, at: Array<[number, () => Promise<void>]>): Promise<Map<string, { ts: number[]; sum: number }>> {
  const expected = new Map<string, { ts: number[]; sum: number }>();
  const devices: MqttClient[] = [];
  for (const id of SENSORS) {
    devices.push(
      await mqtt.connectAsync(`mqtt://127.0.0.1:${r.gwPort}`, {
        protocolVersion: 4,
        clientId: id,
        username: id,
        password: r.city.provisioning.sensors[id],
        clean: false, // like field firmware: unacknowledged readings survive a reconnect
        reconnectPeriod: 200,
      }),
    );
    expected.set(id, { ts: [], sum: 0 });
  }
  let done = 0;
  const total = SENSORS.length * PER_SENSOR;
  const pending = [...at];
  // Fault actions run one after the other (a restart never overlaps the stop before it), and
  // publishers wait for each to finish; between actions they publish at full speed.
  let gate: Promise<void> = Promise.resolve();
  await Promise.all(
    devices.map(async (d, k) => {
      const id = SENSORS[k]!;
      let next = 0;
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          while (next < PER_SENSOR) {
            const i = next++;
            const depth = Math.round(((i * 7 + k * 13) % 400) * 10) / 100;
            const ts = T0 + i * 1000;
            expected.get(id)!.ts.push(ts);
            expected.get(id)!.sum += depth;
            await d.publishAsync(`sensors/ponding/${id}/reading`, JSON.stringify({ ts, seq: i, depth_cm: depth }), { qos: 1 });
            done++;
            while (pending.length && done / total >= pending[0]![0]) gate = gate.then(pending.shift()![1]);
            await gate;
          }
        }),
      );
    }),
  );
  await Promise.all(devices.map((d) => d.endAsync()));
  return expected;
}

async function expectExactlyOnce(r: Rig, expected: Map<string, { ts: number[]; sum: number }>) {
  const total = SENSORS.length * PER_SENSOR;
  let lastDistinct = 0;
  const series = await eventually(
    async () => {
      const s = await r.vm.export('ponding_depth_cm');
      lastDistinct = s.reduce((a, x) => a + new Set(x.timestamps).size, 0);
      return lastDistinct >= total ? s : undefined;
    },
    `${total} distinct readings in VictoriaMetrics`,
    60_000,
  ).catch(async (err: Error) => {
    const s = await r.vm.export('ponding_depth_cm');
    const missing: string[] = [];
    for (const id of SENSORS) {
      const have = new Set(s.find((x) => x.metric['sensor'] === id)?.timestamps ?? []);
      const lost = expected.get(id)!.ts.filter((t) => !have.has(t)).map((t) => (t - T0) / 1000);
      if (lost.length) missing.push(`${id}: ${lost.length} missing, seq ${lost.slice(0, 12).join(',')}`);
    }
    const inserted = await r.vm.metric('vm_rows_inserted_total');
    const invalid = await r.vm.metric('vm_rows_invalid_total');
    throw new Error(`${err.message} (last count ${lastDistinct}; VM rows inserted ${inserted}, invalid ${invalid}; ${missing.join('; ')}); ingest said:\n${r.ingestLogs().slice(-2000)}`);
  });
  let duplicates = 0;
  const twice: string[] = [];
  for (const id of SENSORS) {
    const s = series.find((x) => x.metric['sensor'] === id)!;
    const byTs = new Map<number, number>();
    s.timestamps.forEach((ts, i) => {
      if (byTs.has(ts)) twice.push(`${id}@${(ts - T0) / 1000}`);
      byTs.set(ts, s.values[i]!);
    });
    duplicates += s.timestamps.length - byTs.size;
    const e = expected.get(id)!;
    expect([...byTs.keys()].sort((a, b) => a - b)).toEqual([...e.ts].sort((a, b) => a - b));
    expect([...byTs.values()].reduce((a, v) => a + v, 0)).toBeCloseTo(e.sum, 6);
  }
  // What a duplicate's cause needs (seen once in CI, 34 samples in the store-down test, not
  // reproduced since): which readings, and what ingest said about its writes.
  const story = duplicates ? `stored twice: ${twice.slice(0, 40).join(' ')}${twice.length > 40 ? ' …' : ''}; ingest said:\n${r.ingestLogs().slice(-4000)}` : '';
  return { duplicates, story };
}

describe('ingest under faults', { timeout: 180_000 }, () => {
  let r: Rig | undefined;
  afterEach(async () => {
    if (r?.ingest) await stopProcess(r.ingest);
    await r?.gateway.close();
    await r?.vm.stop();
    r?.dir.remove();
    r = undefined;
  });

  it('SIGKILL of ingest mid-stream: every reading arrives exactly once after the restart', async () => {
    r = await rig();
    await r.startIngest();
    const expected = await publishAll(r, [
      [
        0.35,
        async () => {
          r!.ingest!.kill('SIGKILL');
          await new Promise((res) => r!.ingest!.once('exit', res));
        },
      ],
      [0.55, async () => void (await r!.startIngest())],
    ]);
    const { duplicates, story } = await expectExactlyOnce(r, expected);
    // A kill between a store write and its spool removal can repeat at most that one batch.
    expect(duplicates, story).toBeLessThanOrEqual(500);
  });

  it('the store down under load: ingest keeps accepting, then drains everything in order', async () => {
    r = await rig();
    await r.startIngest();
    const expected = await publishAll(r, [
      [0.3, () => r!.vm.pause()],
      [0.8, () => r!.vm.start()],
    ]);
    const { duplicates, story } = await expectExactlyOnce(r, expected);
    expect(duplicates, story).toBe(0);
  });

  it('gateway restart with durable persistence: nothing queued is lost', async () => {
    r = await rig();
    await r.startIngest();
    const expected = await publishAll(r, [
      [
        0.5,
        async () => {
          await r!.gateway.close();
          await r!.startGateway();
        },
      ],
    ]);
    const { duplicates, story } = await expectExactlyOnce(r, expected);
    expect(duplicates, story).toBe(0);
  });
});
