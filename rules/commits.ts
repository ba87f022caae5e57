/**
 * The order in which the engine's work becomes durable. A group of readings is acknowledged only
 * after its alert events were acknowledged by the broker and the state it produced is saved;
 * saves run in group order, and a tick's offline alerts are saved in the same chain.
 *
 * The engine updates its state in place as it evaluates. If a group's events or save fail, the
 * state in memory is ahead of what was acknowledged: the chain is tainted, every later group fails
 * too, and on the reconnect (which redelivers all of them) the state is reloaded from the last
 * good save.
 */
import type { Counter } from '../lib/metrics.ts';
import type { Logger } from '../lib/logger.ts';
import type { EngineState } from './engine.ts';
import type { StateStore } from './state-store.ts';

/** One message evaluated: its events on their way, and its state serialized right after it. */
export interface Evaluated {
  sensor: string;
  district?: string;
  published: Promise<void>;
  /**
   * The sensor's (and district's) state right after this message, serialized now. The group's
   * commit saves these, not the live state: by commit time the live state may already hold later
   * readings whose alert events are still on their way, and a save of those followed by a SIGKILL
   * lost the events for good (the redelivered readings were stale against the saved state) — the
   * chaos suite's closures that never reached the police.
   */
  sensorJson: string;
  districtJson?: string;
}

export interface CommitChain {
  /** True after a failed commit, until `reloadIfTainted` restored the last save. */
  tainted(): boolean;
  /** Save a group after its events are out; rejects (and taints) if they or the save fail. */
  commitGroup(items: Array<Evaluated | null>): Promise<void>;
  /** Save a tick's snapshot after its events are out; a failure is logged and counted, never thrown. */
  commitTick(published: Promise<void>, snapshot: Map<string, string>): void;
  /** The connection is back: if a commit failed, reload the state from its last good save. */
  reloadIfTainted(): void;
  /** While that reload runs, the promise of its end (messages wait for it); else undefined. */
  restoring(): Promise<void> | undefined;
  /** Everything queued so far has been saved (or has failed). */
  settled(): Promise<void>;
}

export function createCommitChain(d: { store: StateStore; state: EngineState; faults: Counter<string>; logger: Logger; saved(): void }): CommitChain {
  let tainted = false;
  let commits: Promise<void> = Promise.resolve();
  let restoring: Promise<void> | undefined;
  return {
    tainted: () => tainted,
    commitGroup(items) {
      const done = items.filter((i): i is Evaluated => i !== null);
      const run = commits.then(async () => {
        await Promise.all(done.map((i) => i.published));
        // The latest snapshot of each sensor and district within the group.
        const sensors = new Map<string, string>();
        const districts = new Map<string, string>();
        for (const i of done) {
          if (i.sensorJson) sensors.set(i.sensor, i.sensorJson);
          if (i.district && i.districtJson) districts.set(i.district, i.districtJson);
        }
        await d.store.saveSerialized(sensors, districts);
        d.saved();
      });
      commits = run;
      run.catch(() => {
        tainted = true;
        d.faults.inc({ where: 'commit' });
      });
      return run;
    },
    commitTick(published, snapshot) {
      published.catch(() => undefined); // handled below, in order
      const link = commits.then(() =>
        published
          .then(() => d.store.saveSerialized(snapshot, new Map()))
          .catch((err: unknown) => {
            // Not a failed commit (no reading waits on it): the offline flag is set in memory, the
            // next tick does not repeat it, and a restart before the save re-detects the silence.
            d.faults.inc({ where: 'tick' });
            d.logger.error({ err }, 'could not publish or save offline alerts');
          }),
      );
      link.catch(() => undefined); // an earlier failed commit: the groups after it report that
      commits = link;
    },
    reloadIfTainted() {
      if (!tainted || restoring) return;
      // The store may be a server (PostgreSQL): the reload is asynchronous, and the redelivered
      // messages wait for it (restoring()). If it fails the chain stays tainted: messages are
      // refused, the connection drops, and the next connect tries again.
      restoring = d.store
        .load()
        .then((saved) => {
          d.state.sensors = saved.sensors;
          d.state.districts = saved.districts;
          commits = Promise.resolve();
          tainted = false;
          d.logger.warn({ sensors: d.state.sensors.size }, 'engine state reloaded from its last save after a failed commit');
        })
        .catch((err: unknown) => {
          d.faults.inc({ where: 'reload' });
          d.logger.error({ err }, 'could not reload the engine state; retrying on the next connection');
        })
        .finally(() => (restoring = undefined));
    },
    restoring: () => restoring,
    settled: () => commits.catch(() => undefined),
  };
}
