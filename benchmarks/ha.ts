/**
 * HA benchmark: device publish → signed police notice (./closures.ts) on the high-availability
 * deployment against `floodgate up`, in one run on one machine, idle.
 *
 *   npm run bench -- ha    (BENCH_CLOSURES=30)
 *
 * `floodgate up` on its defaults (one process, LevelDB sessions, embedded SQLite stores), and the
 * HA deployment as docs/ha.md describes it (test/helpers/ha-stack.ts: two gateways behind HAProxy
 * sharing Redis, two each of ingest, rules and alerts on PostgreSQL 15 with fsync on as a
 * deployment runs it, readings into VictoriaMetrics), every part a process on this machine. The
 * HA path has more hops: HAProxy both ways, Redis for every queued message, PostgreSQL for the
 * rules' state and the alerts' store and outbox.
 */
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { loadProvisioning, loadRegistry } from '../config/registry.ts';
import { createLogger } from '../lib/logger.ts';
import { startHaStack } from '../test/helpers/ha-stack.ts';
import { startUpBench } from './up-bench.ts';
import { closureTimer, type ClosureTimes } from './closures.ts';

const CLOSURES = Number(process.env['BENCH_CLOSURES'] ?? 30);
const log = (s: string) => process.stdout.write(s + '\n');

async function onUp(): Promise<ClosureTimes> {
  const bench = await startUpBench({ name: 'bench-ha-up', loadDevices: 0 });
  const timer = closureTimer({ mqttUrl: `mqtt://127.0.0.1:${bench.mqttPort}`, registry: loadRegistry(join(bench.dir, 'registry.json')), provisioning: loadProvisioning(join(bench.dir, 'provisioning.json')), police: bench.police });
  try {
    return await timer.series(CLOSURES);
  } finally {
    timer.stop();
    await bench.stop();
  }
}

async function onHa(): Promise<ClosureTimes> {
  const ha = await startHaStack({ name: 'bench-ha', policeSecret: 'bench-police-secret-0123456789', apiToken: 'bench-api-token-0123456789abcdef', logger: createLogger({ name: 'bench', level: 'warn' }), logLevel: 'warn', durablePostgres: true });
  const timer = closureTimer({ mqttUrl: ha.lb.url, registry: ha.registry, provisioning: ha.provisioning, police: ha.police });
  try {
    return await timer.series(CLOSURES);
  } finally {
    timer.stop();
    await ha.stop();
  }
}

log(`HA benchmark: ${CLOSURES} closures one after another, idle, on each deployment; node ${process.version}`);
const up = await onUp();
log(`  floodgate up (defaults): publish → police notice p50 ${up.p50} ms, p99 ${up.p99} ms`);
const ha = await onHa();
log(`  HA deployment: publish → police notice p50 ${ha.p50} ms, p99 ${ha.p99} ms`);
const text = [
  `| deployment | publish → verified police notice p50 | p99 | closures |`,
  `|---|---|---|---|`,
  `| \`floodgate up\`, defaults (one process, LevelDB sessions, SQLite) | ${up.p50} ms | ${up.p99} ms | ${up.n} |`,
  `| HA: HAProxy, 2 gateways on Redis, 2 × ingest/rules/alerts on PostgreSQL (fsync on) | ${ha.p50} ms | ${ha.p99} ms | ${ha.n} |`,
  ``,
  `HA / up: p50 ×${(ha.p50 / Math.max(1, up.p50)).toFixed(1)}, p99 ×${(ha.p99 / Math.max(1, up.p99)).toFixed(1)}. Every process on the same machine.`,
].join('\n');
writeFileSync(new URL('./results-ha.md', import.meta.url), `# HA benchmark, ${new Date().toISOString()}\n\n${text}\n`);
process.stdout.write(`${text}\n`);
