/**
 * Ingest benchmark: sustained readings/s end to end (published → visible in VictoriaMetrics, zero
 * loss), lag p50/p99 and ingest's peak RSS, side by side with the raw QoS 1 delivery rate of the
 * same broker and client with no ingest. Each part runs as its own process: `floodgate gateway`,
 * `floodgate ingest`, VictoriaMetrics.
 *
 *   npm run bench -- ingest      (BENCH_READINGS=200000 BENCH_PUBLISHERS=20 BENCH_ROUNDS=5 BENCH_INGEST_WARMUP=50000)
 */
import mqtt, { type MqttClient } from 'mqtt';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { saveRegistry } from '../config/registry.ts';
import { freePort, startProcess, startVictoriaMetrics, stopProcess, tempDir, waitForTcp } from '../test/helpers/servers.ts';
import { smallCity } from '../test/helpers/stack.ts';
import { percentile, steadyRate, type CountAt } from '../lib/stats.ts';

const TOTAL = Number(process.env['BENCH_READINGS'] ?? 200_000);
const PUBLISHERS = Number(process.env['BENCH_PUBLISHERS'] ?? 20);
const SOAK_S = Number(process.env['BENCH_SOAK_S'] ?? 0);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 5);
const INFLIGHT = Number(process.env['BENCH_INFLIGHT'] ?? 16);
const SOAK_RATE = Number(process.env['BENCH_SOAK_RATE'] ?? 10_000);
/**
 * Readings sent through each freshly started ingest, and waited for in VictoriaMetrics, before the
 * measured round: the gateway and this process's own subscriber are warm from earlier phases, a
 * new ingest is not (a perf profile of a cold round: V8 compiling on its helper threads took 10% of
 * ingest's CPU, nearly all of it in the first second). A production ingest runs for days.
 */
const WARMUP = Number(process.env['BENCH_INGEST_WARMUP'] ?? 50_000);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const log = (s: string) => process.stdout.write(s + '\n');
/** CPU seconds (user + system) a process has used so far: /proc/<pid>/stat utime + stime, in 1/100 s. */
const cpuOf = (pid: number): number => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
};
/** CPU seconds per thread name (main thread, V8 GC helpers, libuv pool: where the process CPU went). */
const threadsCpu = (pid: number): string => {
  const by = new Map<string, number>();
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    const stat = readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8');
    const name = `${stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"))}${t === String(pid) ? "(main)" : ""}`;
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    by.set(`${name} user`, (by.get(`${name} user`) ?? 0) + Number(f[11]) / 100);
    by.set(`${name} sys`, (by.get(`${name} sys`) ?? 0) + Number(f[12]) / 100);
  }
  return [...by].map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ');
};
const selfCpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
/** CPU time per process over a phase, in µs per reading: where a 2-core machine's time goes. */
function cpuMeter(procs: Record<string, () => number>) {
  const start = Object.fromEntries(Object.entries(procs).map(([k, f]) => [k, f()]));
  return (readings: number): string => {
    const parts = Object.entries(procs).map(([k, f]) => [k, ((f() - start[k]!) * 1e6) / readings] as const);
    const total = parts.reduce((a, [, v]) => a + v, 0);
    return `CPU µs per reading: ${parts.map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ')}; total ${total.toFixed(1)}`;
  };
}
const status = (pid: number, key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;

/** What every phase of the benchmark shares: the city, its devices, the gateway and VictoriaMetrics. */
interface Bench {
  dir: ReturnType<typeof tempDir>;
  city: Awaited<ReturnType<typeof smallCity>>;
  devices: string[];
  gwPort: number;
  env: NodeJS.ProcessEnv;
  gw: ReturnType<typeof startProcess>;
  vm: Awaited<ReturnType<typeof startVictoriaMetrics>>;
  perDevice: number;
  base: number;
  /** Rounds published so far (each round's timestamps and counters are its own). */
  round: number;
}
type RawResult = Awaited<ReturnType<typeof raw>>;
type IngestResult = Awaited<ReturnType<typeof throughIngest>>;

/** Publish `count` readings (QoS 1, INFLIGHT per device); returns publish times per reading index. */
async function publish(b: Bench, count = TOTAL): Promise<{ seconds: number; at: Float64Array; ackMs: string }> {
  b.round++;
  const clients: MqttClient[] = await Promise.all(
    b.devices.map((id) => mqtt.connectAsync(`mqtt://127.0.0.1:${b.gwPort}`, { protocolVersion: 4, clientId: id, username: id, password: b.city.provisioning.sensors[id], reconnectPeriod: 0 })),
  );
  const at = new Float64Array(count);
  /** Each publish's PUBACK round trip as a device sees it. */
  const rtt = new Float64Array(count);
  let n = 0;
  /** Publishes started: counted before the await, so the lanes stop at exactly `count`. */
  let started = 0;
  const t0 = performance.now();
  await Promise.all(
    clients.map(async (c, k) => {
      let i = 0;
      await Promise.all(
        Array.from({ length: INFLIGHT }, async () => {
          while (i < b.perDevice && started < count) {
            started++;
            const j = i++;
            // Distinct timestamps and counters per round so every reading is a new point (the
            // same seq and value within 10 min would be dropped as a re-stamped copy).
            const ts = b.base + b.round * (b.perDevice * 10 + 1000) + j * 10;
            const seq = b.round * b.perDevice + j;
            const sent = performance.now();
            await c.publishAsync(`sensors/ponding/${b.devices[k]}/reading`, JSON.stringify({ ts, seq, depth_cm: (j % 500) / 10 }), { qos: 1 });
            const acked = performance.now();
            rtt[n] = acked - sent;
            at[n++] = acked;
          }
        }),
      );
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  await Promise.all(clients.map((c) => c.endAsync()));
  const sorted = rtt.subarray(0, n).sort();
  const ackMs = `devices' PUBACK round trip p50 ${percentile(sorted, 50).toFixed(1)} ms, p99 ${percentile(sorted, 99).toFixed(1)} ms`;
  return { seconds, at: at.subarray(0, n), ackMs };
}

/**
 * BENCH_SOAK_S: a steady BENCH_SOAK_RATE readings/s for that long through ingest, sampling
 * ingest's RSS and spool depth every 5 s: memory must stay flat and the spool drained.
 */
async function soak(b: Bench): Promise<void> {
  const ing = startProcess(process.execPath, [join(ROOT, 'bin/floodgate.js'), 'ingest'], { ...b.env, INFLUX_URL: b.vm.url, INFLUX_TOKEN: 'vm', INFLUX_ORG: 'floodgate', INFLUX_BUCKET: 'readings' });
  await sleep(2000);
  const clients = await Promise.all(
    b.devices.map((id) => mqtt.connectAsync(`mqtt://127.0.0.1:${b.gwPort}`, { protocolVersion: 4, clientId: id, username: id, password: b.city.provisioning.sensors[id], reconnectPeriod: 0 })),
  );
  const rowsBefore = await b.vm.metric('vm_rows_inserted_total');
  const samples: Array<{ s: number; rssMb: number; stored: number; published: number }> = [];
  const perTick = Math.max(1, Math.round(SOAK_RATE / 10 / clients.length)); // every 100 ms, per device
  const soakStart = Date.now();
  let published = 0;
  let seq = 0;
  const t0 = performance.now();
  let nextSample = 0;
  while (performance.now() - t0 < SOAK_S * 1000) {
    const tick = performance.now();
    const s = ++seq;
    // Timestamps from ten minutes ago on, perTick ms per tick: unique per device whatever the
    // tick's timing (wall-clock stamps of ticks that came a little early collided, and ingest
    // rightly dropped the second reading with the same sensor and ts as a duplicate).
    const wall = soakStart - 600_000 + s * perTick;
    await Promise.all(
      // Four publishes in flight per device: one at a time, a PUBACK round trip caps a device
      // at ~1,000/s and the offered rate would fall short of BENCH_SOAK_RATE.
      clients.flatMap((c, k) =>
        [0, 1, 2, 3].map(async (lane) => {
          for (let j = lane; j < perTick; j += 4) {
            const ts = wall + j;
            await c.publishAsync(`sensors/ponding/${b.devices[k]}/reading`, JSON.stringify({ ts, seq: s * perTick + j, depth_cm: j % 50 }), { qos: 1 });
            published++;
          }
        }),
      ),
    );
    if (performance.now() - t0 >= nextSample) {
      const stored = Math.floor(((await b.vm.metric('vm_rows_inserted_total')) - rowsBefore) / 2);
      samples.push({ s: Math.round((performance.now() - t0) / 1000), rssMb: status(ing.proc.pid!, 'VmRSS'), stored, published });
      nextSample += 5000;
    }
    await sleep(Math.max(0, 100 - (performance.now() - tick)));
  }
  const seconds = (performance.now() - t0) / 1000;
  await Promise.all(clients.map((c) => c.endAsync()));
  const deadline = performance.now() + 60_000;
  let stored = 0;
  while (stored < published && performance.now() < deadline) {
    stored = Math.floor(((await b.vm.metric('vm_rows_inserted_total')) - rowsBefore) / 2);
    await sleep(200);
  }
  await stopProcess(ing.proc);
  const rss = samples.map((x) => x.rssMb);
  const half = samples.slice(Math.floor(samples.length / 2));
  const lines = [
    `Soak: ${published} readings over ${seconds.toFixed(0)} s (${Math.round(published / seconds)} readings/s offered), ${stored} in VictoriaMetrics after the run.`,
    `ingest RSS MB every 5 s: ${rss.map((x) => x.toFixed(0)).join(' ')}`,
    `RSS first ${rss[0]?.toFixed(0)} MB, max ${Math.max(...rss).toFixed(0)} MB, last ${rss.at(-1)?.toFixed(0)} MB; second half min/max ${Math.min(...half.map((x) => x.rssMb)).toFixed(0)}/${Math.max(...half.map((x) => x.rssMb)).toFixed(0)} MB.`,
    `backlog (published − stored) at each sample: ${samples.map((x) => x.published - x.stored).join(' ')}`,
  ];
  for (const l of lines) log(l);
  writeFileSync(join(ROOT, 'benchmarks/results-ingest-soak.md'), `# Ingest soak, ${new Date().toISOString()}\n\n${lines.join('\n\n')}\n`);
}

// (a) The raw QoS 1 delivery rate of the same broker and client: one subscriber, no ingest —
// with a clean session, and with a persistent one like ingest's (the broker then keeps every
// unacknowledged message in the session store: the rate ingest can reach at best).
async function raw(b: Bench, clean: boolean): Promise<{ rate: number; steady: number; got: number; cpuLine: string }> {
  const sub = await mqtt.connectAsync(`mqtt://127.0.0.1:${b.gwPort}`, { protocolVersion: 4, clientId: clean ? 'bench-raw' : 'bench-raw-persistent', clean, username: 'svc-ingest', password: b.city.provisioning.serviceSecret, reconnectPeriod: 0 });
  let got = 0;
  let lastAt = 0;
  const arrived = new Float64Array(TOTAL);
  sub.on('message', () => {
    lastAt = performance.now();
    if (got < TOTAL) arrived[got] = lastAt;
    got++;
  });
  await sub.subscribeAsync('sensors/+/+/reading', { qos: 1 });
  const cpu = cpuMeter({ gateway: () => cpuOf(b.gw.proc.pid!), 'publishers + subscriber': selfCpu });
  const t0 = performance.now();
  const { ackMs } = await publish(b);
  while (got < TOTAL && performance.now() - lastAt < 5000) await sleep(20);
  const cpuLine = cpu(got);
  const rate = got / ((lastAt - t0) / 1000);
  const steady = steadyRate(Array.from(arrived.subarray(0, Math.min(got, TOTAL)), (t, i): CountAt => ({ t, n: i + 1 })), TOTAL);
  if (!clean) await sub.unsubscribeAsync('sensors/+/+/reading'); // leave no session that queues the next runs
  await sub.endAsync();
  log(`  raw broker QoS 1 delivery, ${clean ? 'clean' : 'persistent'} session: ${got}/${TOTAL} in ${((lastAt - t0) / 1000).toFixed(2)} s = ${Math.round(rate)} readings/s whole run, ${Math.round(steady)} readings/s sustained (10–90%)`);
  log(`    ${cpuLine}; ${ackMs}`);
  return { rate, steady, got, cpuLine };
}

// (b) Through ingest into VictoriaMetrics: a fresh `floodgate ingest` per round (its own
// session, removed afterwards so it queues nothing during the raw rounds).
async function throughIngest(b: Bench, r: number) {
  const clientId = `bench-ingest-${r}`;
  const profile = [...(process.env['BENCH_PROFILE'] ? ['--cpu-prof', `--cpu-prof-dir=${process.env['BENCH_PROFILE']}`] : []), ...(process.env['BENCH_INGEST_NODE_ARGS']?.split(' ').filter(Boolean) ?? [])];
  const ing = startProcess(process.execPath, [...profile, join(ROOT, 'bin/floodgate.js'), 'ingest'], {
    ...b.env,
    FLOODGATE_INGEST_CLIENT_ID: clientId,
    INFLUX_URL: b.vm.url,
    INFLUX_TOKEN: 'vm',
    INFLUX_ORG: 'floodgate',
    INFLUX_BUCKET: 'readings',
  });
  await sleep(3000); // started, connected, subscribed
  if (WARMUP > 0) {
    const rowsWarm = await b.vm.metric('vm_rows_inserted_total');
    await publish(b, WARMUP);
    const until = performance.now() + 60_000;
    let rows = 0;
    while ((rows = (await b.vm.metric('vm_rows_inserted_total')) - rowsWarm) < 2 * WARMUP && performance.now() < until) await sleep(100);
    // Stragglers would be counted as the measured round's: stop here rather than report that.
    if (rows < 2 * WARMUP) throw new Error(`warm-up: ${Math.floor(rows / 2)} of ${WARMUP} readings visible in VictoriaMetrics after 60 s`);
  }
  const rowsBefore = await b.vm.metric('vm_rows_inserted_total');
  const visible = new Float64Array(TOTAL);
  let seen = 0;
  let rssPeak = 0;
  let stop = false;
  const pollMs: number[] = [];
  /** Readings visible at each poll: VictoriaMetrics shows rows in steps (see steadyRate). */
  const counts: CountAt[] = [];
  // Poll VictoriaMetrics' own insert counter (2 rows per reading: depth_cm and seq).
  const poller = (async () => {
    while (!stop) {
      const asked = performance.now();
      const rows = (await b.vm.metric('vm_rows_inserted_total')) - rowsBefore;
      const now = performance.now();
      pollMs.push(now - asked);
      const readings = Math.min(TOTAL, Math.floor(rows / 2));
      counts.push({ t: now, n: readings });
      while (seen < readings) visible[seen++] = now;
      rssPeak = Math.max(rssPeak, status(ing.proc.pid!, 'VmRSS'));
      await sleep(100);
    }
  })();
  const cpu = cpuMeter({ gateway: () => cpuOf(b.gw.proc.pid!), ingest: () => cpuOf(ing.proc.pid!), VictoriaMetrics: () => cpuOf(b.vm.pid), 'publishers + poller': selfCpu });
  const tStart = performance.now();
  const pub = await publish(b);
  const deadline = performance.now() + 120_000;
  while (seen < pub.at.length && performance.now() < deadline) await sleep(50);
  const cpuLine = cpu(pub.at.length);
  stop = true;
  await poller;
  const endToEnd = (visible[pub.at.length - 1]! - tStart) / 1000;
  const lags = Array.from(pub.at, (p, i) => visible[i]! - p).sort((a, b) => a - b);
  const rate = pub.at.length / endToEnd;
  const steady = steadyRate(counts, pub.at.length);
  if (process.env['BENCH_THREADS']) log(`    ingest threads (CPU s): ${threadsCpu(ing.proc.pid!)}`);
  await stopProcess(ing.proc);
  // Remove its persistent session: a clean connection with the same client id ends it.
  const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${b.gwPort}`, { protocolVersion: 4, clientId, clean: true, username: 'svc-ingest', password: b.city.provisioning.serviceSecret, reconnectPeriod: 0 });
  await c.endAsync();
  const p50 = percentile(lags, 50);
  const p99 = percentile(lags, 99);
  log(`  ingest end to end: ${seen} of ${pub.at.length} published visible in VictoriaMetrics; ${endToEnd.toFixed(2)} s = ${Math.round(rate)} readings/s whole run, ${Math.round(steady)} readings/s sustained (10–90%) (publishing took ${pub.seconds.toFixed(2)} s); lag p50 ${p50.toFixed(0)} ms, p99 ${p99.toFixed(0)} ms; peak RSS ${rssPeak.toFixed(0)} MB`);
  log(`    ${cpuLine}; ${pub.ackMs}`);
  pollMs.sort((a, b) => a - b);
  log(`    polls of VictoriaMetrics' counter: ${pollMs.length}, each took p50 ${percentile(pollMs, 50).toFixed(0)} ms, max ${pollMs[pollMs.length - 1]!.toFixed(0)} ms`);
  return { rate, steady, seen, published: pub.at.length + WARMUP, p50, p99, rssPeak, cpuLine };
}

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
  const gwProfile = process.env['BENCH_PROFILE_GATEWAY'] ? ['--cpu-prof', `--cpu-prof-dir=${process.env['BENCH_PROFILE_GATEWAY']}`] : [];
  const gw = startProcess(process.execPath, [...gwProfile, join(ROOT, 'bin/floodgate.js'), 'gateway'], {
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
  const b: Bench = { dir, city, devices, gwPort, env, gw, vm, perDevice, base, round: 0 };

  try {
    if (SOAK_S > 0) return await soak(b);
    // Rounds alternate the three paths, so a slower or faster spell of this shared machine falls on
    // all of them; the ratios are medians of per-round ratios.
    const rounds: Array<{ clean: RawResult; persistent: RawResult; ingest: IngestResult }> = [];
    // The persistent session, the ratio's reference, runs right before and right after each ingest
    // phase and counts as the mean of the two: a drift of this shared machine's speed across a
    // round then cancels instead of falling on one side of the ratio.
    const bracket = (a: RawResult, b: RawResult) => ({ rate: (a.rate + b.rate) / 2, steady: (a.steady + b.steady) / 2, got: Math.min(a.got, b.got), cpuLine: a.cpuLine });
    for (let r = 1; r <= ROUNDS; r++) {
      log(`round ${r} of ${ROUNDS}`);
      const clean = await raw(b, true);
      const before = await raw(b, false);
      const ingest = await throughIngest(b, r);
      const after = await raw(b, false);
      rounds.push({ clean, persistent: bracket(before, after), ingest });
    }
    const exported = await b.vm.export('ponding_depth_cm');
    const stored = exported.reduce((a, x) => a + x.values.length, 0);
    const published = rounds.reduce((a, x) => a + x.ingest.published, 0);
    const median = (xs: number[]) => percentile([...xs].sort((a, b) => a - b), 50);
    const byIngest = [...rounds].sort((a, b) => a.ingest.steady - b.ingest.steady);
    const mid = byIngest[Math.floor(byIngest.length / 2)]!;
    type Rates = { rate: number; steady: number };
    /** Per round ingest / raw, sustained and whole run. */
    const ratios = (rawOf: (x: (typeof rounds)[number]) => Rates) => ({
      steady: rounds.map((x) => x.ingest.steady / rawOf(x).steady),
      whole: rounds.map((x) => x.ingest.rate / rawOf(x).rate),
    });
    const ratioClean = ratios((x) => x.clean);
    const ratioPersistent = ratios((x) => x.persistent);
    const pct = (xs: number[]) => xs.map((x) => (x * 100).toFixed(0)).join(', ');
    const medPct = (xs: number[]) => `${(median(xs) * 100).toFixed(0)}%`;
    const cols = (xs: Rates[]) =>
      `${Math.round(median(xs.map((x) => x.steady)))} | ${xs.map((x) => Math.round(x.steady)).join(' / ')} | ${Math.round(median(xs.map((x) => x.rate)))} | ${xs.map((x) => Math.round(x.rate)).join(' / ')}`;

    // (c) The same load through Node-RED 4.1 (mqtt in → function → influxdb out) into a fresh VictoriaMetrics.
    const nr = process.env['BENCH_NODERED'] === '0' ? undefined : await nodeRedRun(() => publish(b), b.gwPort, b.city.provisioning.serviceSecret, b.dir.path);
    if (nr) log(`Node-RED: ${nr.stored} of ${nr.published} readings in VictoriaMetrics in ${nr.seconds.toFixed(2)} s = ${Math.round(nr.rate)} readings/s; peak RSS ${nr.rssPeak.toFixed(0)} MB`);
    const ingRate = median(rounds.map((x) => x.ingest.rate));
    const table = [
      `${ROUNDS} rounds of ${TOTAL} readings from ${PUBLISHERS} devices (QoS 1, ${INFLIGHT} in flight each), each round raw clean → raw persistent → ingest → raw persistent (the persistent rate of a round: the mean of the two); rates are medians over the rounds.${WARMUP > 0 ? ` Each fresh ingest is first warmed with ${WARMUP} readings (stored, checked, not timed).` : ' Ingest measured cold (BENCH_INGEST_WARMUP=0).'}`,
      `Sustained: readings/s between 10% and 90% of the round delivered (raw: received by the subscriber; ingest: visible in VictoriaMetrics). Whole run: all readings / (last delivered − start), which also charges the connections, the pipeline's fill and VictoriaMetrics' last once-a-second step to the rate.`,
      '',
      `| path | sustained readings/s (median) | rounds | whole run (median) | rounds | delivered | notes |`,
      `|---|---|---|---|---|---|---|`,
      `| raw QoS 1 delivery (gateway → one subscriber, no ingest), clean session | ${cols(rounds.map((x) => x.clean))} | ${rounds.map((x) => x.clean.got).join(' / ')} of ${TOTAL} | same broker, same client code |`,
      `| raw QoS 1 delivery, persistent session (as ingest's) | ${cols(rounds.map((x) => x.persistent))} | ${rounds.map((x) => x.persistent.got).join(' / ')} of ${TOTAL} | the broker keeps unacknowledged messages in the session store; before and after each ingest phase, averaged |`,
      `| floodgate ingest (gateway → ingest → VictoriaMetrics) | ${cols(rounds.map((x) => x.ingest))} | ${stored}/${published} in the store | median round: lag p50 ${mid.ingest.p50.toFixed(0)} ms, p99 ${mid.ingest.p99.toFixed(0)} ms; peak RSS ${mid.ingest.rssPeak.toFixed(0)} MB |`,
      ...(nr ? [`| Node-RED 4.1.8 + node-red-contrib-influxdb 0.7.0 (gateway → Node-RED → VictoriaMetrics) | – | – | ${Math.round(nr.rate)} | 1 | ${nr.stored}/${nr.published} in the store | peak RSS ${nr.rssPeak.toFixed(0)} MB |`] : []),
      '',
      `ingest / raw broker, median of per-round ratios: sustained ${medPct(ratioPersistent.steady)} of the persistent session (rounds ${pct(ratioPersistent.steady)}), ${medPct(ratioClean.steady)} of the clean session (rounds ${pct(ratioClean.steady)}); whole run ${medPct(ratioPersistent.whole)} of the persistent session (rounds ${pct(ratioPersistent.whole)}), ${medPct(ratioClean.whole)} of the clean session (rounds ${pct(ratioClean.whole)}).` +
        (nr ? ` ingest / Node-RED (whole run): ${(ingRate / nr.rate).toFixed(1)}×.` : ''),
      '',
      `Where the two cores went, median round (CPU time of each process over the phase / readings):`,
      `- raw, clean session: ${mid.clean.cpuLine}`,
      `- raw, persistent session: ${mid.persistent.cpuLine}`,
      `- ingest: ${mid.ingest.cpuLine}`,
    ].join('\n');
    log('\n' + table);
    if (stored < published) throw new Error(`ingest lost readings: ${published - stored} of ${published} not in VictoriaMetrics`);
    if (stored > published) throw new Error(`${stored - published} points more than the ${published} readings published in VictoriaMetrics (it keeps duplicates): written twice`);
    writeFileSync(join(ROOT, 'benchmarks/results-ingest.md'), `# Ingest benchmark, ${new Date().toISOString()}\n\n${table}\n`);
  } finally {
    await stopProcess(gw.proc);
    await vm.stop();
    dir.remove();
  }
}

/**
 * Node-RED 4.1.8 with node-red-contrib-influxdb 0.7.0, installed on first use into
 * benchmarks/.cache (not a project dependency), with a three-node flow: mqtt in (QoS 1, persistent
 * session, the same service account) → function (reading → fields + sensor tag + time) → influxdb
 * out (v2 API, ms precision).
 */
async function nodeRedRun(
  publish: () => Promise<{ seconds: number; at: Float64Array }>,
  gwPort: number,
  serviceSecret: string,
  workDir: string,
): Promise<{ published: number; stored: number; seconds: number; rate: number; rssPeak: number }> {
  const cache = join(ROOT, 'benchmarks/.cache/node-red');
  if (!existsSync(join(cache, 'node_modules/node-red/red.js'))) {
    log('installing node-red@4.1.8 and node-red-contrib-influxdb@0.7.0 into benchmarks/.cache (once)…');
    mkdirSync(cache, { recursive: true });
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--no-save', '--prefix', cache, 'node-red@4.1.8', 'node-red-contrib-influxdb@0.7.0'], { stdio: 'ignore' });
  }
  const vm = await startVictoriaMetrics();
  const userDir = join(workDir, 'node-red');
  mkdirSync(userDir, { recursive: true });
  symlinkSync(join(cache, 'node_modules'), join(userDir, 'node_modules'));
  const uiPort = await freePort();
  writeFileSync(join(userDir, 'settings.js'), `module.exports = { uiPort: ${uiPort}, uiHost: '127.0.0.1', flowFile: 'flows.json', credentialSecret: false, logging: { console: { level: 'warn' } } };\n`);
  const func = `const p = msg.payload; msg.payload = [{ depth_cm: p.depth_cm, seq: p.seq + 'i', time: new Date(p.ts) }, { sensor: msg.topic.split('/')[2] }]; return msg;`;
  writeFileSync(
    join(userDir, 'flows.json'),
    JSON.stringify([
      { id: 'tab', type: 'tab', label: 'bench' },
      { id: 'broker', type: 'mqtt-broker', name: 'gateway', broker: '127.0.0.1', port: String(gwPort), clientid: 'nodered-ingest', autoConnect: true, usetls: false, protocolVersion: '4', keepalive: '60', cleansession: false },
      { id: 'in', type: 'mqtt in', z: 'tab', topic: 'sensors/+/+/reading', qos: '1', datatype: 'json', broker: 'broker', nl: false, rap: false, inputs: 0, wires: [['fn']] },
      { id: 'fn', type: 'function', z: 'tab', func, outputs: 1, wires: [['out']] },
      { id: 'influx', type: 'influxdb', hostname: '127.0.0.1', port: '8086', protocol: 'http', database: 'db', name: 'vm', usetls: false, tls: '', influxdbVersion: '2.0', url: vm.url, rejectUnauthorized: false },
      { id: 'out', type: 'influxdb out', z: 'tab', influxdb: 'influx', measurement: 'ponding', precision: '', retentionPolicy: '', database: '', precisionV18FluxV20: 'ms', retentionPolicyV18Flux: '', org: 'floodgate', bucket: 'readings', wires: [] },
    ]),
  );
  writeFileSync(join(userDir, 'flows_cred.json'), JSON.stringify({ broker: { user: 'svc-ingest', password: serviceSecret }, influx: { token: 'vm' } }));
  const nr = startProcess(process.execPath, [join(cache, 'node_modules/node-red/red.js'), '--userDir', userDir, '--settings', join(userDir, 'settings.js')]);
  try {
    await waitForTcp(uiPort, nr.proc, nr.logs, 60_000);
    await sleep(3000); // the mqtt in node connects and subscribes
    const before = await vm.metric('vm_rows_inserted_total');
    let rssPeak = 0;
    let rows = 0;
    const t0 = performance.now();
    const pub = await publish();
    const want = pub.at.length * 2; // depth_cm and seq
    let last = performance.now();
    let lastRows = -1;
    // Wait until all arrived, or nothing new arrived for 10 s (Node-RED may drop under load).
    while (rows < want && performance.now() - last < 10_000) {
      rows = (await vm.metric('vm_rows_inserted_total')) - before;
      if (rows !== lastRows) {
        lastRows = rows;
        last = performance.now();
      }
      rssPeak = Math.max(rssPeak, status(nr.proc.pid!, 'VmRSS'));
      await sleep(200);
    }
    const exported = await vm.export('ponding_depth_cm');
    const stored = exported.reduce((a, x) => a + new Set(x.timestamps).size, 0);
    const seconds = (last - t0) / 1000;
    return { published: pub.at.length, stored, seconds, rate: stored / seconds, rssPeak };
  } finally {
    await stopProcess(nr.proc);
    await vm.stop();
  }
}

await main();
