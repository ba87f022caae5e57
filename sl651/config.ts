import { z } from 'zod';
import { join, resolve } from 'node:path';
import { frozen, intFromEnv as int, optionalPortFromEnv, optionalString, parseConfig } from '../lib/env.ts';
import { parseZone, type Zone } from '../lib/zone.ts';
import { SharedEnv, sharedFromEnv } from '../config/shared-config.ts';
import { MAX_BODY } from '../contracts/sl651-frame.ts';

const optionalPort = optionalPortFromEnv();

const Sl651Env = SharedEnv.extend({
  /** Off unless set: `floodgate up` opens the listener only when asked; `floodgate sl651` needs it. */
  FLOODGATE_SL651_PORT: optionalPort,
  FLOODGATE_SL651_HOST: z.string().min(1).default('0.0.0.0'),
  /** ESC (keep): the station stays online, as the real centre in ../shared/sl651 answers; EOT (release): it hangs up after each reply. */
  FLOODGATE_SL651_LINK: z.enum(['keep', 'release']).default('keep'),
  /** The stations' clock: SL 651 times are wall times with no zone (China Standard Time in China). */
  FLOODGATE_SL651_TZ: z
    .string()
    .default('+08:00')
    .refine((t) => parseZone(t) !== undefined, 'must be an offset (+08:00) or an IANA zone (Asia/Shanghai)'),
  FLOODGATE_SL651_MAX_CONNECTIONS: int(1, 1_000_000, 20_000),
  /** A station's modem sends a keep-alive every minute or so; a link silent for this long is closed. */
  FLOODGATE_SL651_IDLE_S: int(10, 86_400, 300),
  /** The frame-length cap: the body (the length field's 12 bits allow 4095). */
  FLOODGATE_SL651_MAX_BODY: int(64, MAX_BODY, MAX_BODY),
  /** Frames per second per station, sustained, and the burst (a multi-packet image report's packets). */
  FLOODGATE_SL651_STATION_RATE: z.coerce.number().positive().max(1000).default(2),
  FLOODGATE_SL651_STATION_BURST: int(1, 10_000, 60),
  /** A multi-packet report whose packets stop coming is dropped after this long. */
  FLOODGATE_SL651_REASSEMBLY_S: int(5, 3600, 120),
  /** A reassembled report's cap (an image report). */
  FLOODGATE_SL651_MAX_REPORT_BYTES: int(1024, 64 * 1024 * 1024, 4 * 1024 * 1024),
  /** Where image reports (36) are written, one file per image; default DATA_DIR/sl651-images. */
  FLOODGATE_SL651_IMAGE_DIR: optionalString,
  FLOODGATE_SL651_CLIENT_ID: z.string().min(1).max(64).optional(),
  FLOODGATE_METRICS_PORT: optionalPort,
});

export interface Sl651Config {
  host: string;
  /** 0 = any free port (tests). */
  port: number;
  mqttUrl: string;
  clientId: string;
  link: 'keep' | 'release';
  zone: Zone;
  maxConnections: number;
  idleMs: number;
  maxBody: number;
  stationRatePerS: number;
  stationBurst: number;
  reassemblyMs: number;
  maxReportBytes: number;
  imageDir: string;
}

export function sl651ConfigFromEnv(env: Record<string, string | undefined>) {
  const e = parseConfig(Sl651Env, env, 'sl651');
  const shared = sharedFromEnv(e);
  const sl651: Sl651Config | undefined =
    e.FLOODGATE_SL651_PORT === undefined
      ? undefined
      : {
          host: e.FLOODGATE_SL651_HOST,
          port: e.FLOODGATE_SL651_PORT,
          mqttUrl: shared.mqttUrl,
          // One connection per instance (clean session): what it publishes is acknowledged before the station is answered.
          clientId: e.FLOODGATE_SL651_CLIENT_ID ?? `floodgate-sl651-${shared.instanceId}`.slice(0, 64),
          link: e.FLOODGATE_SL651_LINK,
          zone: parseZone(e.FLOODGATE_SL651_TZ)!,
          maxConnections: e.FLOODGATE_SL651_MAX_CONNECTIONS,
          idleMs: e.FLOODGATE_SL651_IDLE_S * 1000,
          maxBody: e.FLOODGATE_SL651_MAX_BODY,
          stationRatePerS: e.FLOODGATE_SL651_STATION_RATE,
          stationBurst: e.FLOODGATE_SL651_STATION_BURST,
          reassemblyMs: e.FLOODGATE_SL651_REASSEMBLY_S * 1000,
          maxReportBytes: e.FLOODGATE_SL651_MAX_REPORT_BYTES,
          imageDir: resolve(e.FLOODGATE_SL651_IMAGE_DIR ?? join(shared.dataDir, 'sl651-images')),
        };
  return { sl651, shared, metricsPort: e.FLOODGATE_METRICS_PORT };
}

/** The defaults on 127.0.0.1 and any free port, for tests and `floodgate up` overrides. */
export function sl651Config(overrides: Partial<Sl651Config> = {}): Sl651Config {
  return frozen({ ...sl651ConfigFromEnv({ FLOODGATE_SL651_HOST: '127.0.0.1', FLOODGATE_SL651_PORT: '0' }).sl651!, ...overrides });
}
