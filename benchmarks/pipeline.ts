/**
 * Pipeline benchmark: device publish → signed police notice, end to end through `floodgate up`
 * (gateway, ingest, rules, alerts in one process, embedded store), idle and under background
 * load, side by side in one run.
 *
 *   npm run bench -- pipeline    (BENCH_CLOSURES=40 BENCH_LOAD_DEVICES=2000 BENCH_LOAD_RATE=5000)
 *
 * A closure as ./closures.ts times it (publish of the reading that closes the road → verified
 * police notice). Under load,
 * BENCH_LOAD_DEVICES load-test devices (floodgate sim load) send BENCH_LOAD_RATE readings/s the
 * whole time, and every one of them must be acknowledged.
 */
import { join } from 'node:path';
import { readFileSync, writeFileSync } from 'node:fs';
import { loadProvisioning, loadRegistry } from '../config/registry.ts';
import { systemClock } from '../lib/clock.ts';
import { runLoad, type LoadReport } from '../simulators/load.ts';
import { startUpBench } from './up-bench.ts';
import { closureTimer } from './closures.ts';

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
  let stopTimer = () => {};
  try {
    const registry = loadRegistry(join(bench.dir, 'registry.json'));
    const provisioning = loadProvisioning(join(bench.dir, 'provisioning.json'));
    const timer = closureTimer({ mqttUrl: `mqtt://127.0.0.1:${mqttPort}`, registry, provisioning, police });
    stopTimer = timer.stop;
    const series = (n: number) => timer.series(n);

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
    stopTimer();
    await bench.stop();
  }
}

const result = await main();
writeFileSync(new URL('./results-pipeline.md', import.meta.url), `# Pipeline benchmark, ${new Date().toISOString()}\n\n${result.text}\n`);
process.stdout.write(`${result.text}\n`);
