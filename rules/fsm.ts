/**
 * The alert state machine every rule shares (Prometheus / Grafana alerting semantics):
 *
 *   normal ──on──▶ pending ──on held `forS` over `forReadings`──▶ firing
 *   firing ──off──▶ resolving ──off held `clearForS` over `clearForReadings`──▶ normal
 *
 * `on` and `off` are separate conditions, so a rule has hysteresis: between them (neither on nor
 * off) a pending alert falls back to normal and a resolving one goes back to firing. Times are
 * the readings' own timestamps (event time), never the wall clock. Pure: state in, state out.
 */
export type Phase = 'normal' | 'pending' | 'firing' | 'resolving';

export interface Fsm {
  phase: Phase;
  /** Start of the current pending / resolving run (sensor time, ms). */
  since: number;
  /** Readings in the current pending / resolving run. */
  count: number;
  /** Set while firing or resolving: the episode's id. */
  alertId?: string;
}

export interface Hold {
  forS: number;
  forReadings: number;
  clearForS: number;
  clearForReadings: number;
}

export const NORMAL: Fsm = { phase: 'normal', since: 0, count: 0 };

export type FsmStep = { fsm: Fsm; change?: 'fired' | 'resolved' };

/**
 * One reading's step. `force` fires at once from normal or pending (a rule's early trigger, such
 * as a fast rise). A step that fires names the episode `alertIdFor(ruleId, subjectId, began)`, where
 * `began` is the first reading of the run that fired it, or the rule's own idea of when its
 * condition began (`c.began`).
 */
export function stepFsm(fsm: Fsm, c: { on: boolean; off: boolean; force?: boolean; began?: number | undefined }, ts: number, hold: Hold, ruleId: string, subjectId: string): FsmStep {
  switch (fsm.phase) {
    case 'normal':
    case 'pending': {
      if (!c.on && !c.force) return fsm.phase === 'normal' ? { fsm } : { fsm: NORMAL };
      const run = fsm.phase === 'pending' ? { since: fsm.since, count: fsm.count + 1 } : { since: ts, count: 1 };
      if (c.force || (run.count >= hold.forReadings && ts - run.since >= hold.forS * 1000)) {
        // Named by when the condition began (the pending run's first reading), not by the reading
        // that fired it: evidence that arrives in another order (a neighbour's rain before or after
        // the high reading, after a failover's replay) may fire the episode on another reading,
        // and it is still the same episode, with the same id.
        const began = c.began ?? (c.on ? run.since : ts);
        return { fsm: { phase: 'firing', since: ts, count: 0, alertId: alertIdFor(ruleId, subjectId, began) }, change: 'fired' };
      }
      return { fsm: { phase: 'pending', ...run } };
    }
    case 'firing':
    case 'resolving': {
      if (!c.off) return fsm.phase === 'firing' ? { fsm } : { fsm: { phase: 'firing', since: fsm.since, count: 0, alertId: fsm.alertId } };
      const run = fsm.phase === 'resolving' ? { since: fsm.since, count: fsm.count + 1 } : { since: ts, count: 1 };
      if (run.count >= hold.clearForReadings && ts - run.since >= hold.clearForS * 1000) {
        return { fsm: NORMAL, change: 'resolved' };
      }
      return { fsm: { phase: 'resolving', ...run, alertId: fsm.alertId } };
    }
  }
}

export const isActive = (f: Fsm): boolean => f.phase === 'firing' || f.phase === 'resolving';

/** Alert ids name the rule, the subject and the sensor time the episode began: a replay maps to the same id. */
export function alertIdFor(ruleId: string, subjectId: string, ts: number): string {
  return `${ruleId}:${subjectId}:${ts}`;
}
