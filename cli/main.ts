/**
 * `floodgate <command>`: dispatch and --help. Each command's options are parsed strictly, so a
 * typo is an error, not a silently ignored flag.
 */
// First: the disabled `debug` traces of mqtt-packet become no-ops, which must happen before aedes
// or mqtt load (lib/quiet-debug.ts).
import '../lib/quiet-debug.ts';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { fail, print, closeOnSignal } from '../lib/process.ts';
import { clientEnv } from './env.ts';
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
    usage: `floodgate provision [--data-dir DIR] [--load-devices N]

Writes DIR/registry.json (salted hashes only) and DIR/provisioning.json (device secrets,
mode 0600) from config/demo-city.json. Existing files are kept. docker-compose runs this once.

--load-devices N adds load-test devices LD-00001 … LD-N (rain gauges at a synthetic site
LOADTEST, flagged loadTest: stored by ingest, ignored by the rules and the console) for
floodgate sim load. Running services pick them up within a second.`,
    options: { 'data-dir': { type: 'string' }, 'load-devices': { type: 'string' } },
    async run(v) {
      const dir = (v['data-dir'] as string | undefined) ?? clientEnv(process.env).dataDir;
      const { files, created } = await ensureProvisioned(dir);
      print(created ? `provisioned ${files.registry} and ${files.provisioning}` : `already provisioned: ${files.registry}`);
      if (v['load-devices'] === undefined) return;
      const n = Number(v['load-devices']);
      if (!Number.isInteger(n) || n < 1 || n > 100_000) throw new Error('--load-devices must be an integer in 1..100000');
      const { provisionLoadDevices } = await import('../config/devices.ts');
      const r = provisionLoadDevices(dir, n);
      print(`load-test devices: ${r.added} added, ${r.total} in the registry`);
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
      const dir = (v['data-dir'] as string | undefined) ?? clientEnv(process.env).dataDir;
      const path = (v['registry'] as string | undefined) ?? clientEnv(process.env).registry ?? dataFiles(dir).registry;
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
      const dir = (v['data-dir'] as string | undefined) ?? clientEnv(process.env).dataDir;
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
    summary: 'simulate sensors against the gateway as real devices: scenarios, replay, load',
    usage: `floodgate sim --list
       floodgate sim --scenario NAME|FILE.yaml [--speed N] [--expect] [--record FILE] [--predict]
       floodgate sim load --sensors N --rate R --duration D [--record FILE]
       floodgate sim replay FILE [--speed N] [--no-shift]

Scenarios are YAML files (simulators/scenarios/, or a path; docs/simulators.md): districts or
the whole city, a Shanghai design storm moving across them, gust fronts, underpasses as
reservoirs with pumps (which may fail), tide and river gauges, faults on demand (dropouts,
store-and-forward outages, vehicle spikes, flat lines, clock skew, duplicates, reordering,
malformed payloads, wrong secrets, battery drain) and what the system should do. They run as
real devices, each with its own connection and secret, at --speed simulated minutes per wall
minute (default 600; the whole city runs at 60 and up). Readings are stamped in simulated time,
ending now.

  --expect          check the scenario's expectations against the running system's alerts API
                    (--api URL, default $FLOODGATE_API_URL or http://127.0.0.1:$FLOODGATE_HTTP_PORT; --token T,
                    default $FLOODGATE_API_TOKEN or DATA_DIR/api.token; --wait S to catch up,
                    default 30): exit 1 and a line per mismatch
  --predict         no system needed: what the rules engine would raise on the scenario, offline
  --record FILE     every message sent, as NDJSON {topic, payload} (floodgate backtest and
                    floodgate sim replay read it)

Load: N load-test devices (floodgate provision --load-devices N adds them; the rules and the
console ignore them) send R readings/s in all for D (seconds, or 90s, 5m) at QoS 1; a progress
line every second (sent, acked, errors, rate) and a final report (connections held, rate reached,
publish → PUBACK p50/p99).

Replay: recorded readings (NDJSON or CSV, as floodgate backtest reads them) sent by each sensor
as itself, paced by simulated time: --speed N (default 60). The recording is shifted to end now
(ingest refuses readings older than its maximum age); --no-shift keeps its timestamps.

  floodgate sim --scenario underpass-storm --sensors N --step-ms MS [--seed S]
                    the walking skeleton's quick storm (first N underpasses, MS per simulated minute)

Options:
  --url URL         gateway, default $FLOODGATE_MQTT_URL or mqtt://127.0.0.1:$FLOODGATE_MQTT_PORT
  --data-dir DIR    where registry.json and provisioning.json are, default $FLOODGATE_DATA_DIR or ./data
  --json            print the summary as JSON instead of lines`,
    options: {
      scenario: { type: 'string' },
      sensors: { type: 'string' },
      'step-ms': { type: 'string' },
      seed: { type: 'string' },
      url: { type: 'string' },
      'data-dir': { type: 'string' },
      json: { type: 'boolean', default: false },
      speed: { type: 'string' },
      'no-shift': { type: 'boolean', default: false },
      list: { type: 'boolean', default: false },
      expect: { type: 'boolean', default: false },
      predict: { type: 'boolean', default: false },
      record: { type: 'string' },
      rate: { type: 'string' },
      duration: { type: 'string' },
      api: { type: 'string' },
      token: { type: 'string' },
      wait: { type: 'string', default: '30' },
    },
    positionals: true,
    async run(v, positionals) {
      const url = (v['url'] as string | undefined) ?? clientEnv(process.env).mqttUrl;
      const dataDir = (v['data-dir'] as string | undefined) ?? clientEnv(process.env).dataDir;
      const files = dataFiles(dataDir);
      const speedOf = (def: number) => {
        const speed = Number(v['speed'] ?? def);
        if (!(speed > 0 && speed <= 1_000_000)) throw new Error('--speed must be a number above 0 (simulated minutes per wall minute)');
        return speed;
      };
      const { openRecorder } = await import('../simulators/record.ts');
      const recorder = openRecorder(v['record'] as string | undefined);
      try {
        if (positionals[0] === 'replay') {
          const file = positionals[1];
          if (!file) throw new Error('floodgate sim replay FILE: the recording to replay is required');
          const speed = speedOf(60);
          const { readFileSync } = await import('node:fs');
          const { parseRecording } = await import('../contracts/recording.ts');
          const { replayReadings } = await import('../simulators/replay.ts');
          const registry = loadRegistry(files.registry);
          const kinds = new Map(registry.sensors.map((s) => [s.id, s.kind]));
          const { readings, problems } = parseRecording(readFileSync(file, 'utf8'), file.endsWith('.csv') ? 'csv' : 'ndjson', (id) => kinds.get(id));
          for (const p of problems.slice(0, 20)) process.stderr.write(`${file}:${p.line}: ${p.message} (skipped)\n`);
          const r = await replayReadings(readings, { mqttUrl: url, speed, shift: !v['no-shift'] }, { registry, provisioning: loadProvisioning(files.provisioning), clock: systemClock, record: recorder?.write });
          print(v['json'] ? JSON.stringify(r) : `replay: ${r.published} readings from ${r.sensors} sensors acknowledged by the gateway, ${r.simulatedMin} simulated min in ${(r.wallMs / 1000).toFixed(1)} s${r.skipped ? `, ${r.skipped} skipped (no secret)` : ''}${problems.length ? `, ${problems.length} bad lines skipped` : ''}`);
          return;
        }
        if (positionals[0] === 'load') {
          const { runLoad, progressLine, reportLines } = await import('../simulators/load.ts');
          const { parseDuration } = await import('../lib/duration.ts');
          const n = Number(v['sensors']);
          const rate = Number(v['rate']);
          if (!Number.isInteger(n) || n < 1 || n > 100_000) throw new Error('--sensors must be an integer in 1..100000');
          if (!(rate > 0 && rate <= 1_000_000)) throw new Error('--rate must be readings per second above 0');
          const durationS = parseDuration(v['duration'] as string | undefined, '--duration');
          const tty = process.stderr.isTTY;
          const r = await runLoad(
            { mqttUrl: url, sensors: n, ratePerS: rate, durationS },
            {
              registry: loadRegistry(files.registry),
              provisioning: loadProvisioning(files.provisioning),
              clock: systemClock,
              record: recorder?.write,
              onProgress: (p) => process.stderr.write(tty ? `\r\x1b[K${progressLine(p)}` : `${progressLine(p)}\n`),
            },
          );
          if (tty) process.stderr.write('\n');
          print(v['json'] ? JSON.stringify(r) : reportLines(r).join('\n'));
          if (r.errors > 0 || r.connectErrors > 0) throw new Error(`load: ${r.errors} errors, ${r.connectErrors} connections failed`);
          return;
        }
        if (positionals.length > 0) throw new Error(`floodgate sim: unknown action ${JSON.stringify(positionals[0])}; see floodgate sim --help`);
        const sc = await import('../simulators/scenario.ts');
        if (v['list']) {
          for (const x of sc.listScenarios()) print(`${x.name.padEnd(16)} ${x.description}`);
          return;
        }
        if (!v['scenario']) throw new Error('floodgate sim: --scenario NAME, --list, load or replay; see floodgate sim --help');
        const quick = v['sensors'] !== undefined || v['step-ms'] !== undefined || v['seed'] !== undefined;
        if (quick) {
          if (v['scenario'] !== 'underpass-storm') throw new Error('--sensors, --step-ms and --seed belong to the quick underpass-storm; scenario files set their own');
          return await quickStorm(v, url, files);
        }
        const scenario = sc.loadScenario(v['scenario'] as string);
        if (v['predict']) {
          const { simulateScenario } = await import('../simulators/simulate.ts');
          const { predictAlerts } = await import('../simulators/run-scenario.ts');
          const { loadRules, DEFAULT_RULES_PATH } = await import('../rules/load.ts');
          const { engineContext } = await import('../rules/rules.ts');
          const { BUNDLED_CITY } = await import('../config/registry.ts');
          const { existsSync } = await import('node:fs');
          const registry = loadRegistry(existsSync(files.registry) ? files.registry : BUNDLED_CITY);
          const sim = simulateScenario(scenario, registry, Date.now());
          const fired = predictAlerts(sim, engineContext(registry, loadRules(clientEnv(process.env).rulesPath ?? DEFAULT_RULES_PATH, registry.sites)));
          if (v['json']) {
            print(JSON.stringify({ scenario: scenario.name, sensors: sim.sensors.length, messages: sim.plan.sends.length, faults: sim.plan.effects, alerts: fired }));
            return;
          }
          print(`${scenario.name}: ${sim.sensors.length} sensors, ${sim.plan.sends.length} messages${Object.keys(sim.plan.effects).length ? `; faults ${JSON.stringify(sim.plan.effects)}` : ''}; the rules engine would raise:`);
          for (const [rule, subjects] of Object.entries(fired)) print(`  ${rule.padEnd(20)} ${String(subjects.length).padStart(4)}  ${subjects.slice(0, 12).join(' ')}${subjects.length > 12 ? ' …' : ''}`);
          return;
        }
        const speed = speedOf(600);
        const { runScenario, checkExpectations, staleOverlap } = await import('../simulators/run-scenario.ts');
        const { scenarioDistricts } = await import('../simulators/simulate.ts');
        const { readFileSync, existsSync } = await import('node:fs');
        const tokenFile = join(dataDir, 'api.token');
        const token = (v['token'] as string | undefined) ?? clientEnv(process.env).apiToken ?? (existsSync(tokenFile) ? readFileSync(tokenFile, 'utf8').trim() : undefined);
        if (v['expect'] && !token) throw new Error(`--expect needs the API token: --token, $FLOODGATE_API_TOKEN or ${tokenFile}`);
        const api = { url: (v['api'] as string | undefined) ?? clientEnv(process.env).apiUrl, token: token ?? '' };
        const registry = loadRegistry(files.registry);
        const since = Date.now();
        const r = await runScenario(scenario, { mqttUrl: url, speed }, {
          registry,
          provisioning: loadProvisioning(files.provisioning),
          clock: systemClock,
          record: recorder?.write,
          // With the API at hand, say so when an earlier run makes this one's start stale.
          beforeSend: async (sim) => {
            if (!v['expect']) return;
            const warning = await staleOverlap(sim, scenarioDistricts(scenario, registry), api).catch(() => '');
            if (warning) process.stderr.write(`${scenario.name}: ${warning}\n`);
          },
        });
        const peaks = Object.entries(r.peaks);
        const faults = Object.entries(r.faults);
        print(
          v['json']
            ? JSON.stringify(r)
            : `${r.scenario}: ${r.published} readings in ${r.messages} messages from ${r.sensors} sensors acknowledged by the gateway, ${r.simulatedMin} simulated min in ${(r.wallMs / 1000).toFixed(1)} s` +
                (peaks.length ? `; peak ponding ${peaks.length > 8 ? `above 25 cm at ${peaks.filter(([, p]) => p > 25).length} of ${peaks.length} underpasses` : peaks.map(([k, p]) => `${k} ${p.toFixed(0)} cm`).join(', ')}` : '') +
                (faults.length ? `; faults ${faults.map(([k, n]) => `${k} ${n}`).join(', ')}` : '') +
                (r.refusedLogins ? `; ${r.refusedLogins} wrong logins refused` : ''),
        );
        if (r.acceptedWrongLogins > 0) throw new Error(`${scenario.name}: the gateway accepted ${r.acceptedWrongLogins} logins with a wrong secret`);
        if (r.failed > 0) throw new Error(`${scenario.name}: ${r.failed} messages could not be published`);
        if (!v['expect']) return;
        const waitS = Number(v['wait']);
        if (!(waitS >= 0 && waitS <= 3600)) throw new Error('--wait must be 0..3600 seconds');
        const problems = await checkExpectations(scenario, api, waitS * 1000, since);
        if (problems.length > 0) throw new Error(`${scenario.name}: expectations not met:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
        const e = scenario.expect;
        print(`${scenario.name}: every expectation met (${e.closed.length} closures, ${e.reopened.length} reopened, ${e.open.length} left open, ${e.alerts.length} alerts, ${e.atLeast.length} counts, ${e.absent.length} absent)`);
      } finally {
        await recorder?.close();
      }
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
      const rules = loadRules((v['rules'] as string | undefined) ?? clientEnv(process.env).rulesPath ?? DEFAULT_RULES_PATH, registry.sites);
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
      const dir = (v['data-dir'] as string | undefined) ?? clientEnv(process.env).dataDir;
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

/** The walking skeleton's quick storm (`--scenario underpass-storm --sensors N --step-ms MS`). */
async function quickStorm(v: Record<string, string | boolean | undefined>, url: string, files: ReturnType<typeof dataFiles>): Promise<void> {
  const int = (name: string, def: number, min: number, max: number) => {
    const n = Number(v[name] ?? def);
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${name} must be an integer in ${min}..${max}`);
    return n;
  };
  const { runUnderpassStorm, summaryLine } = await import('../simulators/underpass-storm.ts');
  const summary = await runUnderpassStorm(
    { mqttUrl: url, sensors: int('sensors', 5, 1, 500), stepMs: int('step-ms', 200, 0, 60_000), seed: int('seed', 1, 0, 2 ** 31) },
    { registry: loadRegistry(files.registry), provisioning: loadProvisioning(files.provisioning), clock: systemClock, logger: createLogger({ name: 'sim' }) },
  );
  print(v['json'] ? JSON.stringify(summary) : summaryLine(summary));
}
