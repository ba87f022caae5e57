import { z } from 'zod';
import { join } from 'node:path';
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { optionalString } from '../lib/env.ts';
import { dataFiles, loadProvisioning, loadRegistry, type Registry } from './registry.ts';

/** Settings every service reads: where the data and registry are, and how services log in to MQTT. */
export const SharedEnv = z.object({
  FLOODGATE_DATA_DIR: z.string().min(1).default('./data'),
  FLOODGATE_REGISTRY: optionalString,
  FLOODGATE_SERVICE_SECRET: optionalString,
  FLOODGATE_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  FLOODGATE_MQTT_URL: z.string().regex(/^(mqtts?|wss?|tcp):\/\//, 'must be an mqtt://, mqtts://, ws:// or wss:// URL').default('mqtt://127.0.0.1:1883'),
  FLOODGATE_DATABASE_URL: optionalString.pipe(z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL').optional()),
  // 10 s: a standby asks every second, so it takes over within ~11 s of the active's death (goal ≤ 15 s).
  FLOODGATE_LEASE_TTL_S: z.coerce.number().min(1).max(300).default(10),
  FLOODGATE_INSTANCE_ID: optionalString.pipe(z.string().max(100).optional()),
});

export interface SharedConfig {
  dataDir: string;
  registryPath: string;
  /** undefined: read from the provisioning file in the data dir. */
  serviceSecret: string | undefined;
  mqttUrl: string;
  /** PostgreSQL for what the instances of an HA deployment share (issue 21); undefined: embedded SQLite. Redacted in logs. */
  databaseUrl: string | undefined;
  leaseTtlMs: number;
  /** This instance's name in the lease table (default: host name and a random suffix). */
  instanceId: string;
}

export function sharedFromEnv(e: z.infer<typeof SharedEnv>): SharedConfig {
  return {
    dataDir: e.FLOODGATE_DATA_DIR,
    registryPath: e.FLOODGATE_REGISTRY ?? join(e.FLOODGATE_DATA_DIR, 'registry.json'),
    serviceSecret: e.FLOODGATE_SERVICE_SECRET,
    mqttUrl: e.FLOODGATE_MQTT_URL,
    databaseUrl: e.FLOODGATE_DATABASE_URL,
    leaseTtlMs: e.FLOODGATE_LEASE_TTL_S * 1000,
    instanceId: e.FLOODGATE_INSTANCE_ID ?? `${hostname()}-${randomUUID().slice(0, 8)}`,
  };
}

/** Load what a standalone service needs from disk; called by main.ts, never by createX. */
export function loadSharedDeps(shared: SharedConfig): { registry: Registry; serviceSecret: string } {
  const registry = loadRegistry(shared.registryPath);
  const serviceSecret = shared.serviceSecret ?? loadProvisioning(dataFiles(shared.dataDir).provisioning).serviceSecret;
  return { registry, serviceSecret };
}
