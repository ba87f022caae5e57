import { z } from 'zod';
import { join } from 'node:path';
import { frozen, optionalPortFromEnv, parseConfig, optionalString } from '../lib/env.ts';
import { SharedEnv, sharedFromEnv } from '../config/shared-config.ts';
import { DEFAULT_RULES_PATH } from './load.ts';

/** The rules service's environment, and the configuration it makes: one schema, its type inferred. */
const RulesEnv = SharedEnv.extend({
  FLOODGATE_RULES_CLIENT_ID: z.string().min(1).max(60).default('floodgate-rules'),
  FLOODGATE_RULES_FILE: optionalString,
  FLOODGATE_RULES_TICK_S: z.coerce.number().int().min(1).max(3600).default(10),
  FLOODGATE_METRICS_PORT: optionalPortFromEnv(),
}).transform((e) => {
  const shared = sharedFromEnv(e);
  return {
    shared,
    metricsPort: e.FLOODGATE_METRICS_PORT,
    rules: {
      mqttUrl: shared.mqttUrl,
      clientId: e.FLOODGATE_RULES_CLIENT_ID,
      /** The rules file (YAML or JSON); reloaded when it changes. */
      rulesPath: e.FLOODGATE_RULES_FILE ?? DEFAULT_RULES_PATH,
      /** Engine state (windows, alert phases), saved before each message is acknowledged. */
      statePath: join(shared.dataDir, 'rules-state.db'),
      /** Set: the engine state lives in this PostgreSQL database instead (shared by the instances of an HA deployment). */
      databaseUrl: shared.databaseUrl,
      /** With a database: how long the rules lease lasts without renewal (a standby takes over at most about this long after the active dies). */
      leaseTtlMs: shared.leaseTtlMs,
      /** This instance's name in the lease table. */
      instanceId: shared.instanceId,
      /** How often silent sensors are checked (offline). */
      tickMs: e.FLOODGATE_RULES_TICK_S * 1000,
      /** How often the rules file is checked for changes. */
      reloadPollMs: 1000,
    },
  };
});

export type RulesConfig = z.output<typeof RulesEnv>['rules'];

export function rulesConfigFromEnv(env: Record<string, string | undefined>): z.output<typeof RulesEnv> {
  return parseConfig(RulesEnv, env, 'rules');
}

/** The defaults (those of the environment's schema) with the data under `dir`, for tests and embedding. */
export function rulesConfig(dir: string, overrides: Partial<RulesConfig> = {}): RulesConfig {
  return frozen({ ...rulesConfigFromEnv({ FLOODGATE_DATA_DIR: dir }).rules, ...overrides });
}
