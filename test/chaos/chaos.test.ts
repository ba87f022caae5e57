/**
 * Chaos during a storm: the whole system as deployed — `floodgate gateway` (LevelDB sessions),
 * `ingest` (into a real VictoriaMetrics), `rules` and `alerts` as separate processes, a police
 * endpoint — while the whole-city thunderstorm runs through 1,207 real devices. At seeded random
 * moments every service is killed with SIGKILL and started again, VictoriaMetrics is stopped for a
 * while, and the police endpoint fails for a while. Afterwards the system is compared with the
 * simulator's own record of what it sent, by the counts of ./compare.ts (readings lost and
 * duplicated, notices missing, duplicated and out of order), all of which must be zero.
 *
 * Also checked over the whole run: no secret or token appears in any log line of any service.
 *
 *   npm test             the short version (speed 240: 30 s of storm, outages of 8 s)
 *   npm run test:chaos   at length (CHAOS_SPEED=60: 2 minutes of storm, outages of a minute, every
 *                        service killed twice); CHAOS_SEED picks other moments
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import { ensureProvisioned, loadProvisioning, loadRegistry, type Provisioning, type Registry } from '../../config/registry.ts';
import { createPoliceReceiver, type ReceiverHandle } from '../../alerts/receiver/police-receiver.ts';
import { loadScenario } from '../../simulators/scenario.ts';
import { runScenario } from '../../simulators/run-scenario.ts';
import { systemClock } from '../../lib/clock.ts';
import { prng } from '../../lib/prng.ts';
import { freePort, startProcess, startVictoriaMetrics, stopProcess, tempDir, waitForTcp, type VictoriaMetrics } from '../helpers/servers.ts';
import { eventually, testLogger } from '../helpers/stack.ts';
import { compareNotices, compareReadings, countLines, expectedNotices, explainMissing, sentReadings } from './compare.ts';
import { runFaults, type FaultStep } from './faults.ts';

const BIN = fileURLToPath(new URL('../../bin/floodgate.js', import.meta.url));
const LONG = process.env['CHAOS_LONG'] === '1';
const SPEED = Number(process.env['CHAOS_SPEED'] ?? (LONG ? 60 : 240));
const OUTAGE_S = Number(process.env['CHAOS_OUTAGE_S'] ?? (LONG ? 60 : 8));
const SEED = Number(process.env['CHAOS_SEED'] ?? 20261128);
const SERVICES = ['gateway', 'ingest', 'rules', 'alerts'] as const;
type Service = (typeof SERVICES)[number];
const POLICE_SECRET = 'chaos-police-secret-0123456789';
const API_TOKEN = 'chaos-api-token-0123456789abcdef';

interface Running {
  proc: ChildProcess;
  logs: string[];
}

describe('chaos during a city-wide storm', { timeout: LONG ? 1_200_000 : 400_000 }, () => {
  let dir: { path: string; remove(): void };
  let vm: VictoriaMetrics;
  let police: ReceiverHandle;
  let registry: Registry;
  let provisioning: Provisioning;
  let mqttPort: number;
  let httpPort: number;
  const running = new Map<Service, Running>();
  /** Every log line of every service over the whole run, for the secrets scan. */
  let allLogs: string[] = [];

  const env = (): NodeJS.ProcessEnv => ({
    ...process.env,
    FLOODGATE_LOG_LEVEL: 'info',
    FLOODGATE_DATA_DIR: dir.path,
    FLOODGATE_MQTT_URL: `mqtt://127.0.0.1:${mqttPort}`,
    FLOODGATE_MQTT_PORT: String(mqttPort),
    FLOODGATE_HTTP_PORT: String(httpPort),
    FLOODGATE_BROKER_PERSISTENCE: `level:${join(dir.path, 'broker')}`,
    FLOODGATE_DEVICE_RATE: '200',
    FLOODGATE_RULES_TICK_S: '1',
    FLOODGATE_OUTBOX_POLL_MS: '200',
    FLOODGATE_POLICE_URL: police.url,
    FLOODGATE_POLICE_SECRET: POLICE_SECRET,
    FLOODGATE_API_TOKEN: API_TOKEN,
    INFLUX_URL: vm.url,
    INFLUX_TOKEN: 'vm-token-not-checked',
    INFLUX_ORG: 'floodgate',
    INFLUX_BUCKET: 'floodgate',
  });

  async function start(s: Service): Promise<void> {
    const p = startProcess(process.execPath, [BIN, s], env());
    const r: Running = { proc: p.proc, logs: [] };
    for (const stream of [p.proc.stdout!, p.proc.stderr!]) stream.on('data', (b: Buffer) => {
      for (const line of b.toString().split('\n')) if (line) {
        r.logs.push(line);
        allLogs.push(line);
      }
    });
    running.set(s, r);
    if (s === 'gateway') await waitForTcp(mqttPort, p.proc, () => r.logs.join('\n'), 30_000);
    else if (s === 'alerts') await waitForTcp(httpPort, p.proc, () => r.logs.join('\n'), 30_000);
    else await eventually(() => r.logs.some((l) => l.includes(`${s} running`)), `${s} to start\n${r.logs.join('\n')}`, 30_000);
  }

  async function kill(s: Service): Promise<void> {
    const r = running.get(s)!;
    if (r.proc.exitCode !== null || r.proc.signalCode !== null) return;
    const gone = new Promise((res) => r.proc.once('exit', res));
    r.proc.kill('SIGKILL');
    await gone;
  }

  // Each attempt on a fresh system: new data dir, servers and ports.
  beforeEach(async () => {
    dir = tempDir('chaos');
    running.clear();
    allLogs = [];
    vm = await startVictoriaMetrics();
    police = await createPoliceReceiver({ host: '127.0.0.1', port: 0, secret: POLICE_SECRET, toleranceS: 600, path: '/notices' }, { clock: systemClock, logger: testLogger, print: () => {} });
    const { files } = await ensureProvisioned(dir.path);
    registry = loadRegistry(files.registry);
    provisioning = loadProvisioning(files.provisioning);
    [mqttPort, httpPort] = [await freePort(), await freePort()];
    for (const s of SERVICES) await start(s);
  });

  afterEach(async () => {
    for (const r of running.values()) await stopProcess(r.proc);
    await police?.close();
    await vm?.stop();
    dir?.remove();
  });

  // Retried once, from scratch (new servers, new data, the same seed; both reports are printed),
  // as a guard for CI on a shared machine: before the rules saved per-message snapshots, seed 7
  // lost the alert events of a rules SIGKILL in 3 runs of 4 (a few notices never delivered).
  it('loses nothing, duplicates nothing, delivers every notice once and in order', { retry: LONG ? 0 : 1 }, async () => {
    const scenario = loadScenario('thunderstorm');
    const stormWallS = (scenario.durationMin * 60) / SPEED;
    const rand = prng(SEED);
    const at = (from: number, to: number) => (from + rand() * (to - from)) * stormWallS * 1000;
    // The faults, at seeded moments within the storm (each service killed once, twice at length).
    const plan: FaultStep[] = [];
    for (let round = 0; round < (LONG ? 2 : 1); round++) {
      for (const s of SERVICES) {
        plan.push({
          atMs: at(0.1 + round * 0.4, 0.45 + round * 0.4),
          what: `SIGKILL ${s}`,
          act: async () => {
            await kill(s);
            await new Promise((r) => setTimeout(r, 500 + rand() * 1500));
            await start(s);
          },
        });
      }
    }
    plan.push({ atMs: at(0.15, 0.4), what: `VictoriaMetrics stopped for ${OUTAGE_S} s`, act: async () => {
      await vm.pause();
      await new Promise((r) => setTimeout(r, OUTAGE_S * 1000));
      await vm.start();
    } });
    plan.push({ atMs: at(0.3, 0.6), what: `police endpoint failing (503) for ${OUTAGE_S} s`, act: async () => {
      police.failNext(1_000_000, 503);
      await new Promise((r) => setTimeout(r, OUTAGE_S * 1000));
      police.failNext(0, 503);
    } });
    if (process.env['CHAOS_FAULTS'] === '0') plan.length = 0; // the same run without faults, for comparison

    // Faults run one after another on their own timeline while the storm is sent.
    const log: string[] = [];
    const chaos = runFaults(plan, log);
    const sent: string[] = [];
    const run = await runScenario(scenario, { mqttUrl: `mqtt://127.0.0.1:${mqttPort}`, speed: SPEED }, { registry, provisioning, clock: systemClock, record: (l) => sent.push(l) });
    await chaos;

    const sentR = sentReadings(sent);
    // What VictoriaMetrics holds, once ingest has drained (its spool held the outage).
    const r = await compareReadings(vm, sentR, LONG ? 300_000 : 120_000);
    const n = await compareNotices(police, expectedNotices(sentR.readings, registry), LONG ? 300_000 : 150_000);
    const why = await explainMissing(`http://127.0.0.1:${httpPort}`, API_TOKEN, n.missing);

    const secrets = [API_TOKEN, POLICE_SECRET, provisioning.serviceSecret, ...Object.values(provisioning.sensors)];
    const leaking = allLogs.filter((l) => secrets.some((s) => l.includes(s)));

    const report = [
      `chaos (${LONG ? 'long' : 'short'}; seed ${SEED}; thunderstorm at --speed ${SPEED}: ${run.sensors} devices, ${run.messages} messages, ${(run.wallMs / 1000).toFixed(0)} s):`,
      ...log.map((l) => `  ${l}`),
      ...countLines(sentR, r, n),
      ...why,
      `  police re-deliveries of a notice id (answered as duplicates): ${n.redeliveries}`,
      `  log lines scanned for ${secrets.length} secrets: ${allLogs.length}, leaking: ${leaking.length}`,
    ];
    process.stdout.write(report.join('\n') + '\n');
    expect({ lost: r.lost.slice(0, 5), duplicated: r.duplicated.slice(0, 5) }).toEqual({ lost: [], duplicated: [] });
    expect({ missing: n.missing.slice(0, 5), duplicated: n.duplicated.slice(0, 5), outOfOrder: n.outOfOrder.slice(0, 5) }).toEqual({ missing: [], duplicated: [], outOfOrder: [] });
    expect(leaking.slice(0, 3)).toEqual([]);
    expect(n.want.length).toBeGreaterThan(100); // the storm closed roads: the comparison means something
    expect(log).toHaveLength(plan.length);
  });
});
