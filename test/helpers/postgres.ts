/**
 * A real PostgreSQL (the Debian package's server binaries) for integration tests: a fresh cluster
 * (initdb) in a temp dir, started on a free port, stopped and removed after. It can be stopped
 * and started again on the same port and data (an outage). initdb refuses to run as root: as root
 * the cluster belongs to the `postgres` user the package creates.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import pg from 'pg';
import { freePort, onFreshPorts, tempDir, waitForTcp } from './servers.ts';

export interface Postgres {
  /** postgres://… of the `floodgate` database (the superuser, trust auth on 127.0.0.1 only). */
  url: string;
  port: number;
  /** Stop the server (fast shutdown): connections fail until `start`. */
  stopServer(): Promise<void>;
  /** Start it again on the same port and data. */
  startServer(): Promise<void>;
  stop(): Promise<void>;
}

/** The server binaries of the newest installed major version (/usr/lib/postgresql/<v>/bin). */
function binDir(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a)) : [];
  if (versions.length === 0) throw new Error('PostgreSQL server not found (/usr/lib/postgresql/*/bin/initdb): install the Debian package "postgresql" (apt-get install -y postgresql); .ci/run does this');
  return join(root, versions[0]!, 'bin');
}

const asRoot = process.getuid?.() === 0;
/** The cluster's owner: as root, the package's `postgres` user (initdb refuses root). */
const owner = (): { uid: number; gid: number } | Record<string, never> =>
  asRoot ? { uid: Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim()), gid: Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim()) } : {};

/** Fast shutdown (SIGINT: active sessions are ended, unlike SIGTERM's wait for them), then SIGKILL. */
async function shutDown(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  proc.kill('SIGINT');
  const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

/**
 * The server listens before it accepts sessions ("the database system is starting up" while it
 * recovers or checkpoints): ask until it does, on a busy machine for up to a minute.
 */
async function createDatabase(bin: string, port: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      execFileSync(join(bin, 'psql'), ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-d', 'postgres', '-v', 'ON_ERROR_STOP=1', '-c', 'CREATE DATABASE floodgate'], { stdio: 'pipe' });
      return;
    } catch (err) {
      const stderr = String((err as { stderr?: Buffer }).stderr ?? '');
      if (!/starting up/.test(stderr) || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** `durable`: keep PostgreSQL's defaults (fsync on, synchronous commit), for benchmarks; tests turn them off. */
export async function startPostgres(opts: { durable?: boolean } = {}): Promise<Postgres> {
  const bin = binDir();
  const dir = tempDir('pg');
  const data = join(dir.path, 'data');
  const who = owner();
  if ('uid' in who) {
    chmodSync(dir.path, 0o755);
    chownSync(dir.path, who.uid, who.gid);
  }
  execFileSync(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync'], { stdio: 'pipe', ...who });
  if (!opts.durable) writeFileSync(join(data, 'postgresql.auto.conf'), 'fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n', { flag: 'a' });
  let proc: ChildProcess | undefined;
  let port = 0;
  const launch = async (p: number) => {
    const server = spawn(join(bin, 'postgres'), ['-D', data, '-p', String(p), '-k', dir.path, '-c', 'listen_addresses=127.0.0.1'], { stdio: ['ignore', 'pipe', 'pipe'], ...who });
    let out = '';
    const keep = (b: Buffer) => void (out = (out + b.toString()).slice(-8000));
    server.stdout.on('data', keep);
    server.stderr.on('data', keep);
    try {
      await waitForTcp(p, server, () => out, 60_000);
    } catch (err) {
      await shutDown(server);
      throw err;
    }
    proc = server;
  };
  try {
    port = await onFreshPorts(async () => {
      const p = await freePort();
      await launch(p);
      return p;
    });
    await createDatabase(bin, port);
  } catch (err) {
    if (proc) await shutDown(proc);
    dir.remove();
    throw err;
  }
  return {
    url: `postgres://postgres@127.0.0.1:${port}/floodgate`,
    port,
    async stopServer() {
      if (proc) await shutDown(proc);
      proc = undefined;
    },
    async startServer() {
      if (!proc) await launch(port);
    },
    async stop() {
      if (proc) await shutDown(proc);
      dir.remove();
    },
  };
}

/**
 * A PostgreSQL for a whole test file: started before its tests, with a pool on its `floodgate`
 * database, both stopped after. The pool hears the errors of connections the server's shutdown
 * reaches after `pool.end()` (an idle pooled client reports them as the pool's 'error').
 */
export function usePostgres(poolMax = 4): { server(): Postgres; pool(): pg.Pool } {
  let server: Postgres | undefined;
  let pool: pg.Pool | undefined;
  beforeAll(async () => {
    server = await startPostgres();
    pool = new pg.Pool({ connectionString: server.url, max: poolMax });
    pool.on('error', () => undefined);
  });
  afterAll(async () => {
    await pool?.end();
    await server?.stop();
  });
  return { server: () => server!, pool: () => pool! };
}

/**
 * Who holds `role`'s lease by its time (the instance id, without the per-process suffix the
 * services add) and at which epoch; undefined when no one does. A holder that died may still be
 * shown until a standby takes over (lib/pg-lease.ts).
 */
export async function leaseHolder(db: Pick<pg.ClientBase, 'query'>, role: string): Promise<{ holder: string; epoch: number } | undefined> {
  const r = await db.query<{ holder: string; epoch: string }>('SELECT holder, epoch FROM leases WHERE role = $1 AND expires_at > clock_timestamp()', [role]);
  const row = r.rows[0];
  return row ? { holder: row.holder.split('~')[0]!, epoch: Number(row.epoch) } : undefined;
}
