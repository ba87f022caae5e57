/**
 * Chaos during a storm: the whole system as deployed — `floodgate gateway` (LevelDB sessions),
 * `ingest` (into a real VictoriaMetrics), `rules` and `alerts` as separate processes, a police
 * endpoint — while the whole-city thunderstorm runs through 1,207 real devices. At seeded random
 * moments every service is killed with SIGKILL and started again, VictoriaMetrics is stopped for a
 * while, and the police endpoint fails for a while. Afterwards the system is compared with the
 * simulator's own record of what it sent:
 *
 *   readings lost        sent (valid) but not in VictoriaMetrics
 *   readings duplicated  points in VictoriaMetrics that were never sent, or sent once and stored
 *                        with two values
 *   notices missing / duplicated / out of order   against the closures and reopenings the rules
 *                        engine raises on the same readings offline (rules/backtest.ts)
 *
 * All must be zero. Raw rewrites (the same point written twice after an ingest kill between a
 * store write and its spool removal — InfluxDB overwrites them, VictoriaMetrics keeps both) and
 * police re-deliveries of the same notice id (answered as duplicates by the endpoint) are counted
 * and printed, not failures: both are the at-least-once delivery DESIGN.md promises, made
 * idempotent by the point key and the Idempotency-Key.
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
import { MAIN_FIELD, MEASUREMENT, parseReadingPayload, parseSensorTopic, type Reading } from '../../contracts/index.ts';
import { createPoliceReceiver, type ReceiverHandle } from '../../alerts/receiver/police-receiver.ts';
import { loadRules, DEFAULT_RULES_PATH } from '../../rules/load.ts';
import { engineContext } from '../../rules/context.ts';
import { replay } from '../../rules/backtest.ts';
import { loadScenario } from '../../simulators/scenario.ts';
import { runScenario } from '../../simulators/run-scenario.ts';
import { systemClock } from '../../lib/clock.ts';
import { prng } from '../../lib/prng.ts';
import { freePort, startProcess, startVictoriaMetrics, stopProcess, tempDir, waitForTcp, type VictoriaMetrics } from '../helpers/servers.ts';
import { eventually, testLogger } from '../helpers/stack.ts';

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
    const plan: Array<{ atMs: number; what: string; act: () => Promise<void> }> = [];
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
    plan.sort((a, b) => a.atMs - b.atMs);
    if (process.env['CHAOS_FAULTS'] === '0') plan.length = 0; // the same run without faults, for comparison

    // Faults run one after another on their own timeline while the storm is sent.
    const log: string[] = [];
    const t0 = Date.now();
    const chaos = (async () => {
      for (const step of plan) {
        const wait = step.atMs - (Date.now() - t0);
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        log.push(`${((Date.now() - t0) / 1000).toFixed(1)} s: ${step.what}`);
        await step.act();
      }
    })();
    const sent: string[] = [];
    const run = await runScenario(scenario, { mqttUrl: `mqtt://127.0.0.1:${mqttPort}`, speed: SPEED }, { registry, provisioning, clock: systemClock, record: (l) => sent.push(l) });
    await chaos;

    // What the simulator sent, by series point (sensor, ts) → value.
    const expected = new Map<string, number>();
    const readings: Reading[] = [];
    for (const line of sent) {
      const { topic, payload } = JSON.parse(line) as { topic: string; payload: string };
      const t = parseSensorTopic(topic)!;
      for (const r of parseReadingPayload(t.kind, t.sensorId, payload).readings) {
        readings.push(r);
        expected.set(`${MEASUREMENT[r.kind]}_${MAIN_FIELD[r.kind].field}|${r.sensorId}|${r.ts}`, r.fields[MAIN_FIELD[r.kind].field]!);
      }
    }

    // What VictoriaMetrics holds, once ingest has drained (its spool held the outage).
    const names = Object.entries(MEASUREMENT).map(([kind, m]) => `${m}_${MAIN_FIELD[kind as keyof typeof MAIN_FIELD].field}`);
    let stored = new Map<string, number[]>();
    const collect = async () => {
      stored = new Map();
      for (const series of await vm.export(names.join('|'))) {
        const name = series.metric['__name__']!;
        series.timestamps.forEach((ts, i) => {
          const k = `${name}|${series.metric['sensor']}|${ts}`;
          stored.set(k, [...(stored.get(k) ?? []), series.values[i]!]);
        });
      }
      return stored;
    };
    await eventually(
      async () => {
        await collect();
        return [...expected.keys()].every((k) => stored.has(k));
      },
      'every sent reading in VictoriaMetrics',
      LONG ? 300_000 : 120_000,
    ).catch(() => undefined); // the counts below say what is missing
    await collect();
    const lost = [...expected.keys()].filter((k) => !stored.has(k));
    const extra = [...stored.keys()].filter((k) => !expected.has(k));
    const conflicting = [...stored.entries()].filter(([k, vs]) => expected.has(k) && vs.some((v) => Math.abs(v - expected.get(k)!) > 1e-9));
    const rewrites = [...stored.values()].reduce((n, vs) => n + vs.length - 1, 0);

    // The closures and reopenings the engine raises on exactly these readings, offline.
    const ctx = engineContext(registry, loadRules(DEFAULT_RULES_PATH, registry.sites));
    const want = replay(readings, ctx)
      .transitions.filter((t) => t.ruleId === 'underpass-closure')
      .map((t) => `${t.alertId}:${t.state === 'firing' ? 'close' : 'reopen'}`);
    const wantSet = new Set(want);
    const delivered = () => police.received.filter((n) => !n.duplicate).map((n) => n.notice.noticeId);
    await eventually(() => want.every((id) => delivered().includes(id)), `all ${want.length} notices delivered (have ${delivered().length})`, LONG ? 300_000 : 150_000).catch(() => undefined);
    const got = delivered();
    const missing = want.filter((id) => !got.includes(id));
    const unexpected = got.filter((id) => !wantSet.has(id));
    // Per underpass, the notices must arrive in the order the transitions happened.
    const orderOf = (ids: string[]) => {
      const by = new Map<string, string[]>();
      for (const id of ids) {
        const site = id.split(':')[1]!;
        by.set(site, [...(by.get(site) ?? []), id]);
      }
      return by;
    };
    const wantOrder = orderOf(want);
    const outOfOrder = [...orderOf(got.filter((id) => wantSet.has(id))).entries()].filter(([site, ids]) => ids.join() !== (wantOrder.get(site) ?? []).slice(0, ids.length).join()).map(([site]) => site);
    const redeliveries = police.received.filter((n) => n.duplicate).length;
    // What the alerts service says of each missing notice (status, attempts, last error): a
    // failed run explains itself.
    const why: string[] = [];
    if (missing.length > 0) {
      const res = await fetch(`http://127.0.0.1:${httpPort}/api/notices?limit=1000`, { headers: { authorization: `Bearer ${API_TOKEN}` } }).catch(() => undefined);
      const known = res?.ok ? ((await res.json()) as { notices: Array<{ noticeId: string; status: string; attempts: number; lastError: string | null; nextAttemptAt: string }> }).notices : [];
      for (const id of missing.slice(0, 10)) {
        const n = known.find((x) => x.noticeId === id);
        why.push(`    ${id}: ${n ? `${n.status}, ${n.attempts} attempts, next ${n.nextAttemptAt}, last error ${n.lastError ?? '-'}` : 'unknown to the alerts service'}`);
      }
    }

    const secrets = [API_TOKEN, POLICE_SECRET, provisioning.serviceSecret, ...Object.values(provisioning.sensors)];
    const leaking = allLogs.filter((l) => secrets.some((s) => l.includes(s)));

    const report = [
      `chaos (${LONG ? 'long' : 'short'}; seed ${SEED}; thunderstorm at --speed ${SPEED}: ${run.sensors} devices, ${run.messages} messages, ${(run.wallMs / 1000).toFixed(0)} s):`,
      ...log.map((l) => `  ${l}`),
      `  readings sent ${expected.size}, stored ${[...expected.keys()].filter((k) => stored.has(k)).length}`,
      `  readings lost: ${lost.length}`,
      `  readings duplicated: ${extra.length + conflicting.length}`,
      `  raw rewrites kept by VictoriaMetrics (same point twice; InfluxDB overwrites): ${rewrites}`,
      `  notices expected ${want.length} (closures and reopenings), delivered ${got.length}`,
      `  notices missing: ${missing.length}`,
      `  notices duplicated: ${unexpected.length + (got.length - new Set(got).size)}`,
      `  notices out of order: ${outOfOrder.length}`,
      ...why,
      `  police re-deliveries of a notice id (answered as duplicates): ${redeliveries}`,
      `  log lines scanned for ${secrets.length} secrets: ${allLogs.length}, leaking: ${leaking.length}`,
    ];
    process.stdout.write(report.join('\n') + '\n');
    expect({ lost: lost.slice(0, 5), duplicated: [...extra, ...conflicting.map(([k]) => k)].slice(0, 5) }).toEqual({ lost: [], duplicated: [] });
    expect({ missing: missing.slice(0, 5), unexpected: unexpected.slice(0, 5), outOfOrder: outOfOrder.slice(0, 5) }).toEqual({ missing: [], unexpected: [], outOfOrder: [] });
    expect(got.length).toBe(new Set(got).size);
    expect(leaking.slice(0, 3)).toEqual([]);
    expect(want.length).toBeGreaterThan(100); // the storm closed roads: the comparison means something
    expect(log).toHaveLength(plan.length);
  });
});
