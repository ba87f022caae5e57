/**
 * `floodgate <command>`: dispatch and --help. Each command's options are parsed strictly, so a
 * typo is an error, not a silently ignored flag.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { fail, print, closeOnSignal } from './process.ts';
import { createLogger } from '../lib/logger.ts';
import { systemClock } from '../lib/clock.ts';
import { readOrCreateSecretFile } from '../lib/secret-file.ts';
import { dataFiles, ensureProvisioned, loadProvisioning, loadRegistry } from '../config/registry.ts';

interface Command {
  summary: string;
  usage: string;
  options: NonNullable<ParseArgsConfig['options']>;
  /** Positional arguments allowed (subcommands). */
  positionals?: boolean;
  run(values: Record<string, string | boolean | undefined>, positionals: string[]): Promise<void>;
}

const ENV_NOTE = 'Configuration comes from FLOODGATE_* environment variables (see README, "Configuration").';

const service = (name: string, what: string, load: () => Promise<{ main(): Promise<void> }>): Command => ({
  summary: what,
  usage: `floodgate ${name}\n\n${what}\n${ENV_NOTE}`,
  options: {},
  run: async () => (await load()).main(),
});

const commands: Record<string, Command> = {
  up: {
    summary: 'run every service in one process on embedded defaults',
    usage: `floodgate up

Runs gateway, ingest, rules and alerts in one process. Without INFLUX_URL readings go to an
embedded store under FLOODGATE_DATA_DIR (default ./data). On first start the bundled demo city
(config/demo-city.json) is provisioned there: registry.json (secret hashes) and provisioning.json
(device secrets for simulators). ${ENV_NOTE}`,
    options: {},
    run: async () => (await import('./up.ts')).up(),
  },
  gateway: service('gateway', 'run the MQTT gateway (aedes): device auth, ACL', () => import('../gateway/main.ts')),
  ingest: service('ingest', 'run ingest: readings from MQTT into InfluxDB or the embedded store', () => import('../ingest/main.ts')),
  rules: service('rules', 'run the rules engine: ponding readings into underpass closure alerts', () => import('../rules/main.ts')),
  alerts: service('alerts', 'run the alerts service: alert store, HTTP API, signed police notices', () => import('../alerts/main.ts')),
  provision: {
    summary: 'provision the demo city into the data dir (registry + device secrets)',
    usage: `floodgate provision [--data-dir DIR]

Writes DIR/registry.json (salted hashes only) and DIR/provisioning.json (device secrets,
mode 0600) from config/demo-city.json. Existing files are kept. docker-compose runs this once.`,
    options: { 'data-dir': { type: 'string' } },
    async run(v) {
      const dir = (v['data-dir'] as string | undefined) ?? process.env['FLOODGATE_DATA_DIR'] ?? './data';
      const { files, created } = await ensureProvisioned(dir);
      print(created ? `provisioned ${files.registry} and ${files.provisioning}` : `already provisioned: ${files.registry}`);
    },
  },
  devices: {
    summary: 'add, rotate, revoke and list devices in the registry',
    usage: `floodgate devices <add|rotate|revoke|list> [options]

  floodgate devices add ID --kind KIND --site SITE   a new device; its secret is printed once
  floodgate devices rotate ID [--grace-s S]           a new secret; the old one stays valid S seconds (default 86400)
  floodgate devices revoke ID                         refused at once; a connected device is disconnected
  floodgate devices list [--kind KIND] [--json]

Only a salted hash of a secret is stored. A running gateway picks up the change within a
second (a broken registry file is refused and the previous one stays in force).

Options:
  --registry PATH   default $FLOODGATE_REGISTRY or DATA_DIR/registry.json
  --data-dir DIR    default $FLOODGATE_DATA_DIR or ./data`,
    positionals: true,
    options: {
      kind: { type: 'string' },
      site: { type: 'string' },
      'grace-s': { type: 'string', default: '86400' },
      json: { type: 'boolean', default: false },
      registry: { type: 'string' },
      'data-dir': { type: 'string' },
    },
    async run(v, positionals) {
      const { addDevice, rotateDevice, revokeDevice, deviceState } = await import('../config/devices.ts');
      const { hashSecret, newSecret, saveRegistry } = await import('../config/registry.ts');
      const { SENSOR_KINDS } = await import('../contracts/index.ts');
      const dir = (v['data-dir'] as string | undefined) ?? process.env['FLOODGATE_DATA_DIR'] ?? './data';
      const path = (v['registry'] as string | undefined) ?? process.env['FLOODGATE_REGISTRY'] ?? dataFiles(dir).registry;
      const [action, id, ...extra] = positionals;
      if (extra.length > 0) throw new Error(`unexpected arguments: ${extra.join(' ')}`);
      const registry = loadRegistry(path);
      const needId = () => {
        if (!id) throw new Error(`floodgate devices ${action} needs a device id`);
        return id;
      };
      const showSecret = (sensorId: string, secret: string) => {
        print(`${sensorId}: new secret (shown once; only its hash is stored):`);
        print(secret);
      };
      if (action === 'list') {
        const kind = v['kind'] as string | undefined;
        const rows = registry.sensors.filter((s) => !kind || s.kind === kind);
        const now = Date.now();
        if (v['json']) print(JSON.stringify(rows.map(({ secretHash: _h, previousSecretHash: _p, ...s }) => ({ ...s, state: deviceState(s, now) }))));
        else for (const s of rows) print(`${s.id.padEnd(10)} ${s.kind.padEnd(12)} ${s.site.padEnd(10)} ${deviceState(s, now)}`);
        return;
      }
      if (action === 'add') {
        const kind = v['kind'] as string | undefined;
        const site = v['site'] as string | undefined;
        if (!kind || !(SENSOR_KINDS as readonly string[]).includes(kind)) throw new Error(`--kind must be one of ${SENSOR_KINDS.join(', ')}`);
        if (!site) throw new Error('--site is required');
        const secret = newSecret();
        saveRegistry(path, addDevice(registry, { id: needId(), kind: kind as (typeof SENSOR_KINDS)[number], site }, await hashSecret(secret)));
        return showSecret(needId(), secret);
      }
      if (action === 'rotate') {
        const grace = Number(v['grace-s']);
        if (!Number.isInteger(grace) || grace < 0) throw new Error('--grace-s must be a whole number of seconds');
        const secret = newSecret();
        saveRegistry(path, rotateDevice(registry, needId(), await hashSecret(secret), Date.now(), grace));
        showSecret(needId(), secret);
        if (grace > 0) print(`the previous secret stays valid for ${grace} s`);
        return;
      }
      if (action === 'revoke') {
        saveRegistry(path, revokeDevice(registry, needId()));
        print(`${needId()}: revoked`);
        return;
      }
      throw new Error(`floodgate devices: unknown action ${JSON.stringify(action ?? '')}; use add, rotate, revoke or list`);
    },
  },
  users: {
    summary: 'add, list and remove console/API users (viewer, officer, admin)',
    usage: `floodgate users <add|list|remove> [options]

  floodgate users add NAME --role viewer|officer|admin   a new token, printed once (replaces NAME's)
  floodgate users list
  floodgate users remove NAME

Roles: viewer reads; officer also acknowledges alerts and resends failed notices; admin does
everything. Only a SHA-256 of each token is stored (DATA_DIR/api-users.json, mode 0600); a
running alerts service picks up the change within a second. The service's own token
(FLOODGATE_API_TOKEN or DATA_DIR/api.token) is an admin.

Options:
  --role R          for add
  --data-dir DIR    default $FLOODGATE_DATA_DIR or ./data`,
    options: { role: { type: 'string' }, 'data-dir': { type: 'string' } },
    positionals: true,
    async run(v, positionals) {
      const { addUser, loadUsers, saveUsers, ROLES } = await import('../alerts/users.ts');
      const dir = (v['data-dir'] as string | undefined) ?? process.env['FLOODGATE_DATA_DIR'] ?? './data';
      const path = join(dir, 'api-users.json');
      const [action, name] = positionals;
      const users = loadUsers(path);
      if (action === 'list') {
        for (const u of users) print(`${u.name}\t${u.role}`);
        return;
      }
      if (!name) throw new Error(`floodgate users ${action ?? ''}: a NAME is required`);
      if (action === 'add') {
        const role = v['role'] as string | undefined;
        if (!role || !(ROLES as readonly string[]).includes(role)) throw new Error(`--role must be one of ${ROLES.join(', ')}`);
        const r = addUser(users, name, role as (typeof ROLES)[number]);
        mkdirSync(dir, { recursive: true });
        saveUsers(path, r.users);
        print(`${name} (${role}): token ${r.token}\nShown once; only its hash is stored in ${path}.`);
        return;
      }
      if (action === 'remove') {
        if (!users.some((u) => u.name === name)) throw new Error(`no user ${name}`);
        saveUsers(path, users.filter((u) => u.name !== name));
        print(`${name}: removed`);
        return;
      }
      throw new Error(`floodgate users: unknown action ${JSON.stringify(action ?? '')}; use add, list or remove`);
    },
  },
  'mosquitto-acl': {
    summary: 'print a Mosquitto acl_file with floodgate\'s access rules',
    usage: `floodgate mosquitto-acl

Prints an acl_file for Mosquitto that mirrors the gateway's rules: each service role gets exactly
its topics, devices (username = client id = sensor id) only their own. See docs/brokers.md.`,
    options: {},
    async run() {
      print((await import('../gateway/mosquitto.ts')).mosquittoAcl());
    },
  },
  sim: {
    summary: 'run a simulator scenario against the gateway, as real devices',
    usage: `floodgate sim --list
       floodgate sim --scenario NAME|FILE.yaml [--speed N] [--expect [--api URL] [--token T]] [options]
       floodgate sim --scenario underpass-storm [--sensors N] [--step-ms MS] [--seed S]
       floodgate sim replay FILE [--speed N] [--no-shift] [--url U] [--data-dir D]

Scenarios are YAML files (simulators/scenarios/, or a path): districts, a Shanghai design storm,
underpasses as reservoirs with pumps (which may fail), what the system should do. They run as
real devices at --speed simulated minutes per wall minute (default 600). With --expect the
run's expectations are checked against the running system's alerts API (default
$FLOODGATE_API_URL or http://127.0.0.1:8080, token $FLOODGATE_API_TOKEN or DATA_DIR/api.token):
exit 1 and a line per mismatch when something expected did not happen (--wait S: how long
to give the system to catch up, default 30).

  underpass-storm   (built in) a handful of underpass ponding sensors through a storm that
                    crosses 25 cm and drains; 90 simulated minutes in about 20 s of wall time

Replay: recorded readings (NDJSON or CSV, as floodgate backtest reads them) sent by each sensor
as itself, paced by simulated time: --speed N simulated minutes per wall minute (default 60).
The recording is shifted to end now (ingest refuses readings older than its maximum age);
--no-shift keeps its timestamps. Example:
  floodgate sim replay examples/backtest/storm-2026-07-01.ndjson --speed 600

Options:
  --scenario NAME   required
  --sensors N       number of underpasses (first N ponding sensors), default 5
  --step-ms MS      wall time per simulated minute, default 200
  --seed N          storm seed, default 1
  --url URL         gateway, default $FLOODGATE_MQTT_URL or mqtt://127.0.0.1:1883
  --data-dir DIR    where registry.json and provisioning.json are, default $FLOODGATE_DATA_DIR or ./data
  --json            print the full summary as JSON instead of one line`,
    options: {
      scenario: { type: 'string' },
      sensors: { type: 'string', default: '5' },
      'step-ms': { type: 'string', default: '200' },
      seed: { type: 'string', default: '1' },
      url: { type: 'string' },
      'data-dir': { type: 'string' },
      json: { type: 'boolean', default: false },
      speed: { type: 'string' },
      'no-shift': { type: 'boolean', default: false },
      list: { type: 'boolean', default: false },
      expect: { type: 'boolean', default: false },
      api: { type: 'string' },
      token: { type: 'string' },
      wait: { type: 'string', default: '30' },
    },
    positionals: true,
    async run(v, positionals) {
      const url = (v['url'] as string | undefined) ?? process.env['FLOODGATE_MQTT_URL'] ?? 'mqtt://127.0.0.1:1883';
      if (positionals[0] === 'replay') {
        const file = positionals[1];
        if (!file) throw new Error('floodgate sim replay FILE: the recording to replay is required');
        const speed = Number(v['speed'] ?? 60);
        if (!(speed > 0 && speed <= 1_000_000)) throw new Error('--speed must be a number above 0 (simulated minutes per wall minute)');
        const { readFileSync } = await import('node:fs');
        const { parseRecording } = await import('../contracts/recording.ts');
        const { replayReadings } = await import('../simulators/replay.ts');
        const files = dataFiles((v['data-dir'] as string | undefined) ?? process.env['FLOODGATE_DATA_DIR'] ?? './data');
        const registry = loadRegistry(files.registry);
        const kinds = new Map(registry.sensors.map((s) => [s.id, s.kind]));
        const { readings, problems } = parseRecording(readFileSync(file, 'utf8'), file.endsWith('.csv') ? 'csv' : 'ndjson', (id) => kinds.get(id));
        for (const p of problems.slice(0, 20)) process.stderr.write(`${file}:${p.line}: ${p.message} (skipped)\n`);
        const r = await replayReadings(readings, { mqttUrl: url, speed, shift: !v['no-shift'] }, { registry, provisioning: loadProvisioning(files.provisioning), clock: systemClock });
        print(v['json'] ? JSON.stringify(r) : `replay: ${r.published} readings from ${r.sensors} sensors acknowledged by the gateway, ${r.simulatedMin} simulated min in ${(r.wallMs / 1000).toFixed(1)} s${r.skipped ? `, ${r.skipped} skipped (no secret)` : ''}${problems.length ? `, ${problems.length} bad lines skipped` : ''}`);
        return;
      }
      if (positionals.length > 0) throw new Error(`floodgate sim: unknown action ${JSON.stringify(positionals[0])}; see floodgate sim --help`);
      const sc = await import('../simulators/scenario.ts');
      if (v['list']) {
        print('underpass-storm  (built in) a handful of underpasses through a storm that crosses 25 cm and drains');
        for (const x of sc.listScenarios()) print(`${x.name.padEnd(16)} ${x.description}`);
        return;
      }
      if (v['scenario'] && v['scenario'] !== 'underpass-storm') {
        const scenario = sc.loadScenario(v['scenario'] as string);
        const speed = Number(v['speed'] ?? 600);
        if (!(speed > 0 && speed <= 1_000_000)) throw new Error('--speed must be a number above 0 (simulated minutes per wall minute)');
        const dataDir = (v['data-dir'] as string | undefined) ?? process.env['FLOODGATE_DATA_DIR'] ?? './data';
        const files = dataFiles(dataDir);
        const { runScenario, checkExpectations } = await import('../simulators/run-scenario.ts');
        const since = Date.now();
        const r = await runScenario(scenario, { mqttUrl: url, speed }, { registry: loadRegistry(files.registry), provisioning: loadProvisioning(files.provisioning), clock: systemClock });
        print(v['json'] ? JSON.stringify(r) : `${r.scenario}: ${r.published} readings from ${r.sensors} sensors acknowledged by the gateway, ${r.simulatedMin} simulated min in ${(r.wallMs / 1000).toFixed(1)} s; peak ponding ${Object.entries(r.peaks).map(([k, p]) => `${k} ${p.toFixed(0)} cm`).join(', ')}`);
        if (!v['expect']) return;
        const { readFileSync, existsSync } = await import('node:fs');
        const tokenFile = join(dataDir, 'api.token');
        const token = (v['token'] as string | undefined) ?? process.env['FLOODGATE_API_TOKEN'] ?? (existsSync(tokenFile) ? readFileSync(tokenFile, 'utf8').trim() : undefined);
        if (!token) throw new Error(`--expect needs the API token: --token, $FLOODGATE_API_TOKEN or ${tokenFile}`);
        const waitS = Number(v['wait']);
        if (!(waitS >= 0 && waitS <= 3600)) throw new Error('--wait must be 0..3600 seconds');
        const problems = await checkExpectations(scenario, { url: (v['api'] as string | undefined) ?? process.env['FLOODGATE_API_URL'] ?? 'http://127.0.0.1:8080', token }, waitS * 1000, since);
        if (problems.length > 0) throw new Error(`${scenario.name}: expectations not met:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
        print(`${scenario.name}: every expectation met (${scenario.expect.closed.length} closures, ${scenario.expect.open.length} left open, ${scenario.expect.alerts.length} alerts)`);
        return;
      }
      if (v['scenario'] !== 'underpass-storm') throw new Error(`--scenario must be underpass-storm (got ${v['scenario'] ?? 'nothing'}); see floodgate sim --help`);
      const int = (name: string, min: number, max: number) => {
        const n = Number(v[name]);
        if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${name} must be an integer in ${min}..${max}`);
        return n;
      };
      const dir = (v['data-dir'] as string | undefined) ?? process.env['FLOODGATE_DATA_DIR'] ?? './data';
      const files = dataFiles(dir);
      const { runUnderpassStorm, summaryLine } = await import('../simulators/underpass-storm.ts');
      const summary = await runUnderpassStorm(
        {
          mqttUrl: url,
          sensors: int('sensors', 1, 500),
          stepMs: int('step-ms', 0, 60_000),
          seed: int('seed', 0, 2 ** 31),
        },
        { registry: loadRegistry(files.registry), provisioning: loadProvisioning(files.provisioning), clock: systemClock, logger: createLogger({ name: 'sim' }) },
      );
      print(v['json'] ? JSON.stringify(summary) : summaryLine(summary));
    },
  },
  backtest: {
    summary: 'replay recorded readings through the rules and score them against labelled events',
    usage: `floodgate backtest --input FILE [--rules FILE] [--labels FILE] [options]

Replays recorded readings through the same engine the rules service runs (sensor time; silent
sensors checked every simulated minute) and prints every alert transition with its time. With
--labels (what really happened), reports per rule: hits, misses, false alarms and lead time.

Options:
  --input FILE      readings: .ndjson (device payload + "sensor", or {topic, payload} as recorded
                    from MQTT) or .csv (header: sensor,ts, then field columns or "value")
  --rules FILE      rules file, default config/rules.yaml
  --labels FILE     labelled events (YAML/JSON): earlyToleranceS, events: [{rule, subject, start, end}]
  --registry FILE   registry, default the bundled demo city
  --rule ID         print only this rule's transitions (repeatable)
  --json            print transitions and scores as JSON

Example (ships with floodgate):
  floodgate backtest --input examples/backtest/storm-2026-07-01.ndjson \\
                     --labels examples/backtest/storm-2026-07-01.labels.yaml`,
    options: {
      input: { type: 'string' },
      rules: { type: 'string' },
      labels: { type: 'string' },
      registry: { type: 'string' },
      rule: { type: 'string', multiple: true },
      json: { type: 'boolean', default: false },
    },
    async run(v) {
      const input = v['input'] as string | undefined;
      if (!input) throw new Error('--input is required; see floodgate backtest --help');
      const { readFileSync } = await import('node:fs');
      const { BUNDLED_CITY } = await import('../config/registry.ts');
      const { loadRules, DEFAULT_RULES_PATH } = await import('../rules/load.ts');
      const { engineContext } = await import('../rules/rules.ts');
      const bt = await import('../rules/backtest.ts');
      const registry = loadRegistry((v['registry'] as string | undefined) ?? BUNDLED_CITY);
      const rules = loadRules((v['rules'] as string | undefined) ?? DEFAULT_RULES_PATH, registry.sites);
      const kinds = new Map(registry.sensors.map((s) => [s.id, s.kind]));
      const { readings, problems } = bt.parseRecording(readFileSync(input, 'utf8'), input.endsWith('.csv') ? 'csv' : 'ndjson', (id) => kinds.get(id));
      for (const p of problems.slice(0, 20)) process.stderr.write(`${input}:${p.line}: ${p.message} (skipped)\n`);
      if (problems.length > 20) process.stderr.write(`… and ${problems.length - 20} more problems\n`);
      const result = bt.replay(readings, engineContext(registry, rules));
      const only = v['rule'] as string[] | undefined;
      const shown = only?.length ? result.transitions.filter((t) => only.includes(t.ruleId)) : result.transitions;
      const scores = v['labels'] ? bt.score(result.transitions, bt.parseLabels(readFileSync(v['labels'] as string, 'utf8'))) : undefined;
      if (v['json']) {
        print(JSON.stringify({ readings: readings.length, problems: problems.length, suspect: result.flags, stale: result.stale, transitions: shown, scores }));
        return;
      }
      for (const t of shown) print(bt.formatTransition(t));
      print(`\n${readings.length} readings (${problems.length} skipped, ${result.flags} flagged suspect, ${result.stale} stale), ${result.transitions.length} transitions`);
      if (scores) print(`\n${bt.formatScores(scores)}`);
    },
  },
  'police-receiver': {
    summary: 'a traffic-police endpoint for integration: verifies and prints notices',
    usage: `floodgate police-receiver [--port P] [--secret S] [options]

Listens for closure/reopen notices, verifies X-Floodgate-Signature (HMAC-SHA256 over
"timestamp.body") and the timestamp, answers 200 and prints one JSON line per notice on stdout.
A bad signature gets 401 and a log line on stderr.

Options:
  --port P          default 9090
  --host H          default 127.0.0.1
  --secret S        HMAC secret; default $FLOODGATE_POLICE_SECRET, else DATA_DIR/police.secret
                    (created if missing, the same file floodgate up uses)
  --path PATH       default /notices
  --tolerance S     accepted clock skew in seconds, default 300
  --data-dir DIR    default $FLOODGATE_DATA_DIR or ./data`,
    options: {
      port: { type: 'string', default: '9090' },
      host: { type: 'string', default: '127.0.0.1' },
      secret: { type: 'string' },
      path: { type: 'string', default: '/notices' },
      tolerance: { type: 'string', default: '300' },
      'data-dir': { type: 'string' },
    },
    async run(v) {
      const logger = createLogger({ name: 'police-receiver', destination: process.stderr });
      const dir = (v['data-dir'] as string | undefined) ?? process.env['FLOODGATE_DATA_DIR'] ?? './data';
      let secret = (v['secret'] as string | undefined) ?? process.env['FLOODGATE_POLICE_SECRET'];
      if (!secret) {
        const path = join(dir, 'police.secret');
        secret = readOrCreateSecretFile(path).secret;
        logger.info({ path }, 'using the police HMAC secret from file');
      }
      const port = Number(v['port']);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error('--port must be 0..65535');
      const { createPoliceReceiver } = await import('../alerts/receiver/police-receiver.ts');
      const handle = await createPoliceReceiver(
        { host: v['host'] as string, port, secret, path: v['path'] as string, toleranceS: Number(v['tolerance']) },
        { clock: systemClock, logger, print },
      );
      logger.info({ url: handle.url }, 'police receiver listening');
      await closeOnSignal([handle], logger);
    },
  },
};

function help(): string {
  const width = Math.max(...Object.keys(commands).map((c) => c.length));
  return [
    'floodgate — flood-operations pipeline: MQTT sensors → InfluxDB → rules → alerts → police notices',
    '',
    'Usage: floodgate <command> [options]      floodgate <command> --help',
    '',
    'Commands:',
    ...Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
  ].join('\n');
}

export async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    print(help());
    return;
  }
  const command = commands[name];
  if (!command) {
    process.stderr.write(`floodgate: unknown command ${JSON.stringify(name)}\n\n${help()}\n`);
    process.exit(2);
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    print(command.usage);
    return;
  }
  let values: Record<string, string | boolean | undefined>;
  let positionals: string[];
  try {
    const parsed = parseArgs({ args: rest, options: command.options, strict: true, allowPositionals: command.positionals ?? false });
    values = parsed.values as Record<string, string | boolean | undefined>;
    positionals = parsed.positionals;
  } catch (err) {
    process.stderr.write(`floodgate ${name}: ${(err as Error).message}\n\n${command.usage}\n`);
    process.exit(2);
  }
  try {
    await command.run(values, positionals);
  } catch (err) {
    fail(err);
  }
}
