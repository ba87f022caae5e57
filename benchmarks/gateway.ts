/**
 * Gateway benchmark: connection scale and message throughput, side by side in one run with
 * plain aedes (no hooks) and Mosquitto, all driven by the same mqtt.js client code.
 *
 *   npm run bench -- gateway            (BENCH_CONNECTIONS=10000 BENCH_PUBLISHERS=50 BENCH_MESSAGES=2000)
 *
 * Each broker runs in its own process so its memory (RSS) is measured alone; the load comes from
 * this process. Device secrets are hashed as in production (salted HMAC-SHA-256, config/registry.ts);
 * the "auth" line compares one check with the scrypt of earlier registries.
 */
import mqtt, { type MqttClient } from 'mqtt';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { hashSecret, newSecret, saveRegistry, verifySecret, type Registry } from '../config/registry.ts';
import { freePort, startMosquitto, startProcess, stopProcess, tempDir, waitForTcp } from '../test/helpers/servers.ts';
import { mapLimit } from '../lib/map-limit.ts';

const N_CONN = Number(process.env['BENCH_CONNECTIONS'] ?? 10_000);
const PUBLISHERS = Number(process.env['BENCH_PUBLISHERS'] ?? 50);
const MESSAGES_PER_PUBLISHER = Number(process.env['BENCH_MESSAGES'] ?? 2000);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 5);
/** aedes emitter concurrency for both aedes-based brokers (the gateway's default). */
const CONCURRENCY = Number(process.env['BENCH_CONCURRENCY'] ?? 1000);
const ROOT = fileURLToPath(new URL('..', import.meta.url));

interface Broker {
  name: string;
  url: string;
  pid: number;
  /** Device credentials needed (floodgate) or not (plain brokers). */
  auth: boolean;
  stop(): Promise<void>;
}

const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
const ids = (n: number) => Array.from({ length: n }, (_, i) => `BD-${String(i + 1).padStart(5, '0')}`);

async function benchRegistry(dir: string): Promise<{ path: string; secrets: Record<string, string>; serviceSecret: string }> {
  const secrets: Record<string, string> = {};
  const sensors = await mapLimit(ids(N_CONN), 8, async (id) => {
    secrets[id] = newSecret();
    return { id, kind: 'ponding' as const, site: 'UP-BENCH', secretHash: await hashSecret(secrets[id]!) };
  });
  const registry: Registry = {
    version: 1,
    city: 'bench',
    districts: [{ id: 'bench', name: 'bench', police: { url: 'http://127.0.0.1:9/none', secretRef: 'FLOODGATE_POLICE_SECRET' } }],
    sites: [{ id: 'UP-BENCH', kind: 'underpass', name: 'bench underpass', road: '', district: 'bench', lat: 31, lon: 121 }],
    sensors,
  };
  const path = join(dir, 'registry.json');
  saveRegistry(path, registry);
  return { path, secrets, serviceSecret: newSecret() };
}

async function startFloodgate(reg: { path: string; serviceSecret: string }, dir: string): Promise<Broker> {
  const port = await freePort();
  // BENCH_PROFILE=<dir>: write a V8 CPU profile of the gateway process there (open in Chrome DevTools).
  const profile = process.env['BENCH_PROFILE'] ? ['--cpu-prof', `--cpu-prof-dir=${process.env['BENCH_PROFILE']}`] : [];
  const { proc, logs } = startProcess(process.execPath, [...profile, join(ROOT, 'bin/floodgate.js'), 'gateway'], {
    ...process.env,
    FLOODGATE_MQTT_HOST: '127.0.0.1',
    FLOODGATE_MQTT_PORT: String(port),
    FLOODGATE_REGISTRY: reg.path,
    FLOODGATE_SERVICE_SECRET: reg.serviceSecret,
    FLOODGATE_DATA_DIR: dir,
    FLOODGATE_LOG_LEVEL: 'error',
    // Limits out of the way of the load (their cost stays: the checks still run).
    FLOODGATE_DEVICE_RATE: '10000',
    FLOODGATE_DEVICE_BURST: '100000',
    FLOODGATE_MAX_CONNECTIONS: '100000',
    FLOODGATE_BROKER_CONCURRENCY: String(CONCURRENCY),
  });
  await waitForTcp(port, proc, logs, 60_000);
  return { name: 'floodgate gateway (auth, ACL, limits)', url: `mqtt://127.0.0.1:${port}`, pid: proc.pid!, auth: true, stop: () => stopProcess(proc) };
}

async function startPlainAedes(): Promise<Broker> {
  const port = await freePort();
  const { proc, logs } = startProcess(process.execPath, ['--import', 'tsx', join(ROOT, 'benchmarks/plain-aedes.ts'), String(port), String(CONCURRENCY)]);
  await waitForTcp(port, proc, logs);
  return { name: 'plain aedes (no hooks)', url: `mqtt://127.0.0.1:${port}`, pid: proc.pid!, auth: false, stop: () => stopProcess(proc) };
}

async function startPlainMosquitto(): Promise<Broker> {
  const m = await startMosquitto({ extra: ['max_queued_messages 0', 'max_connections -1'] });
  return { name: 'Mosquitto 2.0 (anonymous)', url: m.url, pid: m.pid, auth: false, stop: m.stop };
}

function connect(b: Broker, id: string, secrets: Record<string, string>, extra: mqtt.IClientOptions = {}): Promise<MqttClient> {
  return mqtt.connectAsync(b.url, {
    protocolVersion: 4,
    clientId: id,
    reconnectPeriod: 0,
    connectTimeout: 30_000,
    keepalive: 300,
    ...(b.auth ? { username: id, password: secrets[id] } : {}),
    ...extra,
  });
}

const reading = (seq: number) => JSON.stringify({ ts: Date.now(), seq, depth_cm: 12.5, battery_v: 3.6 });

async function connectionScale(b: Broker, secrets: Record<string, string>) {
  const base = rssMb(b.pid);
  const t0 = performance.now();
  let failed = 0;
  const clients = (await mapLimit(ids(N_CONN), 200, (id) => connect(b, id, secrets).catch(() => (failed++, undefined)))).filter(Boolean) as MqttClient[];
  const connectS = (performance.now() - t0) / 1000;
  await sleep(1000);
  const rss = rssMb(b.pid);
  // Every connected device publishes one QoS 1 reading.
  let pubErrors = 0;
  const tp = performance.now();
  await mapLimit(clients, 500, (c, i) => c.publishAsync(`sensors/ponding/${c.options.clientId}/reading`, reading(i), { qos: 1 }).catch(() => void pubErrors++));
  const publishS = (performance.now() - tp) / 1000;
  await mapLimit(clients, 500, (c) => c.endAsync(true).catch(() => undefined));
  return { connected: clients.length, failed, connectS, rssBase: base, rss, perConnKb: ((rss - base) * 1024) / Math.max(1, clients.length), pubErrors, publishS };
}

async function throughput(b: Broker, secrets: Record<string, string>, serviceSecret: string, qos: 0 | 1, MESSAGES = MESSAGES_PER_PUBLISHER) {
  const sub = await mqtt.connectAsync(b.url, {
    protocolVersion: 4,
    clientId: `bench-sub-${qos}`,
    reconnectPeriod: 0,
    ...(b.auth ? { username: 'svc-ingest', password: serviceSecret } : {}),
  });
  const total = PUBLISHERS * MESSAGES;
  let received = 0;
  let last = 0;
  sub.on('message', () => {
    received++;
    last = performance.now();
  });
  await sub.subscribeAsync('sensors/+/+/reading', { qos });
  const pubs = await mapLimit(ids(PUBLISHERS), 50, (id) => connect(b, id, secrets));
  const t0 = performance.now();
  await Promise.all(
    pubs.map(async (c) => {
      const topic = `sensors/ponding/${c.options.clientId}/reading`;
      if (qos === 0) {
        for (let i = 0; i < MESSAGES; i++) {
          c.publish(topic, reading(i), { qos: 0 });
          if (i % 50 === 49) await new Promise((r) => setImmediate(r)); // let the socket drain
        }
      } else {
        // A window of 16 in flight per publisher, as a device flushing its backlog would.
        let next = 0;
        await Promise.all(
          Array.from({ length: 16 }, async () => {
            while (next < MESSAGES) await c.publishAsync(topic, reading(next++), { qos: 1 });
          }),
        );
      }
    }),
  );
  const deadline = performance.now() + 30_000;
  while (received < total && performance.now() < deadline && performance.now() - Math.max(last, t0) < 5000) await sleep(20);
  const seconds = ((last || performance.now()) - t0) / 1000;
  await Promise.all([...pubs, sub].map((c) => c.endAsync(true)));
  return { qos, received, total, rate: received / seconds, seconds };
}

async function main() {
  const dir = tempDir('bench-gateway');
  const log = (s: string) => process.stdout.write(s + '\n');
  try {
    log(`gateway benchmark: ${N_CONN} connections; ${PUBLISHERS} publishers × ${MESSAGES_PER_PUBLISHER} messages; aedes concurrency ${CONCURRENCY}; node ${process.version}; 2 cores`);
    const t = performance.now();
    const reg = await benchRegistry(dir.path);
    log(`benchmark registry: ${N_CONN} devices in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    // What one device secret check costs (salted HMAC-SHA-256) beside the scrypt (N=2^14) of
    // registries written by earlier versions, for the record.
    const costOf = async (hash: string, n: number) => {
      const ta = performance.now();
      for (let i = 0; i < n; i++) await verifySecret('x', hash);
      return (performance.now() - ta) / n;
    };
    const authMs = await costOf(await hashSecret('x'), 1000);
    const scryptMs = await costOf(await hashSecret('x', { scheme: 'scrypt' }), 10);

    type Rate = Awaited<ReturnType<typeof throughput>>;
    let table = '';
    const brokers = { floodgate: () => startFloodgate(reg, dir.path), aedes: startPlainAedes, mosquitto: startPlainMosquitto };
    const only = (process.env['BENCH_BROKERS'] ?? 'floodgate,aedes,mosquitto').split(',') as Array<keyof typeof brokers>;
    // All brokers run at once (idle while another is measured) and rounds alternate between
    // them, so slow drift of the shared 2-core machine hits every broker alike.
    const running: Broker[] = [];
    for (const k of only) running.push(await brokers[k]());
    try {
      // Connection scale first, on fresh processes, so RSS growth is the connections' and not the heap of earlier rounds.
      const scaleRows: string[] = [];
      for (const b of running) {
        const scale = await connectionScale(b, reg.secrets);
        log(`  ${b.name}: ${scale.connected} connected (${scale.failed} failed) in ${scale.connectS.toFixed(1)} s; RSS ${scale.rssBase.toFixed(0)} → ${scale.rss.toFixed(0)} MB; one QoS 1 publish each: ${scale.pubErrors} errors`);
        scaleRows.push(`| ${b.name} | ${scale.connected}/${N_CONN} (${scale.failed} failed) | ${scale.connectS.toFixed(1)} s | ${scale.rssBase.toFixed(0)} → ${scale.rss.toFixed(0)} MB | ${scale.perConnKb.toFixed(1)} | ${scale.pubErrors} |`);
      }
      for (const b of running) await throughput(b, reg.secrets, reg.serviceSecret, 1, Math.min(MESSAGES_PER_PUBLISHER, 300)); // warm-up (JIT), not measured
      const rates = new Map<Broker, { 0: Rate[]; 1: Rate[] }>(running.map((b) => [b, { 0: [], 1: [] }]));
      for (const qos of (process.env['BENCH_QOS'] ? [Number(process.env['BENCH_QOS'])] : [0, 1]) as Array<0 | 1>) {
        for (let round = 0; round < ROUNDS; round++) {
          for (const b of running) rates.get(b)![qos].push(await throughput(b, reg.secrets, reg.serviceSecret, qos));
        }
      }
      const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
      const rows: string[] = [];
      const summary: Array<{ b: Broker; q0: number; q1: number }> = [];
      for (const b of running) {
        const r = rates.get(b)!;
        const lost = (qos: 0 | 1) => r[qos].reduce((a, x) => a + (x.total - x.received), 0);
        const q0 = median(r[0].map((x) => x.rate));
        const q1 = median(r[1].map((x) => x.rate));
        log(`— ${b.name}: QoS 0 ${r[0].map((x) => Math.round(x.rate)).join(' / ')}; QoS 1 ${r[1].map((x) => Math.round(x.rate)).join(' / ')} msg/s`);
        summary.push({ b, q0, q1 });
        rows.push(`| ${b.name} | ${Math.round(q0)} (lost ${lost(0)}) | ${Math.round(q1)} (lost ${lost(1)}) |`);
      }
      // Hooks cost: the median of per-round ratios floodgate/plain (each pair measured back to back).
      const fg = running.find((b) => b.name.startsWith('floodgate'));
      const plain = running.find((b) => b.name.startsWith('plain aedes'));
      const cost = (qos: 0 | 1) => {
        const f = rates.get(fg!)![qos];
        const p = rates.get(plain!)![qos];
        const ratios = f.map((x, i) => x.rate / p[i]!.rate);
        return { median: (1 - median(ratios)) * 100, all: ratios.map((x) => ((1 - x) * 100).toFixed(1)) };
      };
      const hooks = fg && plain ? [cost(0), cost(1)] : undefined;

      table = [
        `Throughput, median of ${ROUNDS} alternating rounds (${PUBLISHERS} publishers × ${MESSAGES_PER_PUBLISHER} messages, one subscriber):`,
        '',
        `| broker | QoS 0 msg/s | QoS 1 msg/s |`,
        `|---|---|---|`,
        ...rows,
        '',
        hooks
          ? `Hooks cost vs plain aedes (median of per-round ratios): QoS 0 ${hooks[0]!.median.toFixed(1)}% (rounds: ${hooks[0]!.all.join(', ')}), QoS 1 ${hooks[1]!.median.toFixed(1)}% (rounds: ${hooks[1]!.all.join(', ')}); negative = faster.`
          : '',
        '',
        `Connection scale (${N_CONN} devices, then one QoS 1 publish each):`,
        '',
        `| broker | connected | time | broker RSS | KB per connection | publish errors |`,
        `|---|---|---|---|---|---|`,
        ...scaleRows,
        '',
        `One device secret check: ${(authMs * 1000).toFixed(1)} µs (salted HMAC-SHA-256) vs ${scryptMs.toFixed(1)} ms for a scrypt N=2^14 hash of an earlier registry (cached after its first match).`,
      ].join('\n');
    } finally {
      for (const b of running) await b.stop();
    }
    log('\n' + table);
    writeFileSync(join(ROOT, 'benchmarks/results-gateway.md'), `# Gateway benchmark, ${new Date().toISOString()}\n\n${N_CONN} connections; ${PUBLISHERS} publishers × ${MESSAGES_PER_PUBLISHER} messages; aedes concurrency ${CONCURRENCY}; Node ${process.version}.\n\n${table}\n`);
  } finally {
    dir.remove();
  }
}

await main();
