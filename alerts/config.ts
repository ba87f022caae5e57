import { z } from 'zod';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { frozen, parseConfig, portFromEnv, optionalString } from '../lib/env.ts';
import { SharedEnv, sharedFromEnv } from '../config/shared-config.ts';
import { allOrNoInflux, InfluxEnvShape, influxFromEnv } from '../lib/influx-env.ts';

/** The demo city's schematic district outlines (config/districts-geojson.ts). */
export const BUNDLED_DISTRICTS = fileURLToPath(new URL('../config/districts.geojson', import.meta.url));

const AlertsEnv = SharedEnv.extend({
  FLOODGATE_HTTP_HOST: z.string().min(1).default('0.0.0.0'),
  FLOODGATE_HTTP_PORT: portFromEnv(8080),
  FLOODGATE_API_TOKEN: optionalString.pipe(z.string().min(16, 'FLOODGATE_API_TOKEN must be at least 16 characters').optional()),
  FLOODGATE_POLICE_URL: z.url({ protocol: /^https?$/, error: 'FLOODGATE_POLICE_URL must be an http(s) URL' }).default('http://127.0.0.1:9090/notices'),
  FLOODGATE_POLICE_SECRET: optionalString,
  FLOODGATE_NOTICE_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(10_000),
  FLOODGATE_OUTBOX_POLL_MS: z.coerce.number().int().min(10).max(60_000).default(1000),
  FLOODGATE_ALERTS_CLIENT_ID: z.string().min(1).max(64).default('floodgate-alerts'),
  FLOODGATE_NOTICE_MAX_AGE_S: z.coerce.number().int().min(10).max(7 * 86_400).default(1800),
  FLOODGATE_CAP_SENDER: z.string().min(1).max(200).default('floodgate'),
  FLOODGATE_PAGE_GROUP_S: z.coerce.number().int().min(0).max(3600).default(60),
  FLOODGATE_ESCALATE_AFTER_S: z.coerce.number().int().min(10).max(86_400).default(600),
  FLOODGATE_DISTRICTS_GEOJSON: z.string().min(1).default(BUNDLED_DISTRICTS),
  /** The rules file, for the levels drawn on the console's charts (the rules service reads it too). */
  FLOODGATE_RULES_FILE: optionalString,
  ...InfluxEnvShape,
  FLOODGATE_MAP_TILES: optionalString.pipe(z.url({ protocol: /^https?$/, error: 'FLOODGATE_MAP_TILES must be an http(s) XYZ URL template such as https://tiles.example/{z}/{x}/{y}.png' }).optional()),
  FLOODGATE_CONSOLE_COALESCE_MS: z.coerce.number().int().min(10).max(10_000).default(250),
  /** Where the SL 651 centre writes image reports (sl651/config.ts): the API serves them. */
  FLOODGATE_SL651_IMAGE_DIR: optionalString,
})
  .superRefine(allOrNoInflux)
  .transform((e) => {
    const shared = sharedFromEnv(e);
    return {
      shared,
      /** Secrets that may also live in files: resolved by main.ts (resolveAlertsConfig). */
      apiToken: e.FLOODGATE_API_TOKEN,
      policeSecret: e.FLOODGATE_POLICE_SECRET,
      rulesPath: e.FLOODGATE_RULES_FILE,
      partial: {
        host: e.FLOODGATE_HTTP_HOST,
        port: e.FLOODGATE_HTTP_PORT,
        mqttUrl: shared.mqttUrl,
        clientId: e.FLOODGATE_ALERTS_CLIENT_ID,
        dbPath: join(shared.dataDir, 'alerts.db'),
        /** Set: alerts, silences and the outbox live in this PostgreSQL database instead (docs/ha.md). */
        databaseUrl: shared.databaseUrl,
        /** With a database: the alerts lease (one active instance) and this instance's name in it. */
        leaseTtlMs: shared.leaseTtlMs,
        instanceId: shared.instanceId,
        /** Users with roles (viewer / officer / admin), tokens hashed: `floodgate users`. */
        usersPath: join(shared.dataDir, 'api-users.json'),
        /** Endpoint for districts whose registry url is `$FLOODGATE_POLICE_URL`. */
        policeUrl: e.FLOODGATE_POLICE_URL,
        noticeTimeoutMs: e.FLOODGATE_NOTICE_TIMEOUT_MS,
        outboxPollMs: e.FLOODGATE_OUTBOX_POLL_MS,
        /** A notice not delivered this long after it was queued fails for good and escalates. */
        noticeMaxAgeMs: e.FLOODGATE_NOTICE_MAX_AGE_S * 1000,
        /** CAP `sender` of CAP notices. */
        capSender: e.FLOODGATE_CAP_SENDER,
        /** A critical alert nobody acknowledged this long after it was recorded is escalated. */
        escalateAfterMs: e.FLOODGATE_ESCALATE_AFTER_S * 1000,
        /** How often that is checked. */
        escalateCheckMs: 10_000,
        /** Duty-channel messages of the same state, rule and district within this window are one page. */
        pageGroupMs: e.FLOODGATE_PAGE_GROUP_S * 1000,
        /** District outlines for the console's map (GeoJSON, properties.id = district id). */
        districtsGeoJsonPath: e.FLOODGATE_DISTRICTS_GEOJSON,
        /** Where the console's charts read readings: InfluxDB when configured, else ingest's embedded store. */
        readings: readingsFrom(influxFromEnv(e), shared.dataDir),
        /** Basemap tiles for the console's map (XYZ URL template); none by default: the map works offline. */
        mapTiles: e.FLOODGATE_MAP_TILES,
        /** How long the console stream gathers changes into one batch. */
        consoleCoalesceMs: e.FLOODGATE_CONSOLE_COALESCE_MS,
        /** SL 651 stations' image reports, as the centre writes them (GET /api/sensors/:id/images). */
        imageDir: resolve(e.FLOODGATE_SL651_IMAGE_DIR ?? join(shared.dataDir, 'sl651-images')),
      },
    };
  });

/** The configuration the service runs with: the environment's, completed with its secrets. */
export type AlertsConfig = z.output<typeof AlertsEnv>['partial'] & {
  /** Admin bearer token for /api/* and /metrics. */
  apiToken: string;
  /** secretRef → HMAC secret. `FLOODGATE_POLICE_SECRET` is always present. */
  policeSecrets: Record<string, string>;
};

/** What the env gives; secrets that may come from files are resolved by main.ts. */
export function alertsConfigFromEnv(env: Record<string, string | undefined>): z.output<typeof AlertsEnv> {
  return parseConfig(AlertsEnv, env, 'alerts');
}

/** The defaults (those of the environment's schema) with the data under `dir` and the given secrets, for tests and embedding. */
export function alertsConfig(dir: string, overrides: Partial<AlertsConfig> & Pick<AlertsConfig, 'apiToken' | 'policeSecrets'>): AlertsConfig {
  return frozen({ ...alertsConfigFromEnv({ FLOODGATE_DATA_DIR: dir }).partial, ...overrides });
}

export const secretFiles = (dataDir: string) => ({ apiToken: join(dataDir, 'api.token'), police: join(dataDir, 'police.secret') });

/** InfluxDB when configured (the same INFLUX_* variables as ingest), else ingest's embedded store under the data directory. */
export function readingsFrom(influx: ReturnType<typeof influxFromEnv>, dataDir: string): { kind: 'embedded'; path: string } | { kind: 'influxdb'; url: string; token: string; bucket: string; timeoutMs: number } {
  return influx ? { kind: 'influxdb', url: influx.url, token: influx.token, bucket: influx.bucket, timeoutMs: influx.timeoutMs } : { kind: 'embedded', path: join(dataDir, 'readings.db') };
}
