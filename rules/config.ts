import { z } from 'zod';
import { parseConfig } from '../lib/env.ts';
import { SharedEnv, sharedFromEnv, type SharedConfig } from '../lib/shared-config.ts';

const RulesEnv = SharedEnv.extend({
  FLOODGATE_RULES_CLIENT_ID: z.string().min(1).max(60).default('floodgate-rules'),
});

export interface RulesConfig {
  mqttUrl: string;
  clientId: string;
}

export function rulesConfigFromEnv(env: Record<string, string | undefined>): { rules: RulesConfig; shared: SharedConfig } {
  const e = parseConfig(RulesEnv, env, 'rules');
  const shared = sharedFromEnv(e);
  return { rules: { mqttUrl: shared.mqttUrl, clientId: e.FLOODGATE_RULES_CLIENT_ID }, shared };
}
