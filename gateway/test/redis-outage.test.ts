/**
 * Redis stopped under a gateway whose sessions and bus live in it (docs/ha.md, "What happens when
 * a part dies"): the gateway holds what it cannot store unacknowledged (the devices keep those
 * readings and send them again), answers 503 on its health, logs and counts the fault, and
 * resumes when Redis is back, after an outage long enough that the gateway gave up on writes.
 * Every reading a device sent during the outage reaches the persistent service session
 * afterwards; none is lost. Real Redis (append-only file, as in docker-compose), real aedes over
 * TCP, real mqtt.js clients.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import { createGateway, type GatewayHandle } from '../gateway.ts';
import { gatewayConfig } from '../config.ts';
import { createMetricsRegistry, type Registry as Metrics } from '../../lib/metrics.ts';
import { systemClock } from '../../lib/clock.ts';
import { eventually, smallCity, testLogger } from '../../test/helpers/stack.ts';
import { startRedis, type RedisServer } from '../../test/helpers/servers.ts';
import type { Provisioning, Registry } from '../../config/registry.ts';
import { Redis } from 'ioredis';

describe('Redis stopped under the gateway', () => {
  let redis: RedisServer;
  let gw: GatewayHandle;
  let metrics: Metrics;
  let city: { registry: Registry; provisioning: Provisioning };
  const clients: mqtt.MqttClient[] = [];

  beforeAll(async () => {
    redis = await startRedis({ durable: true });
    city = await smallCity(2);
    metrics = createMetricsRegistry();
    gw = await createGateway(gatewayConfig({ persistence: { type: 'redis', url: redis.url }, mq: { type: 'redis', url: redis.url }, limits: { ...gatewayConfig().limits, deviceRatePerS: 10_000, deviceBurst: 10_000 } }), {
      logger: testLogger,
      metrics,
      registry: city.registry,
      serviceSecret: city.provisioning.serviceSecret,
      clock: systemClock,
    });
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true)));
    await gw?.close();
    await redis?.stop();
  });

  /** A counter's value from the gateway's /metrics text (summed over the label filter's matches). */
  const counterValue = async (name: string, labels: RegExp) =>
    (await metrics.metrics())
      .split('\n')
      .filter((l) => l.startsWith(name) && labels.test(l))
      .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);

  it('holds the readings unacknowledged, reports 503, and delivers every one when Redis is back', { timeout: 180_000 }, async () => {
    const url = `mqtt://127.0.0.1:${gw.port}`;
    const svc = await mqtt.connectAsync(url, { protocolVersion: 4, clientId: 'floodgate-ingest', username: 'svc-ingest', password: city.provisioning.serviceSecret, clean: false, reconnectPeriod: 500 });
    clients.push(svc);
    const got = new Map<number, number>();
    svc.on('message', (_t, p) => {
      const seq = (JSON.parse(p.toString()) as { seq: number }).seq;
      got.set(seq, (got.get(seq) ?? 0) + 1);
    });
    await svc.subscribeAsync('sensors/+/+/reading', { qos: 1 });
    const dev = await mqtt.connectAsync(url, { protocolVersion: 4, clientId: 'PD-001', username: 'PD-001', password: city.provisioning.sensors['PD-001'], reconnectPeriod: 500 });
    clients.push(dev);
    const send = (seq: number, acked: (seq: number) => void) =>
      dev.publish('sensors/ponding/PD-001/reading', JSON.stringify({ ts: Date.now(), seq, depth_cm: 1 }), { qos: 1 }, (err) => {
        if (!err) acked(seq);
      });

    const before: number[] = [];
    for (let seq = 0; seq < 5; seq++) send(seq, (s) => before.push(s));
    await eventually(() => got.size === 5 && before.length === 5, 'readings 0-4 delivered and acknowledged before the outage');
    expect(gw.health()).toEqual({ ok: true, checks: { broker: true, redis: true } });

    await redis.stopServer();
    await eventually(() => !gw.health().ok, 'the gateway reports Redis down on its health', 60_000);
    expect(gw.health().checks).toEqual({ broker: true, redis: false });

    const inBefore = await counterValue('floodgate_gateway_messages_in_total', /principal="device"/);
    const during: number[] = [];
    for (let seq = 5; seq < 15; seq++) send(seq, (s) => during.push(s));
    await eventually(async () => (await counterValue('floodgate_gateway_messages_in_total', /principal="device"/)) >= inBefore + 10, 'the gateway received readings 5-14', 60_000);
    await new Promise((r) => setImmediate(r));
    // Received, but nothing can be stored in the sessions: nothing is acknowledged.
    expect(during).toEqual([]);
    expect(await counterValue('floodgate_gateway_faults_total', /where="redis_/)).toBeGreaterThan(0);
    // A long outage: ioredis gives up on the writes it held (after its 20 retries, ~10 s), the
    // gateway refuses those publishes (counted) and closes the device's connection, so the device
    // keeps the readings and sends them again after it reconnects. Still nothing acknowledged.
    await eventually(async () => (await counterValue('floodgate_gateway_faults_total', /where="publish"/)) > 0, 'the gateway refuses a publish it could not store', 120_000);
    expect(during).toEqual([]);

    await redis.startServer();
    await eventually(() => gw.health().ok, 'the gateway healthy again once Redis is back', 120_000);
    await eventually(() => got.size === 15, 'every reading of the outage delivered to the service session', 120_000);
    await eventually(() => during.length === 10, 'and acknowledged to the device', 120_000);
    expect([...got.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: 15 }, (_, i) => i));
    // A reading may come twice (the device resent it after the gateway closed its connection, or
    // a delivery's acknowledgement had not reached Redis): at least once, as MQTT QoS 1 promises;
    // ingest and the rules drop such duplicates by sensor and time. None is missing.
  });

  it('delivers at once what devices publish while the bus subscriber reconnects (publishes refused until it has subscribed again)', { timeout: 120_000 }, async () => {
    const url = `mqtt://127.0.0.1:${gw.port}`;
    const svc = await mqtt.connectAsync(url, { protocolVersion: 4, clientId: 'floodgate-rules', username: 'svc-rules', password: city.provisioning.serviceSecret, clean: false, reconnectPeriod: 500 });
    clients.push(svc);
    const got = new Set<number>();
    svc.on('message', (_t, p) => got.add((JSON.parse(p.toString()) as { seq: number }).seq));
    await svc.subscribeAsync('sensors/+/+/reading', { qos: 1 });
    const dev = await mqtt.connectAsync(url, { protocolVersion: 4, clientId: 'PD-002', username: 'PD-002', password: city.provisioning.sensors['PD-002'], reconnectPeriod: 100 });
    clients.push(dev);
    const acked = new Set<number>();
    const admin = new Redis(redis.url);
    try {
      // Kill the subscribing connections only, then publish through the reconnect: 200 readings
      // spread over it. The service stays connected throughout, so only the bus can deliver them.
      await admin.client('KILL', 'TYPE', 'pubsub');
      for (let seq = 1000; seq < 1200; seq++) {
        dev.publish('sensors/ponding/PD-002/reading', JSON.stringify({ ts: Date.now(), seq, depth_cm: 1 }), { qos: 1 }, (err) => {
          if (!err) acked.add(seq);
        });
        await new Promise((r) => setTimeout(r, 2));
      }
      await eventually(() => acked.size === 200, 'every reading acknowledged (those refused meanwhile sent again)', 60_000);
      // Every acknowledged reading reaches the connected service, without it reconnecting.
      await eventually(() => [...acked].every((s) => got.has(s)), 'every acknowledged reading at the connected service', 20_000);
      expect(gw.health().ok).toBe(true);
    } finally {
      await admin.quit();
    }
  });
});
