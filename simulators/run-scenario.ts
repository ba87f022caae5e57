/**
 * Run a scenario file against a live system (its readings through real devices at `speed`), and
 * check what the scenario expects against the running system's alerts API (`--expect`).
 */
import type { Provisioning, Registry } from '../config/registry.ts';
import type { Clock } from '../lib/clock.ts';
import { sendAsDevices, type SendSummary } from './replay.ts';
import type { Scenario } from './scenario.ts';
import { simulateScenario } from './simulate.ts';

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
  o: { mqttUrl: string; speed: number },
  deps: { registry: Registry; provisioning: Provisioning; clock: Clock; record?: (line: string) => void },
): Promise<ScenarioRun> {
  // The storm ends now: every reading is a real, recent reading for the system under test.
  const sim = simulateScenario(s, deps.registry, deps.clock.now());
  const r = await sendAsDevices(sim.plan.sends, sim.plan.wrongLogins, o, deps);
  return { scenario: s.name, ...r, peaks: sim.peaks, gusts: sim.gusts, faults: sim.plan.effects };
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
    const alerts: Array<{ ruleId: string; subjectId: string; openedAt: number | null }> = [];
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
