/** The gateway against real MQTT clients over TCP. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import { createGateway, type GatewayHandle } from '../gateway.ts';
import { gatewayConfig } from '../config.ts';
import { systemClock } from '../../lib/clock.ts';
import { createMetricsRegistry } from '../../lib/metrics.ts';
import { smallCity, testLogger, eventually } from '../../test/helpers/stack.ts';
import type { Provisioning, Registry } from '../../config/registry.ts';

describe('gateway', () => {
  let gw: GatewayHandle;
  let url: string;
  let city: { registry: Registry; provisioning: Provisioning };
  const metrics = createMetricsRegistry();

  beforeAll(async () => {
    city = await smallCity(2);
    gw = await createGateway(gatewayConfig(), { logger: testLogger, metrics, registry: city.registry, serviceSecret: city.provisioning.serviceSecret, clock: systemClock });
    url = `mqtt://127.0.0.1:${gw.port}`;
  });
  afterAll(() => gw.close());

  const connect = (opts: mqtt.IClientOptions) => mqtt.connectAsync(url, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5000, ...opts });

  it.each([
    ['anonymous', { clientId: 'PD-001' }, 5],
    ['a wrong secret', { clientId: 'PD-001', username: 'PD-001', password: 'wrong' }, 4],
    ['an unknown device', { clientId: 'XX-999', username: 'XX-999', password: 'whatever' }, 4],
    ['another device’s secret', { clientId: 'PD-001', username: 'PD-001', password: '<PD-002>' }, 4],
    ['a client id that is not the device id', { clientId: 'someone', username: 'PD-001', password: '<PD-001>' }, 5],
    ['a wrong service secret', { clientId: 'x', username: 'svc-ingest', password: 'nope' }, 4],
    ['an unknown service', { clientId: 'x', username: 'svc-root', password: '<service>' }, 4],
  ] as const)('refuses %s at CONNECT with the right CONNACK return code', async (_name, opts, code) => {
    const secret = (p: string | undefined) =>
      p === '<service>' ? city.provisioning.serviceSecret : p?.startsWith('<') ? city.provisioning.sensors[p.slice(1, -1)] : p;
    const err = await connect({ ...opts, password: secret((opts as { password?: string }).password) }).then(
      () => null,
      (e: Error & { code?: number }) => e,
    );
    expect(err?.code).toBe(code);
  });

  it('admits a device with its own secret, twice (the second time from the verified cache)', async () => {
    for (let i = 0; i < 2; i++) {
      const c = await connect({ clientId: 'PD-001', username: 'PD-001', password: city.provisioning.sensors['PD-001'] });
      expect(c.connected).toBe(true);
      await c.endAsync();
    }
  });

  it('cuts off a device that publishes to another sensor’s topic; the message reaches no one', async () => {
    const svc = await connect({ clientId: 'watcher', username: 'svc-ingest', password: city.provisioning.serviceSecret });
    const seen: string[] = [];
    svc.on('message', (t) => seen.push(t));
    await svc.subscribeAsync('sensors/+/+/reading', { qos: 1 });
    const dev = await connect({ clientId: 'PD-001', username: 'PD-001', password: city.provisioning.sensors['PD-001'] });
    const closed = new Promise<void>((resolve) => dev.once('close', () => resolve()));
    dev.publish('sensors/ponding/PD-002/reading', JSON.stringify({ ts: Date.now(), depth_cm: 99 }), { qos: 1 });
    await closed;
    // Its own topic still works for a well-behaved device, and arrives (proving the watcher listens).
    const ok = await connect({ clientId: 'PD-002', username: 'PD-002', password: city.provisioning.sensors['PD-002'] });
    await ok.publishAsync('sensors/ponding/PD-002/reading', JSON.stringify({ ts: Date.now(), depth_cm: 1 }), { qos: 1 });
    await eventually(() => seen.length > 0, 'the legitimate reading');
    expect(seen).toEqual(['sensors/ponding/PD-002/reading']);
    expect((await metrics.getSingleMetricAsString('floodgate_gateway_acl_denied_total'))).toContain('action="publish"} 1');
    await Promise.all([ok.endAsync(), svc.endAsync()]);
  });

  it('refuses a device subscription outside its own config and rejects topics (SUBACK 0x80)', async () => {
    const dev = await connect({ clientId: 'RG-001', username: 'RG-001', password: city.provisioning.sensors['RG-001'] });
    // Read the SUBACK itself: mqtt.js turns any 0x80 into an error for the whole call.
    const suback = new Promise<number[]>((resolve) =>
      dev.on('packetreceive', (p) => {
        if (p.cmd === 'suback') resolve(p.granted as number[]);
      }),
    );
    dev.subscribe(['sensors/#', 'sensors/rain/RG-001/config', 'floodgate/rejects/rain/RG-001'], { qos: 1 }, () => {});
    expect(await suback).toEqual([0x80, 1, 1]);
    await dev.endAsync();
  });

  it('counts connections on /metrics', async () => {
    const text = await metrics.metrics();
    expect(text).toMatch(/floodgate_gateway_connects_total\{result="refused"\} \d+/);
    expect(text).toMatch(/floodgate_gateway_connects_total\{result="anonymous"\} 1/);
  });
});
