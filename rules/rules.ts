/**
 * Rules service: readings → the engine (rules/engine.ts) → alert events on
 * floodgate/alerts/{ruleId}/{subjectId} (QoS 1, retained = current state).
 *
 * The engine's work itself runs in ./active.ts. With one instance (embedded SQLite, `floodgate
 * up`) it simply starts. With FLOODGATE_DATABASE_URL, any number of instances share the state in
 * PostgreSQL and exactly one is active, by the `rules` lease (lib/leadership.ts): the others stand
 * by without a broker connection, and the one that wins the lease loads the last saved state and
 * takes over the persistent session. Its saves are fenced by its epoch (LEASE_LOST), so a leader
 * that was paused or cut off and replaced cannot overwrite its successor's state.
 */
import type { Registry } from '../config/registry.ts';
import type { Registry as Metrics } from '../lib/metrics.ts';
import type { Logger } from '../lib/logger.ts';
import type { TimerClock } from '../lib/clock.ts';
import { watchAndReload } from '../config/watch-registry.ts';
import type { SensorState } from './engine.ts';
import { loadRules, type LoadedRules } from './load.ts';
import { openStateStore, type StateStore } from './state-store.ts';
import { openPgStateStore, type SaveFence } from './pg-state-store.ts';
import { openOnPool } from '../lib/pg-pool.ts';
import { migrateLeases } from '../lib/pg-lease.ts';
import { runActivePart } from '../lib/leadership.ts';
import { engineContext } from './context.ts';
import { rulesMetrics, startActive, type ActiveRules } from './active.ts';
import type { RulesConfig } from './config.ts';
import type pg from 'pg';

export interface RulesDeps {
  logger: Logger;
  metrics: Metrics;
  registry: Registry;
  serviceSecret: string;
  clock: TimerClock;
}

export interface RulesHandle {
  /** A sensor's engine state (read-only view, for tests and diagnostics); undefined on a standby. */
  state(sensorId: string): SensorState | undefined;
  /** Is this instance the active one (always, without a database)? */
  active(): boolean;
  /** Does it reach the database of its lease and state? (always, without one) */
  databaseUp(): boolean;
  /** The rules in force. */
  rules(): LoadedRules;
  /** The registry file changed: new devices and sites take part from the next reading. */
  updateRegistry(next: Registry): void;
  close(): Promise<void>;
}

/** PostgreSQL: the pool, the lease table and the state store whose saves the lease fences. */
async function openShared(url: string, fence: SaveFence, log: Logger): Promise<{ pool: pg.Pool; store: StateStore }> {
  const { pool, value: store } = await openOnPool(url, log, 4, async (p) => {
    await migrateLeases(p);
    return openPgStateStore(p, fence);
  });
  return { pool, store };
}

export async function createRules(config: RulesConfig, deps: RulesDeps): Promise<RulesHandle> {
  const log = deps.logger.child({ component: 'rules' });
  let registry = deps.registry;
  let loaded = loadRules(config.rulesPath, registry.sites);
  let ctx = engineContext(registry, loaded);
  const m = rulesMetrics(deps.metrics);
  log.info({ path: loaded.path, sites: loaded.sites.size }, 'rules loaded');

  const watch = watchAndReload(
    config.rulesPath,
    'rules',
    (p) => loadRules(p, registry.sites),
    (next) => {
      loaded = next;
      ctx = engineContext(registry, next);
      m.reloads.inc({ result: 'ok' });
      log.info({ path: next.path, sites: next.sites.size }, 'rules reloaded');
    },
    log,
    { intervalMs: config.reloadPollMs, onRefused: () => m.reloads.inc({ result: 'refused' }) },
  );

  // The fence reads the leader's epoch: the leader is made after the store it fences.
  let epoch: () => number | undefined = () => undefined;
  const shared = config.databaseUrl
    ? await openShared(config.databaseUrl, { role: 'rules', epoch: () => epoch() }, log).catch(async (err: unknown) => {
        await watch.close();
        throw err;
      })
    : undefined;
  const store = shared?.store ?? openStateStore(config.statePath);
  if (shared) log.info('engine state in PostgreSQL');
  const leader = await runActivePart<ActiveRules>({
    lease: shared && { pool: shared.pool, role: 'rules', holder: config.instanceId, ttlMs: config.leaseTtlMs, clock: deps.clock, logger: log, metrics: deps.metrics },
    start: (mayRun, signal) => startActive({ mqttUrl: config.mqttUrl, clientId: config.clientId, tickMs: config.tickMs, serviceSecret: deps.serviceSecret, clock: deps.clock, store, log, m, ctx: () => ctx, mayRun, ...(signal ? { signal } : {}) }),
  }).catch(async (err: unknown) => {
    await watch.close();
    await store.close();
    throw err;
  });
  epoch = () => leader.epoch();
  const current = () => leader.active();
  const stop = async () => {
    await leader.close();
    await store.close();
    await shared?.pool.end();
  };

  let closed = false;
  return {
    state: (id) => current()?.state.sensors.get(id),
    active: () => current() !== undefined,
    databaseUp: () => leader.databaseUp(),
    rules: () => loaded,
    updateRegistry(next: Registry) {
      // New devices and sites get the rules in force; a rules file that names a site the new
      // registry lacks keeps the previous registry (logged), as a refused rules file would.
      try {
        const rules = loadRules(loaded.path, next.sites);
        registry = next;
        loaded = rules;
        ctx = engineContext(registry, rules);
      } catch (err) {
        m.reloads.inc({ result: 'refused' });
        log.error({ err }, 'registry change refused: the rules file does not fit it');
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      await watch.close();
      await stop();
      log.info('rules closed');
    },
  };
}
