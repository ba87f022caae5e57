/**
 * Ingest benchmark: sustained readings/s end to end (published → visible in VictoriaMetrics, zero
 * loss), lag p50/p99 and ingest's peak RSS, side by side with the raw QoS 1 delivery rate of the
 * same broker and client with no ingest. Each part runs as its own process: `floodgate gateway`,
 * `floodgate ingest`, VictoriaMetrics.
 *
 *   npm run bench -- ingest      (BENCH_READINGS=200000 BENCH_PUBLISHERS=20)
 */
import mqtt, { type MqttClient } from 'mqtt';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { saveRegistry } from '../config/registry.ts';
import { freePort, startProcess, startVictoriaMetrics, stopProcess, tempDir, waitForTcp } from '../test/helpers/servers.ts';
import { smallCity } from '../test/helpers/stack.ts';

const TOTAL = Number(process.env['BENCH_READINGS'] ?? 200_000);
const PUBLISHERS = Number(process.env['BENCH_PUBLISHERS'] ?? 20);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const log = (s: string) => process.stdout.write(s + '\n');
const status = (pid: number, key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;

async function main() {
  const dir = tempDir('bench-ingest');
  const city = await smallCity(PUBLISHERS);
  const registryPath = join(dir.path, 'registry.json');
  saveRegistry(registryPath, city.registry);
  const devices = city.registry.sensors.filter((s) => s.kind === 'ponding').slice(0, PUBLISHERS).map((s) => s.id);
  const gwPort = await freePort();
  const env = {
    ...process.env,
    FLOODGATE_LOG_LEVEL: 'error',
    FLOODGATE_REGISTRY: registryPath,
    FLOODGATE_SERVICE_SECRET: city.provisioning.serviceSecret,
    FLOODGATE_DATA_DIR: dir.path,
    FLOODGATE_MQTT_URL: `mqtt://127.0.0.1:${gwPort}`,
  };
  const gw = startProcess(process.execPath, [join(ROOT, 'bin/floodgate.js'), 'gateway'], {
    ...env,
    FLOODGATE_MQTT_HOST: '127.0.0.1',
    FLOODGATE_MQTT_PORT: String(gwPort),
    FLOODGATE_DEVICE_RATE: '10000',
    FLOODGATE_DEVICE_BURST: '100000',
  });
  await waitForTcp(gwPort, gw.proc, gw.logs, 60_000);
  const vm = await startVictoriaMetrics();
  const perDevice = Math.ceil(TOTAL / devices.length);
  const base = Math.floor((Date.now() - 86_400_000) / 1000) * 1000;
  let round = 0;

  /** Publish TOTAL readings (QoS 1, 16 in flight per device); returns publish times per reading index. */
  async function publish(): Promise<{ seconds: number; at: Float64Array }> {
    round++;
    const clients: MqttClient[] = await Promise.all(
      devices.map((id) => mqtt.connectAsync(`mqtt://127.0.0.1:${gwPort}`, { protocolVersion: 4, clientId: id, username: id, password: city.provisioning.sensors[id], reconnectPeriod: 0 })),
    );
    const at = new Float64Array(TOTAL);
    let n = 0;
    const t0 = performance.now();
    await Promise.all(
      clients.map(async (c, k) => {
        let i = 0;
        await Promise.all(
          Array.from({ length: 16 }, async () => {
            while (i < perDevice && n < TOTAL) {
              const seq = i++;
              // Distinct timestamps per round so every reading is a new point.
              const ts = base + round * 10_000_000 + seq * 10;
              await c.publishAsync(`sensors/ponding/${devices[k]}/reading`, JSON.stringify({ ts, seq, depth_cm: (seq % 500) / 10 }), { qos: 1 });
              at[n++] = performance.now();
            }
          }),
        );
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    await Promise.all(clients.map((c) => c.endAsync()));
    return { seconds, at: at.subarray(0, n) };
  }

  try {
    // (a) The raw QoS 1 delivery rate of the same broker and client: one subscriber, no ingest.
    const sub = await mqtt.connectAsync(`mqtt://127.0.0.1:${gwPort}`, { protocolVersion: 4, clientId: 'bench-raw', username: 'svc-ingest', password: city.provisioning.serviceSecret, reconnectPeriod: 0 });
    let got = 0;
    let lastAt = 0;
    sub.on('message', () => {
      got++;
      lastAt = performance.now();
    });
    await sub.subscribeAsync('sensors/+/+/reading', { qos: 1 });
    const t0 = performance.now();
    await publish();
    while (got < TOTAL && performance.now() - lastAt < 5000) await sleep(20);
    const rawRate = got / ((lastAt - t0) / 1000);
    await sub.endAsync();
    log(`raw broker QoS 1 delivery: ${got}/${TOTAL} in ${((lastAt - t0) / 1000).toFixed(2)} s = ${Math.round(rawRate)} readings/s`);

    // (b) Through ingest into VictoriaMetrics.
    const profile = process.env['BENCH_PROFILE'] ? ['--cpu-prof', `--cpu-prof-dir=${process.env['BENCH_PROFILE']}`] : [];
    const ing = startProcess(process.execPath, [...profile, join(ROOT, 'bin/floodgate.js'), 'ingest'], {
      ...env,
      INFLUX_URL: vm.url,
      INFLUX_TOKEN: 'vm',
      INFLUX_ORG: 'floodgate',
      INFLUX_BUCKET: 'readings',
    });
    await sleep(2000);
    const rowsBefore = await vm.metric('vm_rows_inserted_total');
    const visible = new Float64Array(TOTAL);
    let seen = 0;
    let rssPeak = 0;
    let stop = false;
    // Poll VictoriaMetrics' own insert counter (2 rows per reading: depth_cm and seq).
    const poller = (async () => {
      while (!stop) {
        const rows = (await vm.metric('vm_rows_inserted_total')) - rowsBefore;
        const now = performance.now();
        const readings = Math.min(TOTAL, Math.floor(rows / 2));
        while (seen < readings) visible[seen++] = now;
        rssPeak = Math.max(rssPeak, status(ing.proc.pid!, 'VmRSS'));
        await sleep(100);
      }
    })();
    const tStart = performance.now();
    const pub = await publish();
    const deadline = performance.now() + 120_000;
    while (seen < pub.at.length && performance.now() < deadline) await sleep(50);
    stop = true;
    await poller;
    const endToEnd = (visible[pub.at.length - 1]! - tStart) / 1000;
    const lags = Array.from(pub.at, (p, i) => visible[i]! - p).sort((a, b) => a - b);
    const pct = (q: number) => lags[Math.min(lags.length - 1, Math.floor(q * lags.length))]!;
    const exported = await vm.export('ponding_depth_cm');
    const stored = exported.reduce((a, s) => a + s.values.length, 0);
    const ingRate = pub.at.length / endToEnd;
    log(`ingest end to end: ${stored} readings in VictoriaMetrics of ${pub.at.length} published; ${endToEnd.toFixed(2)} s = ${Math.round(ingRate)} readings/s`);
    log(`lag published → visible: p50 ${pct(0.5).toFixed(0)} ms, p99 ${pct(0.99).toFixed(0)} ms; ingest peak RSS ${rssPeak.toFixed(0)} MB`);
    await stopProcess(ing.proc);
    const table = [
      `| path | readings/s | delivered | notes |`,
      `|---|---|---|---|`,
      `| raw QoS 1 delivery (gateway → one subscriber, no ingest) | ${Math.round(rawRate)} | ${got}/${TOTAL} | same broker, same client code |`,
      `| floodgate ingest (gateway → ingest → VictoriaMetrics) | ${Math.round(ingRate)} | ${stored}/${pub.at.length} in the store | lag p50 ${pct(0.5).toFixed(0)} ms, p99 ${pct(0.99).toFixed(0)} ms; peak RSS ${rssPeak.toFixed(0)} MB |`,
      '',
      `ingest / raw broker: ${((ingRate / rawRate) * 100).toFixed(0)}%.`,
    ].join('\n');
    log('\n' + table);
    writeFileSync(join(ROOT, 'benchmarks/results-ingest.md'), `# Ingest benchmark, ${new Date().toISOString()}\n\n${TOTAL} readings from ${PUBLISHERS} devices, QoS 1, 16 in flight each.\n\n${table}\n`);
  } finally {
    await stopProcess(gw.proc);
    await vm.stop();
    dir.remove();
  }
}

await main();
