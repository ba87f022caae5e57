/**
 * Real servers for integration tests, started on free ports in a temp dir and stopped after.
 * A missing binary fails the test with the package to install, never skips it.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import http from 'node:http';
import { createServer, connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export function tempDir(prefix: string): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), `floodgate-${prefix}-`));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/**
 * freePort() can lose a race: another test's server may take the port before ours binds it. A
 * server that exits with "address already in use" is started again on fresh ports.
 */
export async function onFreshPorts<T>(start: () => Promise<T>, attempts = 4): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await start();
    } catch (err) {
      if (i >= attempts || !/address already in use|EADDRINUSE/i.test((err as Error).message)) throw err;
    }
  }
}

/** Start a server whose files live in `dir`; if it does not start, `dir` is removed. */
export async function launchOrRemove<T>(dir: { remove(): void }, launch: () => Promise<T>): Promise<T> {
  try {
    return await launch();
  } catch (err) {
    dir.remove();
    throw err;
  }
}

export function requireBinary(bin: string, debianPackage: string): string {
  for (const dir of [...(process.env['PATH'] ?? '').split(':'), '/usr/sbin', '/sbin']) {
    const p = join(dir, bin);
    if (dir && existsSync(p)) return p;
  }
  throw new Error(`${bin} not found on PATH: install the Debian package "${debianPackage}" (apt-get install -y ${debianPackage}); .ci/run does this`);
}

async function waitForHttp(url: string, proc: ChildProcess, logs: () => string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`server exited with ${proc.exitCode} before it was ready:\n${logs()}`);
    try {
      const res = await fetch(url);
      if (res.status < 500) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`server not ready at ${url} within ${timeoutMs} ms:\n${logs()}`);
}

export function startProcess(bin: string, args: string[], env?: NodeJS.ProcessEnv): { proc: ChildProcess; logs: () => string } {
  const proc = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env });
  let out = '';
  const keep = (b: Buffer) => {
    out = (out + b.toString()).slice(-8000);
  };
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  return { proc, logs: () => out };
}

export async function stopProcess(proc: ChildProcess, graceMs = 5000): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  proc.kill('SIGTERM');
  const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

// ---------------------------------------------------------------------------------------------

export interface VictoriaMetrics {
  url: string;
  /** The running server's process id (benchmarks read its CPU time). */
  readonly pid: number;
  pause(): Promise<void>;
  start(): Promise<void>;
  /** Raw samples of every series whose name matches the regex, after a forced flush. */
  export(nameRegex: string): Promise<Array<{ metric: Record<string, string>; values: number[]; timestamps: number[] }>>;
  metric(name: string): Promise<number>;
  stop(): Promise<void>;
}

/**
 * VictoriaMetrics accepts the InfluxDB 2.x write API (/api/v2/write) that the official client
 * uses. It answers 204 even for malformed lines, so tests also check vm_rows_invalid_total.
 */
export async function startVictoriaMetrics(opts: { port?: number } = {}): Promise<VictoriaMetrics> {
  return opts.port !== undefined ? startVictoriaMetricsOn(opts.port) : onFreshPorts(async () => startVictoriaMetricsOn(await freePort()));
}

async function startVictoriaMetricsOn(port: number): Promise<VictoriaMetrics> {
  const bin = requireBinary('victoria-metrics', 'victoria-metrics');
  const dir = tempDir('vm');

  const url = `http://127.0.0.1:${port}`;
  const launch = async () => {
    const p = startProcess(bin, [
      `-storageDataPath=${dir.path}`,
      `-httpListenAddr=127.0.0.1:${port}`,
      '-retentionPeriod=100y',
      '-search.disableCache',
      '-loggerLevel=WARN',
    ]);
    await waitForHttp(`${url}/health`, p.proc, p.logs);
    return p.proc;
  };
  let proc = await launchOrRemove(dir, launch);
  // metric() is polled every 100 ms by the ingest benchmark: a kept-alive node:http request costs
  // the polling process about a quarter of what fetch() does (benchmarks/README.md).
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  return {
    /**
     * Stop the server (data kept); `start()` brings it back on the same port and data. A graceful
     * stop: VictoriaMetrics answers 204 before rows reach the disk and keeps the newest in memory,
     * so a SIGKILL (stopProcess' fallback after 5 s, reached on a busy machine) loses acknowledged
     * rows — its durability, not the writer's.
     */
    async pause() {
      await fetch(`${url}/internal/force_flush`).catch(() => undefined);
      await stopProcess(proc, 60_000);
    },
    async start() {
      proc = await launch();
    },
    url,
    get pid() {
      return proc.pid!;
    },
    async export(nameRegex) {
      await fetch(`${url}/internal/force_flush`);
      const body = new URLSearchParams({ 'match[]': `{__name__=~"${nameRegex}"}`, start: '0' });
      const res = await fetch(`${url}/api/v1/export`, { method: 'POST', body });
      const text = await res.text();
      return text
        .split('\n')
        .filter((l) => l.trim())
        .map((l) => JSON.parse(l) as { metric: Record<string, string>; values: number[]; timestamps: number[] });
    },
    async metric(name) {
      // A kept-alive socket may have been closed by a restart (pause/start): one retry, on a new one.
      const text = await getText(`${url}/metrics`, agent).catch(() => getText(`${url}/metrics`, agent));
      return sumOfMetric(text, name);
    },
    async stop() {
      agent.destroy();
      await stopProcess(proc);
      dir.remove();
    },
  };
}

/** GET a URL's body as text (latin1: Prometheus metric names and numbers are ASCII). */
function getText(url: string, agent: http.Agent): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => (res.statusCode === 200 ? resolve(Buffer.concat(chunks).toString('latin1')) : reject(new Error(`GET ${url}: HTTP ${res.statusCode}`))));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

/** The sum of a metric's samples (all label sets) in Prometheus text format. */
export function sumOfMetric(text: string, name: string): number {
  let sum = 0;
  for (let at = text.indexOf(name); at >= 0; at = text.indexOf(name, at + name.length)) {
    const next = text.charCodeAt(at + name.length);
    if ((at > 0 && text.charCodeAt(at - 1) !== 10) || (next !== 123 && next !== 32)) continue; // a line of this name: `name{` or `name `
    const end = text.indexOf('\n', at);
    const line = text.slice(at, end < 0 ? undefined : end);
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

// ---------------------------------------------------------------------------------------------

export interface InfluxDB1 {
  url: string;
  query(db: string, q: string): Promise<unknown>;
  write(db: string, body: string, precision?: string): Promise<Response>;
  stop(): Promise<void>;
}

/**
 * Real InfluxDB 1.x (Debian influxdb 1.6): no /api/v2/write, but the same line-protocol parser
 * as InfluxDB, so bodies POSTed to /write and read back with InfluxQL prove our escaping.
 */
export function startInfluxDB1(): Promise<InfluxDB1> {
  return onFreshPorts(startInfluxDB1Once);
}

async function startInfluxDB1Once(): Promise<InfluxDB1> {
  const bin = requireBinary('influxd', 'influxdb');
  const dir = tempDir('influx1');
  const [httpPort, rpcPort] = [await freePort(), await freePort()];
  const conf = join(dir.path, 'influxdb.conf');
  writeFileSync(
    conf,
    `reporting-disabled = true
bind-address = "127.0.0.1:${rpcPort}"
[meta]
  dir = "${dir.path}/meta"
[data]
  dir = "${dir.path}/data"
  wal-dir = "${dir.path}/wal"
  query-log-enabled = false
[http]
  bind-address = "127.0.0.1:${httpPort}"
  log-enabled = false
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
`,
  );
  const { proc, logs } = startProcess(bin, ['run', '-config', conf]);
  const url = `http://127.0.0.1:${httpPort}`;
  try {
    await waitForHttp(`${url}/ping`, proc, logs);
  } catch (err) {
    dir.remove();
    throw err;
  }
  const query = async (db: string, q: string) => {
    const res = await fetch(`${url}/query?${new URLSearchParams({ db, q, epoch: 'ms' })}`, { method: 'POST' });
    return res.json();
  };
  return {
    url,
    query,
    write: (db, body, precision = 'ms') => fetch(`${url}/write?${new URLSearchParams({ db, precision })}`, { method: 'POST', body }),
    async stop() {
      await stopProcess(proc);
      dir.remove();
    },
  };
}

// ---------------------------------------------------------------------------------------------

export async function waitForTcp(port: number, proc: ChildProcess, logs: () => string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`server exited with ${proc.exitCode} before it was ready:\n${logs()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = netConnect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`nothing listening on ${port} within ${timeoutMs} ms:\n${logs()}`);
}

export interface Mosquitto {
  url: string;
  port: number;
  pid: number;
  stop(): Promise<void>;
}

/**
 * A real Mosquitto (Debian package): with password authentication and an ACL file, or anonymous
 * (`users` omitted) as a plain reference broker for benchmarks.
 */
export function startMosquitto(opts: { users?: Record<string, string>; acl?: string; extra?: string[] } = {}): Promise<Mosquitto> {
  return onFreshPorts(() => startMosquittoOnce(opts));
}

async function startMosquittoOnce(opts: { users?: Record<string, string>; acl?: string; extra?: string[] }): Promise<Mosquitto> {
  const bin = requireBinary('mosquitto', 'mosquitto');
  const dir = tempDir('mosquitto');
  const port = await freePort();
  let auth: string[] = ['allow_anonymous true'];
  if (opts.users) {
    const passwd = requireBinary('mosquitto_passwd', 'mosquitto');
    const pwFile = join(dir.path, 'passwd');
    writeFileSync(pwFile, Object.entries(opts.users).map(([u, p]) => `${u}:${p}`).join('\n') + '\n', { mode: 0o600 });
    execFileSync(passwd, ['-U', pwFile]); // hash the plaintext file in place
    writeFileSync(join(dir.path, 'acl'), opts.acl ?? '');
    auth = ['allow_anonymous false', `password_file ${pwFile}`, `acl_file ${join(dir.path, 'acl')}`];
  }
  const conf = join(dir.path, 'mosquitto.conf');
  writeFileSync(
    conf,
    [
      // Started as root, Mosquitto drops to user "mosquitto", who cannot read our 0700 temp dir.
      ...(process.getuid?.() === 0 ? ['user root'] : []),
      `listener ${port} 127.0.0.1`,
      ...auth,
      'persistence false',
      'log_dest stderr',
      'log_type error',
      'log_type warning',
      ...(opts.extra ?? []),
    ].join('\n') + '\n',
  );
  const { proc, logs } = startProcess(bin, ['-c', conf]);
  await waitForTcp(port, proc, logs);
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    pid: proc.pid!,
    async stop() {
      await stopProcess(proc);
      dir.remove();
    },
  };
}

export interface RedisServer {
  url: string;
  /** Stop the server (SIGTERM: with `durable`, it writes its append-only file first): connections fail until `startServer`. */
  stopServer(): Promise<void>;
  /** Start it again on the same port and data. */
  startServer(): Promise<void>;
  stop(): Promise<void>;
}

/** A real Redis (Debian redis-server) on a free port; `durable`: an append-only file, as docker-compose's, so a restart keeps the data. */
export function startRedis(opts: { durable?: boolean } = {}): Promise<RedisServer> {
  return onFreshPorts(() => startRedisOnce(opts));
}

async function startRedisOnce(opts: { durable?: boolean }): Promise<RedisServer> {
  const bin = requireBinary('redis-server', 'redis-server');
  const dir = tempDir('redis');
  const port = await freePort();
  const launch = async () => {
    const p = startProcess(bin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', opts.durable ? 'yes' : 'no', '--dir', dir.path]);
    await waitForTcp(port, p.proc, p.logs);
    return p.proc;
  };
  let proc = await launch();
  return {
    url: `redis://127.0.0.1:${port}`,
    stopServer: () => stopProcess(proc),
    async startServer() {
      proc = await launch();
    },
    async stop() {
      await stopProcess(proc);
      dir.remove();
    },
  };
}
