/**
 * A whole floodgate on free ports for integration tests: real aedes gateway over TCP, ingest,
 * rules, alerts with its HTTP API, and a police receiver; every part a real server.
 */
import mqtt, { type MqttClient } from 'mqtt';
import { join } from 'node:path';
import { buildDemoCity } from '../../config/demo-city.ts';
import { provision, type Registry, type Provisioning } from '../../config/registry.ts';
import { createGateway, type GatewayHandle } from '../../gateway/gateway.ts';
import { gatewayConfig, type GatewayConfig } from '../../gateway/config.ts';
import { createIngest, type IngestHandle } from '../../ingest/ingest.ts';
import { ingestConfig, type IngestConfig } from '../../ingest/config.ts';
import { ingestRoutes } from '../../ingest/api.ts';
import { createRules, type RulesHandle } from '../../rules/rules.ts';
import { rulesConfig, type RulesConfig } from '../../rules/config.ts';
import { createAlerts, type AlertsHandle } from '../../alerts/alerts.ts';
import { alertsConfig, type AlertsConfig } from '../../alerts/config.ts';
import { addUser, loadUsers, saveUsers, type Role } from '../../alerts/users.ts';
import { createPoliceReceiver, type ReceiverHandle } from '../../alerts/receiver/police-receiver.ts';
import { createMetricsRegistry, type Registry as Metrics } from '../../lib/metrics.ts';
import { createLogger, silentLogger, type Logger } from '../../lib/logger.ts';
import { systemClock } from '../../lib/clock.ts';
import type { ReadingSink } from '../../ingest/sink.ts';
import type { InfluxConfig } from '../../ingest/influx-sink.ts';
import { tempDir } from './servers.ts';

/** FLOODGATE_TEST_LOG=debug shows the services' logs while debugging a test. */
export const testLogger: Logger = process.env['FLOODGATE_TEST_LOG'] ? createLogger({ level: process.env['FLOODGATE_TEST_LOG'] }) : silentLogger;

/** A small city: the first n sensors of each kind of the demo city (plus extra sites), provisioned. */
export async function smallCity(n = 5, mutate?: (city: Registry) => void): Promise<{ registry: Registry; provisioning: Provisioning }> {
  const demo = buildDemoCity();
  const keep = new Set<string>();
  for (const kind of ['water-level', 'rain', 'ponding'] as const) demo.sensors.filter((s) => s.kind === kind).slice(0, n).forEach((s) => keep.add(s.id));
  const sensors = demo.sensors.filter((s) => keep.has(s.id));
  const siteIds = new Set(sensors.map((s) => s.site));
  const city: Registry = { ...demo, sites: demo.sites.filter((s) => siteIds.has(s.id)), sensors };
  mutate?.(city);
  return provision(city);
}

export interface Stack {
  registry: Registry;
  provisioning: Provisioning;
  metrics: Metrics;
  /** Undefined when the stack runs against an external broker. */
  gateway: GatewayHandle | undefined;
  ingest: IngestHandle;
  rules: RulesHandle;
  alerts: AlertsHandle;
  receiver: ReceiverHandle;
  mqttUrl: string;
  apiToken: string;
  policeSecret: string;
  dataDir: string;
  /** An MQTT client logged in as a device with its own secret. */
  device(sensorId: string, opts?: mqtt.IClientOptions): Promise<MqttClient>;
  /** An MQTT client logged in as the rules service (`svc-rules`), to publish alert events as the rules do; closed with the stack. */
  asRules(): Promise<MqttClient>;
  /** Add an API user (as `floodgate users add` does) and wait until the alerts service knows it; returns the token. */
  addUser(name: string, role: Role): Promise<string>;
  close(): Promise<void>;
}

export async function startStack(
  opts: { city?: { registry: Registry; provisioning: Provisioning }; influx?: InfluxConfig; sink?: ReadingSink; gateway?: Partial<GatewayConfig>; brokerUrl?: string; ingest?: Partial<IngestConfig>; rules?: Partial<RulesConfig>; alerts?: Partial<AlertsConfig> } = {},
): Promise<Stack> {
  const { registry, provisioning } = opts.city ?? (await smallCity());
  const dir = tempDir('stack');
  const metrics = createMetricsRegistry();
  const logger = testLogger;
  const clock = systemClock;
  const serviceSecret = provisioning.serviceSecret;
  const apiToken = 'test-api-token-0123456789';
  const policeSecret = 'test-police-secret';
  const closers: Array<() => Promise<void>> = [];
  try {
    const receiver = await createPoliceReceiver({ host: '127.0.0.1', port: 0, secret: policeSecret, toleranceS: 300, path: '/notices' }, { clock, logger, print: () => {} });
    closers.push(receiver.close);
    // An external broker (Mosquitto) can stand in for the floodgate gateway.
    const gateway = opts.brokerUrl ? undefined : await createGateway(gatewayConfig(opts.gateway), { logger, metrics, registry, serviceSecret, clock });
    if (gateway) closers.push(gateway.close);
    const mqttUrl = opts.brokerUrl ?? `mqtt://127.0.0.1:${gateway!.port}`;
    const ingest = await createIngest(
      ingestConfig(dir.path, { mqttUrl, influx: opts.influx, ...opts.ingest }),
      { logger, metrics, registry, serviceSecret, clock, ...(opts.sink ? { sink: opts.sink } : {}) },
    );
    closers.push(ingest.close);
    const rules = await createRules(rulesConfig(dir.path, { mqttUrl, ...opts.rules }), { logger, metrics, registry, serviceSecret, clock });
    closers.push(rules.close);
    const alerts = await createAlerts(
      // The environment's defaults, tuned for tests: fast polls, short windows, a receiver here.
      alertsConfig(dir.path, {
        host: '127.0.0.1',
        port: 0,
        mqttUrl,
        apiToken,
        policeUrl: receiver.url,
        policeSecrets: { FLOODGATE_POLICE_SECRET: policeSecret },
        noticeTimeoutMs: 5000,
        outboxPollMs: 50,
        noticeMaxAgeMs: 60_000,
        capSender: 'floodgate-test',
        escalateCheckMs: 100,
        pageGroupMs: 200,
        ...(opts.influx ? { readings: { kind: 'influxdb' as const, url: opts.influx.url, token: opts.influx.token, bucket: opts.influx.bucket, timeoutMs: opts.influx.timeoutMs } } : {}),
        ...opts.alerts,
      }),
      { logger, metrics, registry, serviceSecret, clock, backoff: { baseMs: 20, maxMs: 200, minMs: 10 }, extraRoutes: [ingestRoutes(ingest.spool)] },
    );
    closers.push(alerts.close);
    const devices: MqttClient[] = [];
    return {
      registry,
      provisioning,
      metrics,
      gateway,
      ingest,
      rules,
      alerts,
      receiver,
      mqttUrl,
      apiToken,
      policeSecret,
      dataDir: dir.path,
      async device(sensorId, extra = {}) {
        const c = await mqtt.connectAsync(mqttUrl, {
          protocolVersion: 4,
          clientId: sensorId,
          username: sensorId,
          password: provisioning.sensors[sensorId],
          reconnectPeriod: 0,
          ...extra,
        });
        devices.push(c);
        return c;
      },
      async asRules() {
        const c = await mqtt.connectAsync(mqttUrl, { protocolVersion: 4, clientId: 'test-rules', username: 'svc-rules', password: provisioning.serviceSecret, reconnectPeriod: 0 });
        devices.push(c);
        return c;
      },
      async addUser(name, role) {
        const path = join(dir.path, 'api-users.json');
        const r = addUser(loadUsers(path), name, role);
        saveUsers(path, r.users);
        await eventually(async () => (await alerts.app.inject({ url: '/api/me', headers: { authorization: `Bearer ${r.token}` } })).statusCode === 200, `user ${name} loaded`);
        return r.token;
      },
      async close() {
        await Promise.all(devices.map((d) => d.endAsync(true).catch(() => undefined)));
        for (const c of closers.reverse()) await c();
        dir.remove();
      },
    };
  } catch (err) {
    for (const c of closers.reverse()) await c().catch(() => undefined);
    dir.remove();
    throw err;
  }
}

/** Poll until `check` returns a truthy value (integration tests wait on real servers, not sleeps). */
export async function eventually<T>(check: () => T | Promise<T>, what: string, timeoutMs = 20_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await check();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

/**
 * A whole hour two days ago: sensor timestamps for tests that go through ingest, recent enough for
 * its maximum reading age whatever the date the tests run on.
 */
export const RECENT_HOUR = Math.floor((Date.now() - 2 * 86_400_000) / 3_600_000) * 3_600_000;
