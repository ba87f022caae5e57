import { z } from 'zod';
import { parseConfig, portFromEnv } from '../lib/env.ts';
import { SharedEnv, sharedFromEnv, type SharedConfig } from '../lib/shared-config.ts';

const GatewayEnv = SharedEnv.extend({
  FLOODGATE_MQTT_HOST: z.string().min(1).default('0.0.0.0'),
  FLOODGATE_MQTT_PORT: portFromEnv(1883),
});

export interface GatewayConfig {
  host: string;
  /** 0 = any free port (tests). */
  port: number;
}

export function gatewayConfigFromEnv(env: Record<string, string | undefined>): { gateway: GatewayConfig; shared: SharedConfig } {
  const e = parseConfig(GatewayEnv, env, 'gateway');
  return { gateway: { host: e.FLOODGATE_MQTT_HOST, port: e.FLOODGATE_MQTT_PORT }, shared: sharedFromEnv(e) };
}
