/**
 * Run a scenario file against a live system (its readings through real devices at `speed`), and
 * check what the scenario expects against the running system's alerts API (`--expect`).
 */
import type { Provisioning, Registry } from '../config/registry.ts';
import type { Clock } from '../lib/clock.ts';
import { replayReadings, type ReplaySummary } from './replay.ts';
import type { Scenario } from './scenario.ts';
import { simulateScenario } from './simulate.ts';

export interface ScenarioRun extends ReplaySummary {
  scenario: string;
  /** Noise-free peak ponding per underpass (cm). */
  peaks: Record<string, number>;
}

export async function runScenario(s: Scenario, o: { mqttUrl: string; speed: number }, deps: { registry: Registry; provisioning: Provisioning; clock: Clock }): Promise<ScenarioRun> {
  // The storm ends now: every reading is a real, recent reading for the system under test.
  const sim = simulateScenario(s, deps.registry, deps.clock.now());
  const r = await replayReadings(sim.readings, { mqttUrl: o.mqttUrl, speed: o.speed, shift: false }, deps);
  return { scenario: s.name, ...r, peaks: sim.peaks };
}

/**
 * What does not hold (empty when everything expected happened), counting only alerts the system
 * recorded since `sinceMs` (wall clock: the run's start). Polls until `timeoutMs`.
 */
export async function checkExpectations(s: Scenario, api: { url: string; token: string }, timeoutMs: number, sinceMs: number): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  let problems: string[] = [];
  for (;;) {
    const res = await fetch(`${api.url.replace(/\/$/, '')}/api/alerts?limit=1000`, { headers: { authorization: `Bearer ${api.token}` } });
    if (!res.ok) return [`the alerts API answered ${res.status} at ${api.url}`];
    const alerts = ((await res.json()) as { alerts: Array<{ ruleId: string; subjectId: string; openedAt: number | null }> }).alerts.filter((a) => (a.openedAt ?? 0) >= sinceMs);
    const has = (rule: string, subject: string) => alerts.some((a) => a.ruleId === rule && a.subjectId === subject);
    problems = [
      ...s.expect.closed.filter((site) => !has('underpass-closure', site)).map((site) => `${site} did not close`),
      ...s.expect.open.filter((site) => has('underpass-closure', site)).map((site) => `${site} closed but should have stayed open`),
      ...s.expect.alerts.filter((a) => !has(a.rule, a.subject)).map((a) => `no ${a.rule} alert for ${a.subject}`),
    ];
    // What must not happen is only known at the end; what must happen may still be on its way.
    const missing = problems.filter((p) => !p.includes('should have stayed open'));
    if (missing.length === 0 || Date.now() >= deadline) return problems;
    await new Promise((r) => setTimeout(r, 250));
  }
}
