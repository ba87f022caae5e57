/**
 * For the tests that run services as processes: a city and its gateway, a rules process's
 * environment, a watcher of alert events (logged in as the alerts service) and a ponding device
 * publishing depths by minute.
 */
import mqtt, { type MqttClient } from 'mqtt';
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { saveRegistry, type Provisioning } from '../../config/registry.ts';
import { createGateway, type GatewayHandle } from '../../gateway/gateway.ts';
import { gatewayConfig } from '../../gateway/config.ts';
import { createMetricsRegistry } from '../../lib/metrics.ts';
import { systemClock } from '../../lib/clock.ts';
import { RECENT_HOUR, smallCity, testLogger } from './stack.ts';

export interface WatchedEvent {
  ruleId: string;
  subjectId: string;
  state: string;
  alertId: string;
  level?: string;
}

/** Live alert events on `filter` (retained copies left out), in arrival order. */
export async function watchAlertEvents(url: string, serviceSecret: string, filter: string, clientId = 'watch'): Promise<{ client: MqttClient; events: WatchedEvent[] }> {
  const events: WatchedEvent[] = [];
  const client = await mqtt.connectAsync(url, { protocolVersion: 4, clientId, username: 'svc-alerts', password: serviceSecret, reconnectPeriod: 0 });
  client.on('message', (_t, payload, packet) => {
    if (!packet.retain) events.push(JSON.parse(payload.toString()) as WatchedEvent);
  });
  await client.subscribeAsync(filter, { qos: 1 });
  return { client, events };
}

/** A device logged in with its own secret. */
export const deviceClient = (url: string, provisioning: Provisioning, sensorId: string): Promise<MqttClient> =>
  mqtt.connectAsync(url, { protocolVersion: 4, clientId: sensorId, username: sensorId, password: provisioning.sensors[sensorId], reconnectPeriod: 0 });

/** A ponding depth (cm) at RECENT_HOUR + `min` minutes, sequence `min`. */
export const publishDepth = (device: MqttClient, sensorId: string, min: number, cm: number) =>
  device.publishAsync(`sensors/ponding/${sensorId}/reading`, JSON.stringify({ ts: RECENT_HOUR + min * 60_000, seq: min, depth_cm: cm }), { qos: 1 });

type AedesClients = { clients: Record<string, { subscriptions?: Record<string, unknown> } | undefined> };

/** Is `clientId` connected to this gateway now? */
export const isConnected = (gw: GatewayHandle, clientId: string): boolean => (gw.broker as unknown as AedesClients).clients[clientId] !== undefined;

/**
 * Has `clientId` the subscription `filter` at this gateway: its SUBSCRIBE handled, not only its
 * CONNECT? A service's first connection subscribes after it connects; readings published in
 * between reach no session of it (on a busy machine, the first ~100 of a test's readings).
 */
export const isSubscribed = (gw: GatewayHandle, clientId: string, filter: string): boolean => (gw.broker as unknown as AedesClients).clients[clientId]?.subscriptions?.[filter] !== undefined;

/** A small city saved as a registry file in `dir`, and a floodgate gateway for it on a free port. */
export async function cityGateway(dir: string, n = 2): Promise<{ city: Awaited<ReturnType<typeof smallCity>>; registryPath: string; gw: GatewayHandle; url: string }> {
  const city = await smallCity(n);
  mkdirSync(dir, { recursive: true });
  const registryPath = join(dir, 'registry.json');
  saveRegistry(registryPath, city.registry);
  const gw = await createGateway(gatewayConfig(), { logger: testLogger, metrics: createMetricsRegistry(), registry: city.registry, serviceSecret: city.provisioning.serviceSecret, clock: systemClock });
  return { city, registryPath, gw, url: `mqtt://127.0.0.1:${gw.port}` };
}

/** The environment of a `floodgate rules` process against that gateway. */
export const rulesEnv = (c: { url: string; registryPath: string; city: { provisioning: Provisioning } }, dataDir: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({
  ...process.env,
  FLOODGATE_LOG_LEVEL: process.env['FLOODGATE_TEST_LOG'] ?? 'error',
  FLOODGATE_MQTT_URL: c.url,
  FLOODGATE_REGISTRY: c.registryPath,
  FLOODGATE_SERVICE_SECRET: c.city.provisioning.serviceSecret,
  FLOODGATE_DATA_DIR: dataDir,
  ...extra,
});
