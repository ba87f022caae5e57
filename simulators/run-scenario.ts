/**
 * Run a scenario file against a live system (its readings through real devices at `speed`), and
 * check what the scenario expects against the running system's alerts API (`--expect`).
 */
import type { Provisioning, Registry } from '../config/registry.ts';
import type { Clock } from '../lib/clock.ts';
import { sendAsDevices, type SendSummary } from './replay.ts';
import { sendAsStations, sl651Sensors } from './sl651-stations.ts';
import type { Scenario } from './scenario.ts';
import { simulateScenario, type Simulation } from './simulate.ts';
import { parseReadingPayload } from '../contracts/index.ts';
import { replay } from '../rules/backtest.ts';
import type { EngineContext } from '../rules/engine.ts';

export interface ScenarioRun extends SendSummary {
  scenario: string;
  /** Noise-free peak ponding per underpass (cm). */
  peaks: Record<string, number>;
  /** Peak gust per rain station (m/s), when the scenario has wind. */
  gusts: Record<string, number>;
  /** Readings (or logins) each fault kind affected. */
  faults: Partial<Record<string, number>>;
}

export async function runScenario(
  s: Scenario,
  o: { mqttUrl: string; speed: number; sl651?: { host: string; port: number } },
  deps: { registry: Registry; provisioning: Provisioning; clock: Clock; record?: (line: string) => void; beforeSend?: (sim: Simulation) => Promise<void> },
): Promise<ScenarioRun> {
  // The storm ends now: every reading is a real, recent reading for the system under test.
  const sim = simulateScenario(s, deps.registry, deps.clock.now());
  await deps.beforeSend?.(sim);
  if (!o.sl651) {
    const r = await sendAsDevices(sim.plan.sends, sim.plan.wrongLogins, o, deps);
    return { scenario: s.name, ...r, peaks: sim.peaks, gusts: sim.gusts, faults: sim.plan.effects };
  }
  // Over SL 651: the hydrological stations (rain and water-level gauges with a station address
  // and a password) as RTUs; the others (underpass ponding sensors) stay MQTT devices.
  const started = deps.clock.now();
  const viaSl651 = sl651Sensors(deps.registry, deps.provisioning);
  const split = <T>(m: Map<string, T>, on: boolean) => new Map([...m].filter(([id]) => viaSl651.has(id) === on));
  const [mqtt, sl651] = await Promise.all([
    sendAsDevices(sim.plan.sends.filter((x) => !viaSl651.has(x.sensorId)), split(sim.plan.wrongLogins, false), o, deps),
    sendAsStations(sim.plan.sends.filter((x) => viaSl651.has(x.sensorId)), split(sim.plan.wrongLogins, true), { ...o.sl651, speed: o.speed }, deps),
  ]);
  const sum = (k: 'sensors' | 'published' | 'messages' | 'failed' | 'skipped' | 'refusedLogins' | 'acceptedWrongLogins') => mqtt[k] + sl651[k];
  return {
    scenario: s.name,
    sensors: sum('sensors'),
    published: sum('published'),
    messages: sum('messages'),
    failed: sum('failed'),
    skipped: sum('skipped'),
    refusedLogins: sum('refusedLogins'),
    acceptedWrongLogins: sum('acceptedWrongLogins'),
    simulatedMin: Math.round((Math.max(...sim.plan.sends.map((x) => x.ts)) - Math.min(...sim.plan.sends.map((x) => x.ts))) / 60_000) || 0,
    wallMs: deps.clock.now() - started,
    peaks: sim.peaks,
    gusts: sim.gusts,
    faults: sim.plan.effects,
  };
}

/**
 * What does not hold (empty when everything expected happened), counting only alerts the system
 * recorded since `sinceMs` (wall clock: the run's start). Polls until `timeoutMs`.
 */
export async function checkExpectations(s: Scenario, api: { url: string; token: string }, timeoutMs: number, sinceMs: number): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  let problems: string[] = [];
  const e = s.expect;
  const rules = [...new Set(['underpass-closure', ...e.alerts.map((x) => x.rule), ...e.atLeast.map((x) => x.rule), ...e.absent.map((x) => x.rule)])];
  for (;;) {
    const alerts: Array<{ ruleId: string; subjectId: string; state: string; openedAt: number | null }> = [];
    // One query per rule named: a city-wide storm has more alerts than one page holds.
    for (const rule of rules) {
      const res = await fetch(`${api.url.replace(/\/$/, '')}/api/alerts?rule=${encodeURIComponent(rule)}&limit=1000`, { headers: { authorization: `Bearer ${api.token}` } });
      if (!res.ok) return [`the alerts API answered ${res.status} at ${api.url}`];
      alerts.push(...((await res.json()) as { alerts: typeof alerts }).alerts.filter((x) => (x.openedAt ?? 0) >= sinceMs));
    }
    const has = (rule: string, subject: string) => alerts.some((x) => x.ruleId === rule && x.subjectId === subject);
    const count = (rule: string) => new Set(alerts.filter((a) => a.ruleId === rule).map((a) => a.subjectId)).size;
    // What must happen may still be on its way; what must not happen is only known at the end.
    const missing = [
      ...e.closed.filter((site) => !has('underpass-closure', site)).map((site) => `${site} did not close`),
      ...e.reopened.filter((site) => !alerts.some((x) => x.ruleId === 'underpass-closure' && x.subjectId === site && x.state === 'resolved')).map((site) => `${site} did not reopen`),
      ...e.alerts.filter((a) => !has(a.rule, a.subject)).map((a) => `no ${a.rule} alert for ${a.subject}`),
      ...e.atLeast.filter((a) => count(a.rule) < a.count).map((a) => `only ${count(a.rule)} subjects with a ${a.rule} alert, expected at least ${a.count}`),
    ];
    problems = [
      ...missing,
      ...e.open.filter((site) => has('underpass-closure', site)).map((site) => `${site} closed but should have stayed open`),
      ...e.absent.filter((a) => has(a.rule, a.subject)).map((a) => `a ${a.rule} alert for ${a.subject} fired but should not have`),
    ];
    if (missing.length === 0 || Date.now() >= deadline) return problems;
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * What the rules engine would raise on a scenario, offline (`floodgate sim --predict`): the
 * devices' messages parsed as ingest parses them (malformed ones drop out), then the backtest
 * replay. Subjects per rule that fired. A reordered or skewed reading is replayed at its own
 * timestamp here, so a live run may differ where a fault changes the arrival order.
 */
export function predictAlerts(sim: Simulation, ctx: EngineContext): Record<string, string[]> {
  const readings = sim.plan.sends.flatMap((s) => parseReadingPayload(s.kind, s.sensorId, s.payload).readings);
  const fired: Record<string, Set<string>> = {};
  for (const t of replay(readings, ctx).transitions) if (t.state === 'firing') (fired[t.ruleId] ??= new Set()).add(t.subjectId);
  return Object.fromEntries(Object.entries(fired).map(([k, v]) => [k, [...v].sort()]));
}

/**
 * The rules judge on sensor time and ignore a reading older than the sensor's newest. A scenario
 * is stamped backwards from now (its last reading is "now"), so running it on sensors that
 * already reported within its duration — another scenario a few minutes ago — makes its first
 * part stale. Returns a warning naming how many sensors overlap (empty: none), from the sensor
 * board of the running system (`GET /api/sensors`, latest timestamp per sensor).
 */
export async function staleOverlap(sim: Simulation, districts: string[], api: { url: string; token: string }): Promise<string> {
  const mine = new Set(sim.sensors);
  let newest = 0;
  let overlapping = 0;
  for (const d of districts) {
    const res = await fetch(`${api.url.replace(/\/$/, '')}/api/sensors?district=${encodeURIComponent(d)}&limit=1000`, { headers: { authorization: `Bearer ${api.token}` } });
    if (!res.ok) return '';
    for (const s of ((await res.json()) as { sensors: Array<{ id: string; ts: string | null }> }).sensors) {
      const ts = s.ts === null ? NaN : Date.parse(s.ts);
      if (!mine.has(s.id) || !(ts >= sim.t0)) continue;
      overlapping++;
      newest = Math.max(newest, ts);
    }
  }
  if (overlapping === 0) return '';
  const minutes = Math.ceil((newest - sim.t0) / 60_000);
  return `warning: ${overlapping} of this scenario's ${mine.size} sensors already reported readings up to ${minutes} simulated minutes into it (an earlier run); the rules ignore a sensor's older readings, so its first ${minutes} minutes there will count for nothing — wait ${minutes} min or run it on a fresh system`;
}
