/**
 * What the CLI's client commands (sim, users, devices, police-receiver …) take from the
 * environment, parsed once by one schema: where the data directory is, and where a local
 * `floodgate up` listens. `sim` used to connect to 1883 and 8080 whatever FLOODGATE_MQTT_PORT and
 * FLOODGATE_HTTP_PORT said, and `sim --predict` read FLOODGATE_RULES while the rules service
 * reads FLOODGATE_RULES_FILE; the data-dir default was written out in five places.
 */
import { z } from 'zod';
import { optionalPortFromEnv, optionalString, parseConfig, portFromEnv } from '../lib/env.ts';

const ClientEnv = z.object({
  FLOODGATE_DATA_DIR: z.string().min(1).default('./data'),
  FLOODGATE_REGISTRY: optionalString,
  FLOODGATE_RULES_FILE: optionalString,
  FLOODGATE_MQTT_URL: optionalString,
  FLOODGATE_MQTT_PORT: portFromEnv(1883),
  FLOODGATE_API_URL: optionalString,
  FLOODGATE_HTTP_PORT: portFromEnv(8080),
  FLOODGATE_API_TOKEN: optionalString,
  FLOODGATE_SL651_PORT: optionalPortFromEnv(1),
});

export interface ClientEnvironment {
  dataDir: string;
  /** FLOODGATE_REGISTRY, if set (else the registry in the data directory). */
  registry: string | undefined;
  /** FLOODGATE_RULES_FILE, if set (else the bundled rules). */
  rulesPath: string | undefined;
  /** FLOODGATE_MQTT_URL, else the local `up`'s gateway on FLOODGATE_MQTT_PORT. */
  mqttUrl: string;
  /** FLOODGATE_API_URL, else the local `up`'s API on FLOODGATE_HTTP_PORT. */
  apiUrl: string;
  apiToken: string | undefined;
  /** The local `up`'s SL 651 centre (FLOODGATE_SL651_PORT), if it has one. */
  sl651: { host: string; port: number } | undefined;
}

export function clientEnv(env: Record<string, string | undefined>): ClientEnvironment {
  const e = parseConfig(ClientEnv, env, 'command');
  return {
    dataDir: e.FLOODGATE_DATA_DIR,
    registry: e.FLOODGATE_REGISTRY,
    rulesPath: e.FLOODGATE_RULES_FILE,
    mqttUrl: e.FLOODGATE_MQTT_URL ?? `mqtt://127.0.0.1:${e.FLOODGATE_MQTT_PORT}`,
    apiUrl: e.FLOODGATE_API_URL ?? `http://127.0.0.1:${e.FLOODGATE_HTTP_PORT}`,
    apiToken: e.FLOODGATE_API_TOKEN,
    sl651: e.FLOODGATE_SL651_PORT === undefined ? undefined : { host: '127.0.0.1', port: e.FLOODGATE_SL651_PORT },
  };
}
