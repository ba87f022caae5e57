import { z } from 'zod';
import { join } from 'node:path';
import { parseConfig, optionalString } from '../lib/env.ts';
import { SharedEnv, sharedFromEnv, type SharedConfig } from '../config/shared-config.ts';
import { DEFAULT_RULES_PATH } from './load.ts';

const RulesEnv = SharedEnv.extend({
  FLOODGATE_RULES_CLIENT_ID: z.string().min(1).max(60).default('floodgate-rules'),
  FLOODGATE_RULES_FILE: optionalString,
  FLOODGATE_RULES_TICK_S: z.coerce.number().int().min(1).max(3600).default(10),
});

export interface RulesConfig {
  mqttUrl: string;
  clientId: string;
  /** The rules file (YAML or JSON); reloaded when it changes. */
  rulesPath: string;
  /** Engine state (windows, alert phases), saved before each message is acknowledged. */
  statePath: string;
  /** How often silent sensors are checked (offline). */
  tickMs: number;
  /** How often the rules file is checked for changes. */
  reloadPollMs: number;
}

export function rulesConfigFromEnv(env: Record<string, string | undefined>): { rules: RulesConfig; shared: SharedConfig } {
  const e = parseConfig(RulesEnv, env, 'rules');
  const shared = sharedFromEnv(e);
  return {
    rules: {
      mqttUrl: shared.mqttUrl,
      clientId: e.FLOODGATE_RULES_CLIENT_ID,
      rulesPath: e.FLOODGATE_RULES_FILE ?? DEFAULT_RULES_PATH,
      statePath: join(shared.dataDir, 'rules-state.db'),
      tickMs: e.FLOODGATE_RULES_TICK_S * 1000,
      reloadPollMs: 1000,
    },
    shared,
  };
}

/** A full configuration with defaults under `dir`, for tests and embedding. */
export function rulesConfig(dir: string, overrides: Partial<RulesConfig> = {}): RulesConfig {
  return { mqttUrl: 'mqtt://127.0.0.1:1883', clientId: 'floodgate-rules', rulesPath: DEFAULT_RULES_PATH, statePath: join(dir, 'rules-state.db'), tickMs: 10_000, reloadPollMs: 1000, ...overrides };
}
