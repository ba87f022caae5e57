/**
 * Backtest benchmark: `floodgate backtest` end to end (its own process: start, read, parse,
 * replay, score, print) on recordings as other cities write them, beside, in the same run, the
 * engine alone on the same readings already parsed (the ceiling) and JSON.parse of the same lines.
 *
 * The recording: every ponding sensor of the demo city, one reading a minute, a flood rising and
 * falling in a sine, BENCH_BACKTEST_READINGS readings (default 500,000) written twice — CSV with
 * `2023-06-14 14:34:48.000000` local times (placed with --tz Asia/Shanghai) and NDJSON with
 * epoch ms — and a labels file with a dry period, so that scoring runs too.
 *
 *   npm run bench -- backtest
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BUNDLED_CITY, loadRegistry } from '../config/registry.ts';
import { parseRecording } from '../contracts/recording.ts';
import { replay } from '../rules/backtest.ts';
import { engineContext } from '../rules/context.ts';
import { DEFAULT_RULES_PATH, loadRules } from '../rules/load.ts';
import { tempDir } from '../test/helpers/servers.ts';

const N = Number(process.env['BENCH_BACKTEST_READINGS'] ?? 500_000);
const ROUNDS = Number(process.env['BENCH_BACKTEST_ROUNDS'] ?? 5);
const BIN = fileURLToPath(new URL('../bin/floodgate.js', import.meta.url));
const log = (s: string) => process.stdout.write(s + '\n');
const perS = (n: number, ms: number) => Math.round(n / (ms / 1000)).toLocaleString('en-US');

const city = loadRegistry(BUNDLED_CITY);
const ponding = city.sensors.filter((s) => s.kind === 'ponding').map((s) => s.id);
const T0 = Date.parse('2023-06-14T00:00:00+08:00');
/** Reading i: its sensor, its time, its depth (a slow flood per sensor, 0 to 30 cm). */
const reading = (i: number) => ({ sensor: ponding[i % ponding.length]!, ts: T0 + Math.floor(i / ponding.length) * 60_000, depth: Math.round(Math.abs(Math.sin(i / 40_000 + (i % ponding.length))) * 300) / 10 });
const local = (ms: number) => new Date(ms + 8 * 3600_000).toISOString().replace('T', ' ').replace('Z', '000');

const dir = tempDir('bench-backtest');
try {
  const csv = ['sensor,ts,value'];
  const ndjson: string[] = [];
  for (let i = 0; i < N; i++) {
    const r = reading(i);
    csv.push(`${r.sensor},${local(r.ts)},${r.depth}`);
    ndjson.push(JSON.stringify({ sensor: r.sensor, ts: r.ts, depth_cm: r.depth }));
  }
  writeFileSync(join(dir.path, 'rec.csv'), csv.join('\n'));
  writeFileSync(join(dir.path, 'rec.ndjson'), ndjson.join('\n'));
  const end = reading(N - 1).ts;
  writeFileSync(join(dir.path, 'labels.yaml'), `events:\n  - { rule: underpass-closure, subject: UP-001, start: "${new Date(T0).toISOString()}", end: "${new Date(end).toISOString()}", flood: false }\n`);

  const cli = (file: string, extra: string[]) => {
    const t = performance.now();
    execFileSync(process.execPath, [BIN, 'backtest', '--input', join(dir.path, file), '--labels', join(dir.path, 'labels.yaml'), ...extra], { stdio: ['ignore', 'ignore', 'inherit'], maxBuffer: 1 << 30 });
    return performance.now() - t;
  };
  // Peers, in this process: the engine alone on the parsed readings, and JSON.parse of the lines.
  const kinds = new Map(city.sensors.map((s) => [s.id, s.kind]));
  const { readings } = parseRecording(ndjson.join('\n'), 'ndjson', (id) => kinds.get(id));
  const ctx = engineContext(city, loadRules(DEFAULT_RULES_PATH, city.sites));
  const timed = (f: () => void) => {
    const t = performance.now();
    f();
    return performance.now() - t;
  };
  // Each measured ROUNDS times, in turns, and the median taken: a shared machine's speed wanders
  // by a third from one second to the next, and a single run says more about it than about us.
  const runs = { csv: [] as number[], ndjson: [] as number[], engine: [] as number[], json: [] as number[] };
  for (let round = 0; round < ROUNDS; round++) {
    runs.csv.push(cli('rec.csv', ['--tz', 'Asia/Shanghai']));
    runs.ndjson.push(cli('rec.ndjson', []));
    runs.engine.push(timed(() => replay(readings, ctx)));
    runs.json.push(timed(() => ndjson.forEach((line) => JSON.parse(line))));
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
  const [csvMs, ndjsonMs, engineMs, jsonMs] = [runs.csv, runs.ndjson, runs.engine, runs.json].map(median) as [number, number, number, number];

  const text = [
    `| ${N.toLocaleString('en-US')} readings (${ponding.length} ponding sensors, one a minute), median of ${ROUNDS} | readings/s |`,
    '|---|---|',
    `| \`floodgate backtest\` end to end, CSV with local times (--tz Asia/Shanghai), labels | ${perS(N, csvMs)} |`,
    `| \`floodgate backtest\` end to end, NDJSON with epoch ms, labels | ${perS(N, ndjsonMs)} |`,
    `| peer, same run: the engine alone on the parsed readings (replay) | ${perS(N, engineMs)} |`,
    `| peer, same run: JSON.parse of the NDJSON lines alone | ${perS(N, jsonMs)} |`,
  ].join('\n');
  log(text);
  writeFileSync(new URL('./results-backtest.md', import.meta.url), `# Backtest benchmark, ${new Date().toISOString()}\n\n${text}\n`);
} finally {
  dir.remove();
}
