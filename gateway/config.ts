import { z } from 'zod';
import { resolve } from 'node:path';
import { flagFromEnv, frozen, intFromEnv as int, optionalPortFromEnv, parseConfig, portFromEnv, optionalString } from '../lib/env.ts';
import { SharedEnv, sharedFromEnv } from '../config/shared-config.ts';
import { DEFAULT_LIMITS, type GatewayLimits } from './limits.ts';

const optionalPort = optionalPortFromEnv();

const GatewayEnv = SharedEnv.extend({
  FLOODGATE_MQTT_HOST: z.string().min(1).default('0.0.0.0'),
  FLOODGATE_MQTT_PORT: portFromEnv(1883),
  FLOODGATE_MQTT_TLS_PORT: optionalPort,
  FLOODGATE_TLS_CERT: optionalString,
  FLOODGATE_TLS_KEY: optionalString,
  FLOODGATE_MQTT_WS_PORT: optionalPort,
  FLOODGATE_LAB_MODE: flagFromEnv(false),
  FLOODGATE_BROKER_PERSISTENCE: z
    .string()
    .regex(/^(memory|level:.+|rediss?:\/\/.+)$/, 'must be "memory", "level:<dir>" or a redis:// URL')
    .default('memory'),
  FLOODGATE_BROKER_MQ: z
    .string()
    .regex(/^(memory|rediss?:\/\/.+)$/, 'must be "memory" or a redis:// URL')
    .default('memory'),
  FLOODGATE_MAX_PACKET_BYTES: int(128, 256 * 1024 * 1024, DEFAULT_LIMITS.maxPacketBytes),
  FLOODGATE_DEVICE_RATE: z.coerce.number().positive().max(10_000).default(DEFAULT_LIMITS.deviceRatePerS),
  FLOODGATE_DEVICE_BURST: int(1, 100_000, DEFAULT_LIMITS.deviceBurst),
  FLOODGATE_MAX_CONNECTIONS: int(1, 1_000_000, DEFAULT_LIMITS.maxConnections),
  FLOODGATE_KEEPALIVE_MIN_S: int(1, 65535, DEFAULT_LIMITS.keepaliveMinS),
  FLOODGATE_KEEPALIVE_MAX_S: int(1, 65535, DEFAULT_LIMITS.keepaliveMaxS),
  FLOODGATE_MAX_TOPIC_LEVELS: int(4, 100, DEFAULT_LIMITS.maxTopicLevels),
  FLOODGATE_METRICS_PORT: optionalPort,
  FLOODGATE_BROKER_CONCURRENCY: int(1, 100_000, 1000),
})
  .superRefine((e, ctx) => {
  if (e.FLOODGATE_MQTT_TLS_PORT !== undefined && (!e.FLOODGATE_TLS_CERT || !e.FLOODGATE_TLS_KEY)) {
    for (const k of ['FLOODGATE_TLS_CERT', 'FLOODGATE_TLS_KEY'] as const) {
      if (!e[k]) ctx.addIssue({ code: 'custom', path: [k], message: 'required when FLOODGATE_MQTT_TLS_PORT is set' });
    }
  }
  if (e.FLOODGATE_KEEPALIVE_MIN_S > e.FLOODGATE_KEEPALIVE_MAX_S) {
    ctx.addIssue({ code: 'custom', path: ['FLOODGATE_KEEPALIVE_MIN_S'], message: 'must not exceed FLOODGATE_KEEPALIVE_MAX_S' });
  }
})
  .transform((e) => {
    const p = e.FLOODGATE_BROKER_PERSISTENCE;
    const persistence: { type: 'memory' } | { type: 'level'; dir: string } | { type: 'redis'; url: string } = p === 'memory' ? { type: 'memory' } : p.startsWith('level:') ? { type: 'level', dir: resolve(p.slice('level:'.length)) } : { type: 'redis', url: p };
    const mq: { type: 'memory' } | { type: 'redis'; url: string } = e.FLOODGATE_BROKER_MQ === 'memory' ? { type: 'memory' } : { type: 'redis', url: e.FLOODGATE_BROKER_MQ };
    const limits: GatewayLimits = {
      maxPacketBytes: e.FLOODGATE_MAX_PACKET_BYTES,
      deviceRatePerS: e.FLOODGATE_DEVICE_RATE,
      deviceBurst: e.FLOODGATE_DEVICE_BURST,
      maxConnections: e.FLOODGATE_MAX_CONNECTIONS,
      keepaliveMinS: e.FLOODGATE_KEEPALIVE_MIN_S,
      keepaliveMaxS: e.FLOODGATE_KEEPALIVE_MAX_S,
      maxTopicLevels: e.FLOODGATE_MAX_TOPIC_LEVELS,
    };
    const gateway = {
      host: e.FLOODGATE_MQTT_HOST,
      /** 0 = any free port (tests). */
      port: e.FLOODGATE_MQTT_PORT,
      ...(e.FLOODGATE_MQTT_TLS_PORT !== undefined ? { tls: { port: e.FLOODGATE_MQTT_TLS_PORT, certPath: e.FLOODGATE_TLS_CERT!, keyPath: e.FLOODGATE_TLS_KEY! } } : {}),
      /** MQTT over WebSocket (path /mqtt and /). */
      ...(e.FLOODGATE_MQTT_WS_PORT !== undefined ? { wsPort: e.FLOODGATE_MQTT_WS_PORT } : {}),
      /** Admit anonymous clients to topics outside sensors/ and floodgate/ (MQTT test suites, tools). */
      labMode: e.FLOODGATE_LAB_MODE,
      /**
       * Messages aedes' emitter delivers in parallel. Beyond it messages wait in a queue that
       * mqemitter drains with Array#shift, which turns quadratic under a flood: the default 100
       * measured 23k QoS 0 msg/s, 1000 measured 30k (benchmarks/README.md).
       */
      concurrency: e.FLOODGATE_BROKER_CONCURRENCY,
      /**
       * Sessions, subscriptions, retained and queued QoS 1 messages: in memory; in LevelDB (survive
       * a restart); or in Redis (survive a restart and are shared by several gateway instances).
       */
      persistence,
      /** Message fan-out between gateway instances: in process, or through Redis pub/sub. */
      mq,
      limits,
    };
    return { gateway, shared: sharedFromEnv(e), metricsPort: e.FLOODGATE_METRICS_PORT };
  });

export type GatewayConfig = z.output<typeof GatewayEnv>['gateway'];

export function gatewayConfigFromEnv(env: Record<string, string | undefined>): z.output<typeof GatewayEnv> {
  return parseConfig(GatewayEnv, env, 'gateway');
}

/** The defaults (those of the environment's schema) on 127.0.0.1 and any free port, for `floodgate up` overrides and tests. */
export function gatewayConfig(overrides: Partial<GatewayConfig> = {}): GatewayConfig {
  return frozen({ ...gatewayConfigFromEnv({ FLOODGATE_MQTT_HOST: '127.0.0.1', FLOODGATE_MQTT_PORT: '0' }).gateway, ...overrides });
}
