/**
 * A QoS 1 PUBACK means "stored": the gateway acknowledges a device's reading only after the
 * message sits in every persistent subscriber's session (aedes on its own acknowledges first and
 * stores afterwards, so a broker killed in between loses an acknowledged reading). The store is
 * slowed down here to make the order visible.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import { createGateway, type GatewayHandle } from '../gateway.ts';
import { gatewayConfig } from '../config.ts';
import { createMetricsRegistry } from '../../lib/metrics.ts';
import { systemClock } from '../../lib/clock.ts';
import type { Provisioning, Registry } from '../../config/registry.ts';
import { smallCity, testLogger } from '../../test/helpers/stack.ts';
import { topics } from '../../contracts/index.ts';

describe('PUBACK after store', () => {
  let city: { registry: Registry; provisioning: Provisioning };
  let gw: GatewayHandle;
  let url: string;
  const events: string[] = [];
  beforeAll(async () => {
    city = await smallCity(2);
    gw = await createGateway(gatewayConfig(), { logger: testLogger, metrics: createMetricsRegistry(), registry: city.registry, serviceSecret: city.provisioning.serviceSecret, clock: systemClock });
    url = `mqtt://127.0.0.1:${gw.port}`;
    const persistence = (gw.broker as unknown as { persistence: { outgoingEnqueueCombi(subs: unknown, packet: { topic: string }): Promise<void> } }).persistence;
    const enqueue = persistence.outgoingEnqueueCombi.bind(persistence);
    persistence.outgoingEnqueueCombi = async (subs, packet) => {
      await new Promise((r) => setTimeout(r, 300)); // a slow disk
      await enqueue(subs, packet);
      if (packet.topic.endsWith('/reading')) events.push('stored');
    };
  });
  afterAll(async () => {
    await gw?.close();
  });

  it('the device gets its PUBACK only once the reading is in the offline subscriber session', async () => {
    // ingest's persistent session exists but is offline: the reading must be queued for it.
    const ingest = await mqtt.connectAsync(url, { protocolVersion: 4, clientId: 'floodgate-ingest', username: 'svc-ingest', password: city.provisioning.serviceSecret, clean: false, reconnectPeriod: 0 });
    await ingest.subscribeAsync(topics.allReadings, { qos: 1 });
    await ingest.endAsync();

    const dev = await mqtt.connectAsync(url, { protocolVersion: 4, clientId: 'PD-001', username: 'PD-001', password: city.provisioning.sensors['PD-001'], reconnectPeriod: 0 });
    const t0 = performance.now();
    await dev.publishAsync(topics.reading('ponding', 'PD-001'), JSON.stringify({ ts: Date.now(), depth_cm: 3 }), { qos: 1 });
    events.push('puback');
    expect(performance.now() - t0).toBeGreaterThanOrEqual(290);
    expect(events).toEqual(['stored', 'puback']);
    await dev.endAsync();

    // Stored once, not twice (aedes' own publish of the packet is skipped): the session gets one copy.
    const back = await mqtt.connectAsync(url, { protocolVersion: 4, clientId: 'floodgate-ingest', username: 'svc-ingest', password: city.provisioning.serviceSecret, clean: false, reconnectPeriod: 0 });
    const got: string[] = [];
    back.on('message', (_t, p) => got.push(p.toString()));
    await new Promise((r) => setTimeout(r, 800));
    expect(got).toHaveLength(1);
    await back.endAsync();
  });
});
