/**
 * Capacity by device count: the same total rate (BENCH_LOAD_RATE readings/s) from 20, 2,000 and
 * 10,000 devices (BENCH_DEVICE_COUNTS), through `floodgate up` on its default broker store
 * (LevelDB) and on the memory store, in one run. Per phase: readings/s acknowledged, the devices'
 * PUBACK p50/p99, connections held, and publish → police notice p50/p99 of closures sent while the
 * load runs. The per-device rate limit is lifted (FLOODGATE_DEVICE_RATE=10000): this measures what
 * the pipeline carries, not the anti-abuse limit, which would cut 20 devices at 250 readings/s off.
 *
 *   npm run bench -- capacity    (BENCH_DEVICE_COUNTS=20,2000,10000 BENCH_LOAD_RATE=5000 BENCH_PHASE_S=20 BENCH_STORES=level,memory)
 */
import mqtt from 'mqtt';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { loadProvisioning, loadRegistry } from '../config/registry.ts';
import { topics } from '../contracts/index.ts';
import { systemClock } from '../lib/clock.ts';
import { runLoad, type LoadReport } from '../simulators/load.ts';
import { percentile } from '../lib/stats.ts';
import { startUpBench } from './up-bench.ts';

const COUNTS = (process.env['BENCH_DEVICE_COUNTS'] ?? '20,2000,10000').split(',').map(Number);
const RATE = Number(process.env['BENCH_LOAD_RATE'] ?? 5000);
const PHASE_S = Number(process.env['BENCH_PHASE_S'] ?? 20);
const STORES = (process.env['BENCH_STORES'] ?? 'level,memory').split(',') as Array<'level' | 'memory'>;
const CLOSURES = 8;
const log = (s: string) => process.stdout.write(s + '\n');

interface Phase {
  store: string;
  devices: number;
  load: LoadReport;
  notice: { p50: number; p99: number; missing: number };
}

/** One `up` on a store; each device count in turn against it (a fresh set of underpasses each). */
async function onStore(store: 'level' | 'memory'): Promise<Phase[]> {
  // The device rate limit lifted: this measures what the pipeline carries. `up`'s default store is
  // LevelDB (unset); the memory store is the tuned set-up.
  const bench = await startUpBench({ name: `bench-capacity-${store}`, loadDevices: Math.max(...COUNTS), env: { FLOODGATE_DEVICE_RATE: '10000', FLOODGATE_DEVICE_BURST: '100000', ...(store === 'memory' ? { FLOODGATE_BROKER_PERSISTENCE: 'memory' } : {}) } });
  const { police, mqttPort } = bench;
  const phases: Phase[] = [];
  try {
    const registry = loadRegistry(join(bench.dir, 'registry.json'));
    const provisioning = loadProvisioning(join(bench.dir, 'provisioning.json'));
    const ponding = registry.sensors.filter((s) => s.kind === 'ponding');
    let next = 0;
    /** A closure at a fresh underpass: ms from the third reading's publish to the verified notice (undefined: none within 60 s). */
    const closure = async (): Promise<number | undefined> => {
      const sensor = ponding[next++]!;
      const dev = await mqtt.connectAsync(`mqtt://127.0.0.1:${mqttPort}`, { protocolVersion: 4, clientId: sensor.id, username: sensor.id, password: provisioning.sensors[sensor.id], reconnectPeriod: 0, connectTimeout: 60_000 });
      const t0 = Date.now() - 600_000;
      const send = (i: number) => dev.publishAsync(topics.reading('ponding', sensor.id), JSON.stringify({ ts: t0 + i * 60_000, seq: i, depth_cm: 30 }), { qos: 1 });
      await send(0);
      await send(1);
      const start = Date.now();
      await send(2);
      const deadline = start + 60_000;
      let arrived: number | undefined;
      while (arrived === undefined && Date.now() < deadline) {
        const r = police.received.find((x) => x.notice.action === 'close' && x.notice.underpass.id === sensor.site);
        if (r) arrived = Date.parse(r.receivedAt);
        else await new Promise((res) => setTimeout(res, 5));
      }
      await dev.endAsync();
      return arrived === undefined ? undefined : arrived - start;
    };
    for (const devices of COUNTS) {
      const loadRun = runLoad({ mqttUrl: `mqtt://127.0.0.1:${mqttPort}`, sensors: devices, ratePerS: RATE, durationS: PHASE_S }, { registry, provisioning, clock: systemClock });
      // Closures spread over the sending phase (runLoad connects every device first).
      const ms: number[] = [];
      let missing = 0;
      await new Promise((r) => setTimeout(r, Math.min(30_000, 2_000 + devices)));
      for (let i = 0; i < CLOSURES; i++) {
        const t = await closure();
        if (t === undefined) missing++;
        else ms.push(t);
      }
      const load = await loadRun;
      ms.sort((a, b) => a - b);
      const phase = { store, devices, load, notice: { p50: percentile(ms, 50), p99: percentile(ms, 99), missing } };
      log(`  ${store}, ${devices} devices: ${load.achievedRatePerS}/${RATE} readings/s acknowledged, PUBACK p50 ${load.ackP50Ms} / p99 ${load.ackP99Ms} ms, ${load.held}/${devices} held, ${load.errors} errors, ${load.behind} ticks behind; notice p50 ${phase.notice.p50} / p99 ${phase.notice.p99} ms${missing ? `, ${missing} missing` : ''}`);
      phases.push(phase);
    }
  } finally {
    await bench.stop();
  }
  return phases;
}

const all: Phase[] = [];
log(`capacity benchmark: ${RATE} readings/s in all from ${COUNTS.join(', ')} devices, ${PHASE_S} s each, on ${STORES.join(' and ')}; node ${process.version}`);
for (const store of STORES) all.push(...(await onStore(store)));
const label = (s: string) => (s === 'level' ? "LevelDB (`up`'s default)" : 'memory (tuned)');
const text = [
  `${RATE} readings/s offered in all, ${PHASE_S} s per phase; ${CLOSURES} closures per phase sent while the load runs. Device rate limit lifted (FLOODGATE_DEVICE_RATE=10000).`,
  '',
  '| broker store | devices | readings/s acknowledged | of offered | PUBACK p50 / p99 | connections held | sender ticks behind | publish → notice p50 / p99 |',
  '|---|---|---|---|---|---|---|---|',
  ...all.map((p) => `| ${label(p.store)} | ${p.devices} | ${p.load.achievedRatePerS} | ${Math.round((p.load.achievedRatePerS / RATE) * 100)}% | ${p.load.ackP50Ms} / ${p.load.ackP99Ms} ms | ${p.load.held}/${p.devices} | ${p.load.behind} | ${p.notice.p50} / ${p.notice.p99} ms${p.notice.missing ? ` (${p.notice.missing} missing)` : ''} |`),
].join('\n');
writeFileSync(new URL('./results-capacity.md', import.meta.url), `# Capacity by device count, ${new Date().toISOString()}\n\n${text}\n`);
log(`\n${text}`);
