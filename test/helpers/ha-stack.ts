/**
 * The high-availability deployment as separate processes on one machine (docs/ha.md; the compose
 * profile `ha` as tests and benchmarks run it): a real PostgreSQL 15, Redis and VictoriaMetrics,
 * HAProxy in front of two `floodgate gateway` sharing Redis, two each of `ingest`, `rules` and
 * `alerts` on PostgreSQL, a police receiver. The "-1" instance of each role is started first, so it
 * leads; then the standbys. Every instance's log is kept (restarts included) and its `active`
 * lines (the moment it took over) are read from it.
 */
import pg from 'pg';
import { join } from 'node:path';
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import { ensureProvisioned, loadProvisioning, loadRegistry, type Provisioning, type Registry } from '../../config/registry.ts';
import { provisionLoadDevices } from '../../config/devices.ts';
import { createPoliceReceiver, type ReceiverHandle } from '../../alerts/receiver/police-receiver.ts';
import { systemClock } from '../../lib/clock.ts';
import type { Logger } from '../../lib/logger.ts';
import { freePort, startProcess, startRedis, startVictoriaMetrics, stopProcess, tempDir, waitForTcp, type RedisServer, type VictoriaMetrics } from './servers.ts';
import { leaseHolder, startPostgres, type Postgres } from './postgres.ts';
import { startHaproxy, type Haproxy } from './haproxy.ts';
import { eventually } from './stack.ts';

const BIN = fileURLToPath(new URL('../../bin/floodgate.js', import.meta.url));
export const LEASED = ['ingest', 'rules', 'alerts'] as const;
export type LeasedRole = (typeof LEASED)[number];
export type Role = LeasedRole | 'gateway';

export interface Instance {
  name: string;
  role: Role;
  proc: ChildProcess;
  logs: string[];
  /** This instance's `active` log lines: when it took over (ms), with its epoch. */
  active: Array<{ at: number; epoch: number }>;
  /** When it took its role's lease (its log's `took the lease: active`). */
  leaseTaken: number[];
}

export interface HaStack {
  db: Postgres;
  redis: RedisServer;
  vm: VictoriaMetrics;
  lb: Haproxy;
  police: ReceiverHandle;
  registry: Registry;
  provisioning: Provisioning;
  instances: Map<string, Instance>;
  /** Every log line of every instance, in arrival order. */
  allLogs: string[];
  /** The alerts instances' HTTP ports. */
  httpPorts: Map<string, number>;
  /** Start (or start again) an instance, `<role>-<n>`. */
  start(name: string): Instance;
  kill(name: string, signal?: NodeJS.Signals): Promise<void>;
  /** The instance (its configured id) that holds `role`'s lease now, by the database. */
  holder(role: LeasedRole): Promise<string | undefined>;
  /** The first `active` line of `role` at or after `t` (ms), on any instance. */
  activeAfter(role: Role, t: number): number | undefined;
  /** The first time at or after `t` an instance of `role` took its lease (before its active part started). */
  leaseTakenAfter(role: Role, t: number): number | undefined;
  /** Writes each instance's log to `dir/<name>.log`. */
  keepLogs(dir: string): void;
  stop(): Promise<void>;
}

export async function startHaStack(o: { name: string; policeSecret: string; apiToken: string; logger: Logger; loadDevices?: number; env?: Record<string, string>; logLevel?: string; durablePostgres?: boolean }): Promise<HaStack> {
  const dir = tempDir(o.name);
  const [db, redis, vm] = await Promise.all([startPostgres({ durable: o.durablePostgres ?? false }), startRedis(), startVictoriaMetrics()]);
  const police = await createPoliceReceiver({ host: '127.0.0.1', port: 0, secret: o.policeSecret, toleranceS: 600, path: '/notices' }, { clock: systemClock, logger: o.logger, print: () => {} });
  const { files } = await ensureProvisioned(dir.path);
  if (o.loadDevices) provisionLoadDevices(dir.path, o.loadDevices);
  const registry = loadRegistry(files.registry);
  const provisioning = loadProvisioning(files.provisioning);
  const gatewayPorts = [await freePort(), await freePort()];
  const httpPorts = new Map([['alerts-1', await freePort()], ['alerts-2', await freePort()]]);
  const lb = await startHaproxy(gatewayPorts);
  const instances = new Map<string, Instance>();
  /** The first of an instance's moments of `role` at or after `t`. */
  const firstAfter = (role: Role, t: number, moments: (i: Instance) => number[]) =>
    [...instances.values()]
      .filter((i) => i.role === role)
      .flatMap(moments)
      .filter((at) => at >= t)
      .sort((a, b) => a - b)[0];
  const allLogs: string[] = [];

  const env = (name: string, role: Role): NodeJS.ProcessEnv => ({
    ...process.env,
    FLOODGATE_LOG_LEVEL: o.logLevel ?? 'info',
    FLOODGATE_DATA_DIR: join(dir.path, name),
    FLOODGATE_REGISTRY: files.registry,
    FLOODGATE_SERVICE_SECRET: provisioning.serviceSecret,
    FLOODGATE_INSTANCE_ID: name,
    FLOODGATE_MQTT_URL: lb.url,
    FLOODGATE_DATABASE_URL: db.url,
    FLOODGATE_BROKER_PERSISTENCE: redis.url,
    FLOODGATE_BROKER_MQ: redis.url,
    FLOODGATE_POLICE_URL: police.url,
    FLOODGATE_POLICE_SECRET: o.policeSecret,
    FLOODGATE_API_TOKEN: o.apiToken,
    INFLUX_URL: vm.url,
    INFLUX_TOKEN: 'vm-token-not-checked',
    INFLUX_ORG: 'floodgate',
    INFLUX_BUCKET: 'floodgate',
    ...o.env,
    ...(role === 'gateway' ? { FLOODGATE_MQTT_PORT: String(gatewayPorts[Number(name.slice(-1)) - 1]) } : {}),
    ...(role === 'alerts' ? { FLOODGATE_HTTP_PORT: String(httpPorts.get(name)) } : {}),
  });

  function start(name: string): Instance {
    const role = name.slice(0, name.lastIndexOf('-')) as Role;
    const p = startProcess(process.execPath, [BIN, role], env(name, role));
    // A restarted instance keeps its earlier lines: its log tells the whole run.
    const before = instances.get(name);
    const inst: Instance = { name, role, proc: p.proc, logs: before?.logs ?? [], active: before?.active ?? [], leaseTaken: before?.leaseTaken ?? [] };
    if (before) inst.logs.push(`--- ${name} started again`);
    for (const stream of [p.proc.stdout!, p.proc.stderr!])
      stream.on('data', (b: Buffer) => {
        for (const line of b.toString().split('\n')) {
          if (!line) continue;
          inst.logs.push(line);
          allLogs.push(line);
          if (line.includes('"msg":"active"')) {
            const j = JSON.parse(line) as { time: number; epoch: number };
            inst.active.push({ at: j.time, epoch: j.epoch });
          }
          if (line.includes('"msg":"took the lease: active"')) inst.leaseTaken.push((JSON.parse(line) as { time: number }).time);
        }
      });
    instances.set(name, inst);
    return inst;
  }

  // One connection for the test's questions; it reopens after the database's outages.
  const admin = new pg.Pool({ connectionString: db.url, max: 1 });
  admin.on('error', () => undefined);
  const holder = async (role: LeasedRole): Promise<string | undefined> => (await leaseHolder(admin, role))?.holder;

  const stack: HaStack = {
    db,
    redis,
    vm,
    lb,
    police,
    registry,
    provisioning,
    instances,
    allLogs,
    httpPorts,
    start,
    holder,
    async kill(name, signal = 'SIGKILL') {
      const i = instances.get(name)!;
      if (i.proc.exitCode !== null || i.proc.signalCode !== null) return;
      const gone = new Promise((r) => i.proc.once('exit', r));
      i.proc.kill(signal);
      await gone;
    },
    activeAfter: (role, t) => firstAfter(role, t, (i) => i.active.map((a) => a.at)),
    leaseTakenAfter: (role, t) => firstAfter(role, t, (i) => i.leaseTaken),
    keepLogs(to) {
      mkdirSync(to, { recursive: true });
      for (const i of instances.values()) writeFileSync(join(to, `${i.name}.log`), i.logs.join('\n'));
    },
    async stop() {
      for (const i of instances.values()) {
        i.proc.kill('SIGCONT');
        await stopProcess(i.proc);
      }
      await lb.stop();
      await police.close();
      await admin.end().catch(() => undefined);
      await Promise.all([vm.stop(), redis.stop(), db.stop()]);
      dir.remove();
    },
  };
  try {
    for (const n of ['gateway-1', 'gateway-2']) {
      const g = start(n);
      await waitForTcp(gatewayPorts[Number(n.slice(-1)) - 1]!, g.proc, () => g.logs.join('\n'), 60_000);
    }
    for (const role of LEASED) start(`${role}-1`);
    for (const role of LEASED) {
      const first = instances.get(`${role}-1`)!;
      await eventually(async () => (await holder(role)) === `${role}-1` && first.active.length > 0, `${role}-1 active`, 120_000).catch((err: Error) => {
        throw new Error(`${err.message}\n${first.logs.slice(-20).join('\n')}`);
      });
    }
    for (const role of LEASED) start(`${role}-2`);
    const standby = instances.get('alerts-2')!;
    await waitForTcp(httpPorts.get('alerts-2')!, standby.proc, () => standby.logs.join('\n'), 60_000);
  } catch (err) {
    await stack.stop();
    throw err;
  }
  return stack;
}
