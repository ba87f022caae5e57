/** `floodgate sim`. */
import { z } from 'zod';
import { command, flag } from './command.ts';
import type { loadScenario } from '../../simulators/scenario.ts';
import { join } from 'node:path';
import { print } from '../../lib/process.ts';
import { clientEnv } from '../env.ts';
import { createLogger } from '../../lib/logger.ts';
import { systemClock } from '../../lib/clock.ts';
import { dataFiles, loadProvisioning, loadRegistry } from '../../config/registry.ts';

/** sim's flags, checked at once; the defaults that depend on what runs (the speed) stay with it. */
const SimFlags = z.object({
  scenario: flag.text,
  sensors: flag.int(1, 100_000).optional(),
  'step-ms': flag.int(0, 60_000).optional(),
  seed: flag.int(0, 2 ** 31).optional(),
  url: flag.text,
  'data-dir': flag.text,
  json: flag.on,
  speed: flag.positive(1_000_000, 'a number (simulated minutes per wall minute)').optional(),
  'no-shift': flag.on,
  list: flag.on,
  expect: flag.on,
  predict: flag.on,
  record: flag.text,
  rate: flag.positive(1_000_000, 'readings per second').optional(),
  duration: flag.text,
  api: flag.text,
  token: flag.text,
  wait: flag.int(0, 3600),
  protocol: z.enum(['mqtt', 'sl651'], { error: 'must be mqtt or sl651' }).default('mqtt'),
  sl651: z.string().regex(/^[^:]+:\d+$/, 'must be HOST:PORT').optional(),
});
type Values = z.output<typeof SimFlags>;

export const sim = command({
  summary: 'simulate sensors against the gateway as real devices: scenarios, replay, load',
  usage: `floodgate sim --list
       floodgate sim --scenario NAME|FILE.yaml [--speed N] [--expect] [--record FILE] [--predict]
                     [--protocol sl651 [--sl651 HOST:PORT]]
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
  --protocol sl651  the rain and water-level gauges report as SL 651-2014 stations (TCP, HEX
                    mode, 32 timed reports, each waiting for the centre's reply) to --sl651
                    HOST:PORT (default 127.0.0.1:$FLOODGATE_SL651_PORT); underpass ponding sensors
                    stay on MQTT. Station passwords come from provisioning.json

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
    protocol: { type: 'string', default: 'mqtt' },
    sl651: { type: 'string' },
  },
  positionals: true,
  flags: SimFlags,
  async run(v, positionals) {
    const url = v.url ?? clientEnv(process.env).mqttUrl;
    const dataDir = v['data-dir'] ?? clientEnv(process.env).dataDir;
    const files = dataFiles(dataDir);
    const speedOf = (def: number) => v.speed ?? def;
    const { openRecorder } = await import('../../simulators/record.ts');
    const recorder = openRecorder(v.record);
    const ctx: Ctx = { url, dataDir, files, speedOf, record: recorder?.write };
    try {
      if (positionals[0] === 'replay') return await replay(v, positionals[1], ctx);
      if (positionals[0] === 'load') return await load(v, ctx);
      if (positionals.length > 0) throw new Error(`floodgate sim: unknown action ${JSON.stringify(positionals[0])}; see floodgate sim --help`);
      const sc = await import('../../simulators/scenario.ts');
      if (v.list) {
        for (const x of sc.listScenarios()) print(`${x.name.padEnd(16)} ${x.description}`);
        return;
      }
      if (!v.scenario) throw new Error('floodgate sim: --scenario NAME, --list, load or replay; see floodgate sim --help');
      const quick = v.sensors !== undefined || v['step-ms'] !== undefined || v.seed !== undefined;
      if (quick) {
        if (v.scenario !== 'underpass-storm') throw new Error('--sensors, --step-ms and --seed belong to the quick underpass-storm; scenario files set their own');
        return await quickStorm(v, url, files);
      }
      const scenario = sc.loadScenario(v.scenario);
      if (v.predict) return await predict(v, scenario, ctx.files);
      await storm(v, scenario, ctx);
    } finally {
      await recorder?.close();
    }
  },
});

/** The walking skeleton's quick storm (`--scenario underpass-storm --sensors N --step-ms MS`). */
async function quickStorm(v: Values, url: string, files: ReturnType<typeof dataFiles>): Promise<void> {
  const sensors = v.sensors ?? 5;
  if (sensors > 500) throw new Error('--sensors of the quick underpass-storm must be an integer in 1..500');
  const { runUnderpassStorm, summaryLine } = await import('../../simulators/underpass-storm.ts');
  const summary = await runUnderpassStorm(
    { mqttUrl: url, sensors, stepMs: v['step-ms'] ?? 200, seed: v.seed ?? 1 },
    { registry: loadRegistry(files.registry), provisioning: loadProvisioning(files.provisioning), clock: systemClock, logger: createLogger({ name: 'sim' }) },
  );
  print(v.json ? JSON.stringify(summary) : summaryLine(summary));
}

type Scenario = ReturnType<typeof loadScenario>;
interface Ctx {
  url: string;
  dataDir: string;
  files: ReturnType<typeof dataFiles>;
  speedOf(def: number): number;
  record: ((line: string) => void) | undefined;
}

/** `sim replay FILE`: a recording (NDJSON or CSV) sent again by its devices. */
async function replay(v: Values, file: string | undefined, ctx: Ctx): Promise<void> {
  if (!file) throw new Error('floodgate sim replay FILE: the recording to replay is required');
  const speed = ctx.speedOf(60);
  const { readFileSync } = await import('node:fs');
  const { detectFormat, parseRecording, summariseProblems } = await import('../../contracts/recording.ts');
  const { replayReadings } = await import('../../simulators/replay.ts');
  const registry = loadRegistry(ctx.files.registry);
  const kinds = new Map(registry.sensors.map((s) => [s.id, s.kind]));
  const text = readFileSync(file, 'utf8');
  const { readings, problems } = parseRecording(text, detectFormat(text), (id) => kinds.get(id));
  for (const s of summariseProblems(problems)) process.stderr.write(`${file}: ${s.count} × ${s.kind} skipped, first at line ${s.first.line}: ${s.first.message}\n`);
  const r = await replayReadings(readings, { mqttUrl: ctx.url, speed, shift: !v['no-shift'] }, { registry, provisioning: loadProvisioning(ctx.files.provisioning), clock: systemClock, record: ctx.record });
  print(v.json ? JSON.stringify(r) : `replay: ${r.published} readings from ${r.sensors} sensors acknowledged by the gateway, ${r.simulatedMin} simulated min in ${(r.wallMs / 1000).toFixed(1)} s${r.skipped ? `, ${r.skipped} skipped (no secret)` : ''}${problems.length ? `, ${problems.length} bad lines skipped` : ''}`);
}

/** `sim load`: load-test devices at a fixed total rate. */
async function load(v: Values, ctx: Ctx): Promise<void> {
  const { runLoad, progressLine, reportLines } = await import('../../simulators/load.ts');
  const { parseDuration } = await import('../../lib/duration.ts');
  const n = v.sensors;
  const rate = v.rate;
  if (n === undefined) throw new Error('--sensors is required: how many load-test devices (1..100000)');
  if (rate === undefined) throw new Error('--rate is required: readings per second in all');
  const durationS = parseDuration(v.duration, '--duration');
  const tty = process.stderr.isTTY;
  const r = await runLoad(
    { mqttUrl: ctx.url, sensors: n, ratePerS: rate, durationS },
    {
      registry: loadRegistry(ctx.files.registry),
      provisioning: loadProvisioning(ctx.files.provisioning),
      clock: systemClock,
      record: ctx.record,
      onProgress: (p) => process.stderr.write(tty ? `\r\x1b[K${progressLine(p)}` : `${progressLine(p)}\n`),
    },
  );
  if (tty) process.stderr.write('\n');
  print(v.json ? JSON.stringify(r) : reportLines(r).join('\n'));
  if (r.errors > 0 || r.connectErrors > 0) throw new Error(`load: ${r.errors} errors, ${r.connectErrors} connections failed`);
}

/** `sim --scenario X --predict`: what the rules engine would raise, offline. */
async function predict(v: Values, scenario: Scenario, files: ReturnType<typeof dataFiles>): Promise<void> {
  const { simulateScenario } = await import('../../simulators/simulate.ts');
  const { predictAlerts } = await import('../../simulators/run-scenario.ts');
  const { loadRules, DEFAULT_RULES_PATH } = await import('../../rules/load.ts');
  const { engineContext } = await import('../../rules/context.ts');
  const { BUNDLED_CITY } = await import('../../config/registry.ts');
  const { existsSync } = await import('node:fs');
  const registry = loadRegistry(existsSync(files.registry) ? files.registry : BUNDLED_CITY);
  const sim = simulateScenario(scenario, registry, Date.now());
  const fired = predictAlerts(sim, engineContext(registry, loadRules(clientEnv(process.env).rulesPath ?? DEFAULT_RULES_PATH, registry.sites)));
  if (v.json) {
    print(JSON.stringify({ scenario: scenario.name, sensors: sim.sensors.length, messages: sim.plan.sends.length, faults: sim.plan.effects, alerts: fired }));
    return;
  }
  print(`${scenario.name}: ${sim.sensors.length} sensors, ${sim.plan.sends.length} messages${Object.keys(sim.plan.effects).length ? `; faults ${JSON.stringify(sim.plan.effects)}` : ''}; the rules engine would raise:`);
  for (const [rule, subjects] of Object.entries(fired)) print(`  ${rule.padEnd(20)} ${String(subjects.length).padStart(4)}  ${subjects.slice(0, 12).join(' ')}${subjects.length > 12 ? ' …' : ''}`);
}

/** Where the SL 651 centre listens: --sl651 HOST:PORT, or the local `up`'s FLOODGATE_SL651_PORT. */
function sl651Address(flagValue: string | undefined): { host: string; port: number } {
  if (flagValue) {
    const at = flagValue.lastIndexOf(':');
    return { host: flagValue.slice(0, at), port: Number(flagValue.slice(at + 1)) };
  }
  const local = clientEnv(process.env).sl651;
  if (!local) throw new Error('--protocol sl651 needs the centre: --sl651 HOST:PORT or $FLOODGATE_SL651_PORT');
  return local;
}

/** `sim --scenario X [--expect]`: the scenario's devices against the gateway, then its expectations. */
async function storm(v: Values, scenario: Scenario, ctx: Ctx): Promise<void> {
  const speed = ctx.speedOf(600);
  const { runScenario, checkExpectations, staleOverlap } = await import('../../simulators/run-scenario.ts');
  const { scenarioDistricts } = await import('../../simulators/simulate.ts');
  const { readFileSync, existsSync } = await import('node:fs');
  const tokenFile = join(ctx.dataDir, 'api.token');
  const token = v.token ?? clientEnv(process.env).apiToken ?? (existsSync(tokenFile) ? readFileSync(tokenFile, 'utf8').trim() : undefined);
  if (v.expect && !token) throw new Error(`--expect needs the API token: --token, $FLOODGATE_API_TOKEN or ${tokenFile}`);
  const api = { url: v.api ?? clientEnv(process.env).apiUrl, token: token ?? '' };
  const registry = loadRegistry(ctx.files.registry);
  const since = Date.now();
  const sl651 = v.protocol === 'sl651' ? sl651Address(v.sl651) : undefined;
  const r = await runScenario(scenario, { mqttUrl: ctx.url, speed, ...(sl651 ? { sl651 } : {}) }, {
    registry,
    provisioning: loadProvisioning(ctx.files.provisioning),
    clock: systemClock,
    record: ctx.record,
    // With the API at hand, say so when an earlier run makes this one's start stale.
    beforeSend: async (sim) => {
      if (!v.expect) return;
      const warning = await staleOverlap(sim, scenarioDistricts(scenario, registry), api).catch(() => '');
      if (warning) process.stderr.write(`${scenario.name}: ${warning}\n`);
    },
  });
  const peaks = Object.entries(r.peaks);
  const faults = Object.entries(r.faults);
  print(
    v.json
      ? JSON.stringify(r)
      : `${r.scenario}: ${r.published} readings in ${r.messages} messages from ${r.sensors} sensors acknowledged by the gateway, ${r.simulatedMin} simulated min in ${(r.wallMs / 1000).toFixed(1)} s` +
          (peaks.length ? `; peak ponding ${peaks.length > 8 ? `above 25 cm at ${peaks.filter(([, p]) => p > 25).length} of ${peaks.length} underpasses` : peaks.map(([k, p]) => `${k} ${p.toFixed(0)} cm`).join(', ')}` : '') +
          (faults.length ? `; faults ${faults.map(([k, n]) => `${k} ${n}`).join(', ')}` : '') +
          (r.refusedLogins ? `; ${r.refusedLogins} wrong logins refused` : ''),
  );
  if (r.acceptedWrongLogins > 0) throw new Error(`${scenario.name}: the gateway accepted ${r.acceptedWrongLogins} logins with a wrong secret`);
  if (r.failed > 0) throw new Error(`${scenario.name}: ${r.failed} messages could not be published`);
  if (!v.expect) return;
  const waitS = v.wait;
  const problems = await checkExpectations(scenario, api, waitS * 1000, since);
  if (problems.length > 0) throw new Error(`${scenario.name}: expectations not met:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  const e = scenario.expect;
  print(`${scenario.name}: every expectation met (${e.closed.length} closures, ${e.reopened.length} reopened, ${e.open.length} left open, ${e.alerts.length} alerts, ${e.atLeast.length} counts, ${e.absent.length} absent)`);
}
