/**
 * `npm run bench [-- scenario …]`: runs the benchmark scenarios (default: all), each in its own
 * process, and writes benchmarks/RESULTS.md: on what machine, then every scenario's output and
 * result table as measured in this run (each figure beside the peer it is compared with).
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { cpus, freemem, release, totalmem, type as osType } from 'node:os';
import { fileURLToPath } from 'node:url';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const scenarios = ['gateway', 'ingest', 'rules', 'backtest', 'stores', 'pipeline', 'capacity', 'console', 'ha', 'sl651'];
const wanted = process.argv.slice(2);
for (const name of wanted) {
  if (!scenarios.includes(name)) {
    process.stderr.write(`unknown benchmark ${name}; known: ${scenarios.join(', ')}\n`);
    process.exit(2);
  }
}

function machine(): string {
  const commit = (() => {
    try {
      return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: HERE, encoding: 'utf8' }).trim();
    } catch {
      return 'unknown';
    }
  })();
  const c = cpus();
  return [
    `- date: ${new Date().toISOString()}; floodgate commit ${commit}`,
    `- machine: ${c.length} × ${c[0]?.model ?? 'unknown CPU'}; ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM (${(freemem() / 2 ** 30).toFixed(1)} GiB free at the start); ${osType()} ${release()}`,
    `- Node ${process.version}; every process of a scenario (servers, services, load) shares these cores`,
  ].join('\n');
}

/** The scenario running now: its own process group, so a stopped run leaves no server or service behind. */
let current: ReturnType<typeof spawn> | undefined;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (current?.pid) {
      try {
        process.kill(-current.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    process.exit(130);
  });
}

const run = (name: string) =>
  new Promise<{ out: string; code: number | null; seconds: number }>((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, ['--import', 'tsx', `${HERE}${name}.ts`], { stdio: ['ignore', 'pipe', 'inherit'], env: process.env, detached: true });
    current = child;
    let out = '';
    child.stdout.on('data', (b: Buffer) => {
      process.stdout.write(b);
      out += b.toString();
    });
    child.on('exit', (code) => {
      // A scenario that died (or forgot to stop something) leaves no server or service behind.
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // the group is gone already
      }
      resolve({ out, code, seconds: Math.round((Date.now() - started) / 1000) });
    });
  });

const header = machine();
const sections: string[] = [];
let failed = false;
for (const name of wanted.length ? wanted : scenarios) {
  const started = Date.now();
  const r = await run(name);
  failed ||= r.code !== 0;
  const tables = readdirResults().filter((f) => statSync(f).mtimeMs >= started);
  sections.push(
    [
      `## ${name} (${r.seconds} s${r.code === 0 ? '' : `, exit ${r.code}`})`,
      '',
      '```',
      r.out.trim(),
      '```',
      // A table the scenario already printed is not repeated.
      ...tables.map((f) => readFileSync(f, 'utf8').replace(/^# .*\n/, '').trim()).filter((t) => !r.out.includes(t.split('\n').find((l) => l.startsWith('|')) ?? t)).map((t) => `\n${t}`),
    ].join('\n'),
  );
}

function readdirResults(): string[] {
  return ['gateway', 'ingest', 'ingest-soak', 'rules', 'backtest', 'stores', 'pipeline', 'console', 'ha', 'sl651'].map((n) => `${HERE}results-${n}.md`).filter((f) => existsSync(f));
}

// RESULTS.md is the latest full run; a run of some scenarios goes beside it (not committed).
const target = wanted.length ? `${HERE}results-last-run.md` : `${HERE}RESULTS.md`;
writeFileSync(
  target,
  `# Benchmark results\n\nProduced by \`npm run bench${wanted.length ? ` -- ${wanted.join(' ')}` : ''}\` (benchmarks/run.ts); what each scenario measures and why: benchmarks/README.md.\n\n${header}\n\n${sections.join('\n\n')}\n`,
);
process.stdout.write(`\nwrote ${target.slice(HERE.length - 'benchmarks/'.length)}\n`);
if (failed) process.exit(1);
