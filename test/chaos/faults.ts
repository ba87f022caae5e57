/** A chaos run's faults: steps at planned moments, run one after another on their own timeline. */
export interface FaultStep {
  atMs: number;
  what: string;
  act(): Promise<void>;
}

/** Runs the plan (sorted by time) from now; each step is logged as "12.3 s: what" when it starts. */
export async function runFaults(plan: FaultStep[], log: string[]): Promise<void> {
  const t0 = Date.now();
  for (const step of [...plan].sort((a, b) => a.atMs - b.atMs)) {
    const wait = step.atMs - (Date.now() - t0);
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    log.push(`${((Date.now() - t0) / 1000).toFixed(1)} s: ${step.what}`);
    await step.act();
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
