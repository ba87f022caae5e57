/**
 * Pipeline benchmark: device publish → signed police notice, end to end through `floodgate up`
 * (gateway, ingest, rules, alerts in one process, embedded store), idle and under background
 * load, side by side in one run.
 *
 *   npm run bench -- pipeline    (BENCH_CLOSURES=40 BENCH_LOAD_DEVICES=2000 BENCH_LOAD_RATE=5000)
 *
 * A closure: an underpass's sensor reports 30 cm three times, a minute apart in sensor time
 * (the sustained rule: above 25 cm for 120 s over 3 readings); the clock runs from the publish
 * of the third reading to the police receiver holding the verified close notice. Under load,
 * BENCH_LOAD_DEVICES load-test devices (floodgate sim load) send BENCH_LOAD_RATE readings/s the
 * whole time, and every one of them must be acknowledged.
 */
import mqtt from 'mqtt';
import { join } from 'node:path';
import { readFileSync, writeFileSync } from 'node:fs';
import { loadProvisioning, loadRegistry } from '../config/registry.ts';
import { topics } from '../contracts/index.ts';
import { systemClock } from '../lib/clock.ts';
import { runLoad, type LoadReport } from '../simulators/load.ts';
import { percentile } from '../lib/stats.ts';
import { startUpBench } from './up-bench.ts';

const CLOSURES = Number(process.env['BENCH_CLOSURES'] ?? 40);
const LOAD_DEVICES = Number(process.env['BENCH_LOAD_DEVICES'] ?? 2000);
const LOAD_RATE = Number(process.env['BENCH_LOAD_RATE'] ?? 5000);

export interface PipelineResult {
  idle: { p50: number; p99: number; n: number };
  loaded: { p50: number; p99: number; n: number };
  load: LoadReport;
  peakRssMb: number;
  text: string;
}

export async function main(): Promise<PipelineResult> {
  const log = (s: string) => process.stdout.write(s + '\n');
  // The broker's memory store, as measured before `up` defaulted to LevelDB (2026-12-02): this
  // scenario is about the rules and alerts path at 5,000 readings/s, which the LevelDB-backed
  // broker of a default `up` does not carry on this machine (benchmarks/README.md; `npm run bench
  // -- capacity` measures both side by side).
  const bench = await startUpBench({ name: 'bench-pipeline', loadDevices: LOAD_DEVICES, env: { FLOODGATE_BROKER_PERSISTENCE: process.env['FLOODGATE_BROKER_PERSISTENCE'] ?? 'memory' } });
  const { police, mqttPort, up } = bench;
  const arrivals = new Map<string, number>();
  const seenCount = { n: 0 };
  const poll = setInterval(() => {
    for (; seenCount.n < police.received.length; seenCount.n++) {
      const r = police.received[seenCount.n]!;
      if (r.notice.action === 'close' && !arrivals.has(r.notice.underpass.id)) arrivals.set(r.notice.underpass.id, Date.parse(r.receivedAt));
    }
  }, 1);
  try {
    const registry = loadRegistry(join(bench.dir, 'registry.json'));
    const provisioning = loadProvisioning(join(bench.dir, 'provisioning.json'));
    const ponding = registry.sensors.filter((s) => s.kind === 'ponding');
    let next = 0;

    /** One closure at a fresh underpass: ms from the third reading's publish to the notice. */
    const closure = async (): Promise<number> => {
      const sensor = ponding[next++]!;
      const dev = await mqtt.connectAsync(`mqtt://127.0.0.1:${mqttPort}`, { protocolVersion: 4, clientId: sensor.id, username: sensor.id, password: provisioning.sensors[sensor.id], reconnectPeriod: 0 });
      const t0 = Date.now() - 600_000;
      const send = (i: number) => dev.publishAsync(topics.reading('ponding', sensor.id), JSON.stringify({ ts: t0 + i * 60_000, seq: i, depth_cm: 30 }), { qos: 1 });
      await send(0);
      await send(1);
      await new Promise((r) => setTimeout(r, 100));
      const start = Date.now();
      await send(2);
      const deadline = start + 30_000;
      while (!arrivals.has(sensor.site) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 1));
      await dev.endAsync();
      if (!arrivals.has(sensor.site)) throw new Error(`no close notice for ${sensor.site} within 30 s`);
      return arrivals.get(sensor.site)! - start;
    };
    const series = async (n: number) => {
      const ms: number[] = [];
      for (let i = 0; i < n; i++) ms.push(await closure());
      ms.sort((a, b) => a - b);
      return { p50: percentile(ms, 50), p99: percentile(ms, 99), n };
    };

    log(`pipeline benchmark: ${CLOSURES} closures idle, then ${CLOSURES} under ${LOAD_RATE} readings/s from ${LOAD_DEVICES} devices; node ${process.version}`);
    const idle = await series(CLOSURES);
    log(`  idle: publish → police notice p50 ${idle.p50} ms, p99 ${idle.p99} ms`);
    const durationS = Math.max(20, CLOSURES * 0.5 + 10);
    const loadRun = runLoad({ mqttUrl: `mqtt://127.0.0.1:${mqttPort}`, sensors: LOAD_DEVICES, ratePerS: LOAD_RATE, durationS }, { registry, provisioning, clock: systemClock });
    await new Promise((r) => setTimeout(r, 8000)); // connected and at full rate
    const loaded = await series(CLOSURES);
    const load = await loadRun;
    log(`  under load: publish → police notice p50 ${loaded.p50} ms, p99 ${loaded.p99} ms; background ${load.achievedRatePerS} readings/s acknowledged (${load.errors} errors, ${load.held}/${LOAD_DEVICES} connections held)`);
    const status = readFileSync(`/proc/${up.proc.pid}/status`, 'utf8');
    const peakRssMb = Math.round(Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024);
    const text = [
      `| path | p50 | p99 | closures | background |`,
      `|---|---|---|---|---|`,
      `| device publish → verified police notice, idle | ${idle.p50} ms | ${idle.p99} ms | ${idle.n} | none |`,
      `| the same, under load | ${loaded.p50} ms | ${loaded.p99} ms | ${loaded.n} | ${load.achievedRatePerS} readings/s from ${load.held} devices, ${load.errors} errors, PUBACK p99 ${load.ackP99Ms} ms |`,
      ``,
      `\`floodgate up\` (all four services in one process, embedded store) peak RSS ${peakRssMb} MB.`,
    ].join('\n');
    return { idle, loaded, load, peakRssMb, text };
  } finally {
    clearInterval(poll);
    await bench.stop();
  }
}

const result = await main();
writeFileSync(new URL('./results-pipeline.md', import.meta.url), `# Pipeline benchmark, ${new Date().toISOString()}\n\n${result.text}\n`);
process.stdout.write(`${result.text}\n`);
