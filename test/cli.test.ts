/**
 * The CLI as a user meets it: --help everywhere, clear configuration errors, and the README's
 * quick start with real processes (police-receiver, up, sim) in a fresh directory.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, tempDir } from './helpers/servers.ts';
import { eventually, smallCity } from './helpers/stack.ts';
import { saveRegistry } from '../config/registry.ts';
import { signNotice } from '../contracts/notice.ts';
import Database from 'better-sqlite3';

const BIN = fileURLToPath(new URL('../bin/floodgate.js', import.meta.url));
const ROOT = fileURLToPath(new URL('..', import.meta.url));

interface Proc {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<number | null>;
}

function run(args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): Proc {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: opts.cwd,
    env: { ...process.env, FLOODGATE_LOG_LEVEL: 'warn', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  // 'close', not 'exit': 'exit' can come before the last of stdout and stderr has been read (on a
  // busy machine the output asserted on after the exit was found missing).
  const exit = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  return { child, stdout: () => out, stderr: () => err, exit };
}

describe('floodgate CLI', () => {
  it.each(['up', 'gateway', 'ingest', 'rules', 'alerts', 'sl651', 'sim', 'police-receiver', 'provision', 'devices', 'mosquitto-acl', 'backtest', 'users'])('floodgate %s --help', async (cmd) => {
    const p = run([cmd, '--help']);
    expect(await p.exit).toBe(0);
    expect(p.stdout()).toContain(`floodgate ${cmd}`);
  });

  it('lists every command on --help', async () => {
    const p = run(['--help']);
    expect(await p.exit).toBe(0);
    for (const cmd of ['up', 'gateway', 'ingest', 'rules', 'alerts', 'sl651', 'sim', 'police-receiver']) expect(p.stdout()).toContain(`  ${cmd} `);
  });

  it('floodgate gateway on an empty data directory says to provision it, with the stable code', async () => {
    const dir = tempDir('empty-gateway');
    try {
      const p = run(['gateway'], { env: { FLOODGATE_DATA_DIR: dir.path, FLOODGATE_MQTT_HOST: '127.0.0.1', FLOODGATE_MQTT_PORT: '0' } });
      expect(await p.exit).toBe(1);
      expect(p.stderr()).toContain('REGISTRY_INVALID');
      expect(p.stderr()).toContain(`floodgate provision --data-dir ${dir.path}`);
      // floodgate sl651 without its port says which variable to set.
      const s = run(['sl651'], { env: { FLOODGATE_DATA_DIR: dir.path } });
      expect(await s.exit).toBe(1);
      expect(s.stderr()).toContain('FLOODGATE_SL651_PORT');
    } finally {
      dir.remove();
    }
  });

  it('floodgate backtest replays the shipped storm and scores it against its labels', async () => {
    const p = run(['backtest', '--input', 'examples/backtest/storm-2026-07-01.ndjson', '--labels', 'examples/backtest/storm-2026-07-01.labels.yaml'], { cwd: ROOT });
    expect(await p.exit).toBe(0);
    const out = p.stdout();
    expect(out).toMatch(/firing +underpass-closure +UP-001/);
    expect(out).toMatch(/underpass-closure +hits +4 +misses +0 +false alarms +0/);
    expect(out).toMatch(/water-level-warning +hits +1 +misses +0 +false alarms +0/);
    // The car parked under UP-006's sensor is flagged and alerted as data quality, never a closure.
    expect(out).toMatch(/firing +sensor-data-quality +PD-006/);
    expect(out).not.toMatch(/underpass-closure +UP-006/);
    const bad = run(['backtest', '--input', 'nope.ndjson'], { cwd: ROOT });
    expect(await bad.exit).toBe(1);
    expect(bad.stderr()).toContain('nope.ndjson');
  });

  it('floodgate backtest on a recording from elsewhere: CSV named .txt, local New York times, unknown sensors, labels with a dry period', async () => {
    const dir = tempDir('backtest-cli');
    try {
      // Two ponding sensors of another city, one reading a minute, local time without an offset.
      const depths = [2, 4, 12, 27, 31, 34, 33, 30, 24, 15, 8, 4, 2, 2, 2, 2];
      const rows = depths.flatMap((d, m) => [`nyc_17,2023-06-14 14:${String(20 + m).padStart(2, '0')}:05.250000,${d}`, `nyc_18,2023-06-14 14:${String(20 + m).padStart(2, '0')}:40,${Math.min(d, 5)}`]);
      writeFileSync(join(dir.path, 'nyc.txt'), `sensor,ts,value\n${rows.join('\n')}\n`);
      writeFileSync(
        join(dir.path, 'labels.yaml'),
        [
          'earlyToleranceS: 600',
          'events:',
          '  - { rule: underpass-closure, subject: auto-nyc_17, start: "2023-06-14T14:23:00-04:00", end: "2023-06-14T14:28:00-04:00" }',
          '  - { rule: underpass-closure, subject: auto-nyc_18, start: "2023-06-14T14:00:00-04:00", end: "2023-06-14T15:00:00-04:00", flood: false }',
          '',
        ].join('\n'),
      );
      const p = run(['backtest', '--input', join(dir.path, 'nyc.txt'), '--tz', 'America/New_York', '--auto-register', '--labels', join(dir.path, 'labels.yaml')], { cwd: ROOT });
      expect(await p.exit, p.stderr()).toBe(0);
      const out = p.stdout();
      // The score comes first, one line per rule; times print in the recording's zone.
      expect(out.split('\n')[0]).toMatch(/^underpass-closure +hits +1 +misses +0 +false alarms +0 +lead/);
      expect(out).toMatch(/32 readings replayed \(csv; 0 lines skipped/);
      expect(out).toMatch(/2023-06-14T14:2\d:\d\d\.\d{3}-04:00 +firing +underpass-closure +auto-nyc_17/);
      expect(out).not.toMatch(/sensor-offline/);
      expect(p.stderr()).toMatch(/auto-registered 2 sensor\(s\)/);

      // Without the zone, every line is refused by kind and the command fails.
      const bad = run(['backtest', '--input', join(dir.path, 'nyc.txt'), '--auto-register'], { cwd: ROOT });
      expect(await bad.exit).toBe(1);
      expect(bad.stderr()).toMatch(/32 × time, first at line 2: time "2023-06-14 14:20:05.250000" has no UTC offset/);
      expect(bad.stderr()).toMatch(/BACKTEST_INPUT: nothing replayed/);
    } finally {
      dir.remove();
    }
  });

  it('floodgate users adds a user with a token shown once, stores only its hash, lists and removes', async () => {
    const dir = tempDir('users-cli');
    try {
      const add = run(['users', 'add', 'wang', '--role', 'officer', '--data-dir', dir.path]);
      expect(await add.exit).toBe(0);
      const token = /token (\S+)/.exec(add.stdout())![1]!;
      expect(readFileSync(join(dir.path, 'api-users.json'), 'utf8')).not.toContain(token);
      expect((statSync(join(dir.path, 'api-users.json')).mode & 0o777).toString(8)).toBe('600');
      const list = run(['users', 'list', '--data-dir', dir.path]);
      expect(await list.exit).toBe(0);
      expect(list.stdout()).toBe('wang\tofficer\n');
      const bad = run(['users', 'add', 'li', '--role', 'boss', '--data-dir', dir.path]);
      expect(await bad.exit).toBe(2); // a usage error, like an unknown option
      expect(bad.stderr()).toContain('--role: must be one of viewer, officer, admin');
      expect(await run(['users', 'remove', 'wang', '--data-dir', dir.path]).exit).toBe(0);
      const after = run(['users', 'list', '--data-dir', dir.path]);
      await after.exit;
      expect(after.stdout()).toBe('');
    } finally {
      dir.remove();
    }
  });

  it('exits 2 on an unknown command or option', async () => {
    const a = run(['fly']);
    expect(await a.exit).toBe(2);
    expect(a.stderr()).toContain('unknown command "fly"');
    const b = run(['sim', '--scenari', 'x']);
    expect(await b.exit).toBe(2);
    expect(b.stderr()).toContain("Unknown option '--scenari'");
    // Flags are parsed by their command's schema: every wrong one named at once, before anything runs.
    const c = run(['police-receiver', '--port', '70000', '--tolerance', 'soon', '--path', 'notices']);
    expect(await c.exit).toBe(2);
    expect(c.stderr()).toMatch(/--port: must be 0\.\.65535[\s\S]*--path: must start with \/[\s\S]*--tolerance: /);
    const d = run(['sim', 'load', '--sensors', '2.5', '--rate', '0']);
    expect(await d.exit).toBe(2);
    expect(d.stderr()).toMatch(/--sensors: must be an integer[\s\S]*--rate: must be readings per second above 0/);
    // A secret on the command line is visible to every user in ps: refused, with what to do instead.
    const e = run(['police-receiver', '--secret', 'hunter2-hunter2']);
    expect(await e.exit).toBe(2);
    expect(e.stderr()).toContain('--secret: would show the secret to every user of this machine in ps: use --secret-file PATH');
  });

  it('police-receiver reads its secret from --secret-file and verifies notices signed with it', async () => {
    const dir = tempDir('cli-receiver');
    const port = await freePort();
    writeFileSync(join(dir.path, 'police.key'), 'from-a-file-0123456789\n', { mode: 0o600 });
    const r = run(['police-receiver', '--port', String(port), '--secret-file', join(dir.path, 'police.key'), '--data-dir', dir.path], { env: { FLOODGATE_LOG_LEVEL: 'info' } });
    try {
      await eventually(() => r.stderr().includes('police receiver listening'), `the receiver listening\n${r.stderr()}`, 30_000);
      const post = (secret: string) => {
        const body = JSON.stringify({ noticeId: 'n1', action: 'close', underpass: { id: 'UP-001', name: 'x', road: 'y', district: 'd', lat: 31, lon: 121 }, depthCm: 30, thresholdCm: 25, observedAt: '2026-07-01T18:00:00+08:00', issuedAt: '2026-07-01T18:00:01+08:00', alertId: 'a1', reason: 'r', sequence: 1, epoch: 0 });
        const ts = Math.floor(Date.now() / 1000);
        return fetch(`http://127.0.0.1:${port}/notices`, { method: 'POST', body, headers: { 'content-type': 'application/json', 'idempotency-key': 'n1', 'x-floodgate-timestamp': String(ts), 'x-floodgate-signature': signNotice(secret, ts, body) } });
      };
      expect((await post('from-a-file-0123456789')).status).toBe(200);
      expect((await post('some-other-secret')).status).toBe(401);
      expect(r.stdout().match(/"noticeId":"n1"/g)).toHaveLength(1); // only the verified notice is printed
    } finally {
      r.child.kill('SIGTERM');
      await r.exit;
      dir.remove();
    }
  });

  it('reports every configuration problem at once and exits 1', async () => {
    const p = run(['up'], { env: { FLOODGATE_MQTT_PORT: '99999', FLOODGATE_HTTP_PORT: 'http', INFLUX_URL: 'http://influx:8086', FLOODGATE_DATABASE_URL: 'mysql://db/floodgate' } });
    expect(await p.exit).toBe(1);
    const err = p.stderr();
    expect(err).toContain('CONFIG_INVALID');
    expect(err).toContain('FLOODGATE_MQTT_PORT');
    expect(err).toContain('FLOODGATE_HTTP_PORT');
    expect(err).toMatch(/INFLUX_TOKEN: required when INFLUX_URL is set/);
    expect(err).toMatch(/FLOODGATE_DATABASE_URL: must be a postgres:\/\/ URL/);
  });
});

describe('standalone services (docker-compose): /healthz and /metrics', () => {
  it('floodgate gateway and floodgate ingest serve them on FLOODGATE_METRICS_PORT, metrics and rejects behind the token', { timeout: 60_000 }, async () => {
    const dir = tempDir('standalone');
    const city = await smallCity(1);
    saveRegistry(`${dir.path}/registry.json`, city.registry);
    const [mqttPort, gwOps, ingOps] = [await freePort(), await freePort(), await freePort()];
    const token = 'standalone-token-0123456789';
    const common = {
      FLOODGATE_DATA_DIR: dir.path,
      FLOODGATE_SERVICE_SECRET: city.provisioning.serviceSecret,
      FLOODGATE_API_TOKEN: token,
      FLOODGATE_HTTP_HOST: '127.0.0.1',
    };
    const gw = run(['gateway'], { env: { ...common, FLOODGATE_MQTT_HOST: '127.0.0.1', FLOODGATE_MQTT_PORT: String(mqttPort), FLOODGATE_METRICS_PORT: String(gwOps) } });
    const ing = run(['ingest'], { env: { ...common, FLOODGATE_MQTT_URL: `mqtt://127.0.0.1:${mqttPort}`, FLOODGATE_METRICS_PORT: String(ingOps) } });
    try {
      const get = (port: number, path: string, auth = false) =>
        fetch(`http://127.0.0.1:${port}${path}`, auth ? { headers: { authorization: `Bearer ${token}` } } : {}).then(async (r) => ({ status: r.status, body: await r.text() }));
      await eventually(async () => (await get(ingOps, '/healthz').catch(() => ({ status: 0 }))).status === 200, `ingest /healthz\n${ing.stderr()}${gw.stderr()}`, 40_000);
      expect((await get(gwOps, '/healthz')).status).toBe(200);
      expect((await get(gwOps, '/metrics')).status).toBe(401);
      expect((await get(gwOps, '/metrics', true)).body).toContain('floodgate_gateway_limit{limit="maxPacketBytes"} 65536');
      expect((await get(ingOps, '/metrics', true)).body).toContain('floodgate_ingest_spool_rows');
      expect((await get(ingOps, '/api/rejects')).status).toBe(401);
      expect(JSON.parse((await get(ingOps, '/api/rejects', true)).body)).toEqual({ rejects: [] });
    } finally {
      gw.child.kill('SIGTERM');
      ing.child.kill('SIGTERM');
      expect(await ing.exit).toBe(0);
      expect(await gw.exit).toBe(0);
      dir.remove();
    }
  });
});

describe('README quick start: police-receiver, up, sim', () => {
  const dir = tempDir('cli');
  const procs: Proc[] = [];
  afterAll(async () => {
    for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL');
    dir.remove();
  });

  it('ends with a close and a reopen printed by the receiver and listed as delivered', { timeout: 420_000 }, async () => {
    const [mqttPort, httpPort, policePort] = [await freePort(), await freePort(), await freePort()];
    const env = {
      FLOODGATE_MQTT_PORT: String(mqttPort),
      FLOODGATE_HTTP_PORT: String(httpPort),
      FLOODGATE_POLICE_URL: `http://127.0.0.1:${policePort}/notices`,
      // Scenarios replayed at --speed 3000 send a storm-cadence sensor's minute every 20 ms.
      FLOODGATE_DEVICE_RATE: '100',
    };
    const typo = { FLOODGATE_RULE_FILE: 'config/rules.yaml' }; // FLOODGATE_RULES_FILE, misspelt
    const receiver = run(['police-receiver', '--port', String(policePort)], { cwd: dir.path });
    procs.push(receiver);
    const up = run(['up'], { cwd: dir.path, env: { ...env, ...typo } });
    procs.push(up);
    // First start provisions 1,207 device secrets before the services listen.
    await eventually(() => up.stdout().includes('Ctrl-C stops.'), `floodgate up to start\n${up.stderr()}`, 180_000);
    expect(up.stdout()).toContain('1207 sensors');
    // stderr and stdout are two pipes: the warning, written first, may be read after the banner.
    await eventually(() => up.stderr().includes('floodgate: warning: FLOODGATE_RULE_FILE is not a floodgate variable and is ignored'), `the warning about FLOODGATE_RULE_FILE on stderr\n${up.stderr()}`, 30_000);
    expect(up.stderr()).not.toMatch(/warning: FLOODGATE_(MQTT_PORT|HTTP_PORT|POLICE_URL|DEVICE_RATE|LOG_LEVEL) /);

    // A second floodgate on the same data directory, or on the same ports: one line that says what to change.
    const second = run(['up'], { cwd: dir.path, env });
    expect(await second.exit).toBe(1);
    expect(second.stderr()).toMatch(/^floodgate: DATA_DIR_LOCKED: another floodgate \(pid \d+\) is using the data directory .*FLOODGATE_DATA_DIR\n$/);
    const serviceSecret = (JSON.parse(readFileSync(`${dir.path}/data/provisioning.json`, 'utf8')) as { serviceSecret: string }).serviceSecret;
    const samePorts = run(['up'], { cwd: dir.path, env: { ...env, FLOODGATE_DATA_DIR: join(dir.path, 'other'), FLOODGATE_REGISTRY: `${dir.path}/data/registry.json`, FLOODGATE_SERVICE_SECRET: serviceSecret } });
    expect(await samePorts.exit).toBe(1);
    expect(samePorts.stderr()).toContain(`floodgate: PORT_IN_USE: port ${mqttPort} is already in use`);
    expect(samePorts.stderr()).toContain('FLOODGATE_MQTT_PORT');
    expect(samePorts.stderr()).not.toContain('    at ');

    // sim finds `up` through the same FLOODGATE_MQTT_PORT (no --url).
    const sim = run(['sim', '--scenario', 'underpass-storm', '--sensors', '2', '--step-ms', '20'], { cwd: dir.path, env: { FLOODGATE_MQTT_PORT: String(mqttPort) } });
    expect(await sim.exit, sim.stderr()).toBe(0);
    expect(sim.stdout().trim().split('\n')).toHaveLength(1);
    expect(sim.stdout()).toMatch(/^underpass-storm: 2 sensors .* 180 readings acknowledged .* 2\/2 crossed 25 cm\n$/);

    const lines = await eventually(() => {
      const l = receiver.stdout().trim().split('\n').filter(Boolean);
      return l.length >= 4 ? l : undefined;
    }, 'the receiver to print 4 notices');
    const printed = lines.map((l) => JSON.parse(l) as { action: string; signature: string; underpass: { id: string } });
    for (const id of ['UP-001', 'UP-002']) {
      expect(printed.filter((p) => p.underpass.id === id).map((p) => p.action)).toEqual(['close', 'reopen']);
    }
    expect(printed.every((p) => p.signature === 'valid')).toBe(true);

    const token = readFileSync(`${dir.path}/data/api.token`, 'utf8').trim();
    const res = await fetch(`http://127.0.0.1:${httpPort}/api/notices?status=delivered`, { headers: { authorization: `Bearer ${token}` } });
    const { notices } = (await res.json()) as { notices: Array<{ action: string; subjectId: string }> };
    expect(notices.map((n) => `${n.subjectId}:${n.action}`).sort()).toEqual(['UP-001:close', 'UP-001:reopen', 'UP-002:close', 'UP-002:reopen']);

    // Every scenario file's expectations hold against this running system (its own districts each).
    // (The whole-city thunderstorm runs on a fresh system below: it shares every district.)
    for (const scenario of ['pump-failure', 'district-storm', 'typhoon-surge', 'underpass-storm', 'sensor-faults']) {
      const run1 = run(['sim', '--scenario', scenario, '--speed', '3000', '--expect', '--wait', '300', '--url', `mqtt://127.0.0.1:${mqttPort}`, '--api', `http://127.0.0.1:${httpPort}`], { cwd: dir.path });
      expect(await run1.exit, `${scenario}: ${run1.stderr()}`).toBe(0);
      expect(run1.stdout()).toContain(`${scenario}: every expectation met`);
      expect(run1.stderr()).not.toContain('warning'); // no scenario reuses another's sensors
    }
    // The sensor-faults scenario's broken payloads were refused with a reason, its wrong logins too.
    const rejects = (await (await fetch(`http://127.0.0.1:${httpPort}/api/rejects?limit=1000`, { headers: { authorization: `Bearer ${token}` } })).json()) as { rejects: Array<{ sensor: string }> };
    expect(new Set(rejects.rejects.map((r) => r.sensor))).toEqual(new Set(['PD-071', 'PD-072']));
    // And a mismatch is a non-zero exit that says what did not happen.
    writeFileSync(join(dir.path, 'wrong.yaml'), readFileSync(join(ROOT, 'simulators/scenarios/pump-failure.yaml'), 'utf8').replace('closed: [UP-020]', 'closed: [UP-020, UP-022]'));
    const wrong = run(['sim', '--scenario', join(dir.path, 'wrong.yaml'), '--speed', '3000', '--expect', '--wait', '3', '--url', `mqtt://127.0.0.1:${mqttPort}`, '--api', `http://127.0.0.1:${httpPort}`], { cwd: dir.path });
    expect(await wrong.exit).toBe(1);
    expect(wrong.stderr()).toContain('UP-022 did not close');

    // Both stop cleanly on SIGTERM (what docker stop and Ctrl-C send).
    up.child.kill('SIGTERM');
    receiver.child.kill('SIGTERM');
    expect(await up.exit).toBe(0);
    expect(await receiver.exit).toBe(0);
    // No secret ever reaches the logs.
    const provisioning = JSON.parse(readFileSync(`${dir.path}/data/provisioning.json`, 'utf8')) as { sensors: Record<string, string>; serviceSecret: string };
    const logs = up.stdout() + up.stderr() + receiver.stderr() + sim.stderr();
    for (const secret of [token, provisioning.serviceSecret, provisioning.sensors['PD-001']!]) expect(logs).not.toContain(secret);
  });
});

describe('a whole city in a storm, and a load test, on a fresh system', () => {
  const dir = tempDir('cli-city');
  const procs: Proc[] = [];
  afterAll(async () => {
    for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL');
    dir.remove();
  });

  it('thunderstorm (1,207 devices at --speed 240) meets its expectations; load devices added while running are stored, never alerted', { timeout: 900_000 }, async () => {
    const [mqttPort, httpPort, policePort] = [await freePort(), await freePort(), await freePort()];
    const env = { FLOODGATE_MQTT_PORT: String(mqttPort), FLOODGATE_HTTP_PORT: String(httpPort), FLOODGATE_POLICE_URL: `http://127.0.0.1:${policePort}/notices`, FLOODGATE_DEVICE_RATE: '100' };
    const receiver = run(['police-receiver', '--port', String(policePort)], { cwd: dir.path });
    procs.push(receiver);
    const up = run(['up'], { cwd: dir.path, env });
    procs.push(up);
    await eventually(() => up.stdout().includes('Ctrl-C stops.'), `floodgate up to start\n${up.stderr()}`, 60_000);
    const at = ['--url', `mqtt://127.0.0.1:${mqttPort}`, '--api', `http://127.0.0.1:${httpPort}`];

    // On a busy machine `up` may fall minutes behind the simulator: the expectations are polled
    // until met, so a generous --wait costs nothing when the machine is fast.
    const storm = run(['sim', '--scenario', 'thunderstorm', '--speed', '240', '--expect', '--wait', '480', ...at], { cwd: dir.path });
    // If it fails, what `up` said last (it runs the system the storm goes to).
    expect(await storm.exit, `${storm.stderr()}\nfloodgate up (exit ${up.child.exitCode}): ${up.stderr().slice(-3000)}`).toBe(0);
    expect(storm.stdout()).toMatch(/^thunderstorm: \d+ readings in \d+ messages from 1207 sensors acknowledged/);
    expect(storm.stdout()).toContain('thunderstorm: every expectation met');

    // Load-test devices provisioned into the running system: gateway, ingest and rules pick the
    // registry change up (alerts too: a failure there would crash `up`); the readings are stored; the
    // rules raise nothing for them.
    const prov = run(['provision', '--load-devices', '200'], { cwd: dir.path });
    expect(await prov.exit, prov.stderr()).toBe(0);
    expect(prov.stdout()).toContain('load-test devices: 200 added, 200 in the registry');
    await new Promise((r) => setTimeout(r, 2500)); // the registry watchers poll every second
    const load = run(['sim', 'load', '--sensors', '200', '--rate', '500', '--duration', '3s', '--json', '--record', join(dir.path, 'load.ndjson'), '--url', `mqtt://127.0.0.1:${mqttPort}`], { cwd: dir.path });
    expect(await load.exit, load.stderr()).toBe(0);
    const report = JSON.parse(load.stdout()) as { connected: number; sent: number; acked: number; errors: number };
    expect(report).toMatchObject({ connected: 200, errors: 0 });
    expect(report.acked).toBe(report.sent);
    expect(load.stderr()).toMatch(/sending \d+ s: 200 connected, \d+ sent, \d+ acked, 0 errors/); // the progress line
    expect(readFileSync(join(dir.path, 'load.ndjson'), 'utf8').trim().split('\n')).toHaveLength(report.sent);
    const token = readFileSync(`${dir.path}/data/api.token`, 'utf8').trim();
    const store = new Database(join(dir.path, 'data/readings.db'), { readonly: true });
    try {
      await eventually(() => (store.prepare("SELECT count(*) AS n FROM readings WHERE sensor LIKE 'LD-%'").get() as { n: number }).n === report.sent, `all ${report.sent} load readings in the store`);
    } finally {
      store.close();
    }
    const alerts = (await (await fetch(`http://127.0.0.1:${httpPort}/api/alerts?limit=1000`, { headers: { authorization: `Bearer ${token}` } })).json()) as { alerts: Array<{ sensorId: string }> };
    expect(alerts.alerts.filter((a) => a.sensorId.startsWith('LD-'))).toEqual([]);

    up.child.kill('SIGTERM');
    receiver.child.kill('SIGTERM');
    expect(await up.exit).toBe(0);
    await receiver.exit;
  });
});
