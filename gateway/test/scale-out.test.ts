/**
 * Two gateway instances share subscriptions and sessions through Redis (mqemitter-redis +
 * aedes-persistence-redis): a device on A reaches a service on B, and a service that reconnects
 * to B gets the QoS 1 messages queued while it was away.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import { createGateway, type GatewayHandle } from '../gateway.ts';
import { gatewayConfig } from '../config.ts';
import { createMetricsRegistry } from '../../lib/metrics.ts';
import { systemClock } from '../../lib/clock.ts';
import { eventually, smallCity, testLogger } from '../../test/helpers/stack.ts';
import { startRedis, type RedisServer } from '../../test/helpers/servers.ts';
import type { Provisioning, Registry } from '../../config/registry.ts';

describe('two gateways sharing Redis', () => {
  let redis: RedisServer;
  let a: GatewayHandle;
  let b: GatewayHandle;
  let city: { registry: Registry; provisioning: Provisioning };

  beforeAll(async () => {
    redis = await startRedis();
    city = await smallCity(2);
    const make = () =>
      createGateway(gatewayConfig({ persistence: { type: 'redis', url: redis.url }, mq: { type: 'redis', url: redis.url }, limits: { ...gatewayConfig().limits, deviceRatePerS: 10_000, deviceBurst: 10_000 } }), {
        logger: testLogger,
        metrics: createMetricsRegistry(),
        registry: city.registry,
        serviceSecret: city.provisioning.serviceSecret,
        clock: systemClock,
      });
    a = await make();
    b = await make();
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await redis?.stop();
  });

  const clientOn = (gw: GatewayHandle, id: string) => Boolean((gw.broker as unknown as { clients: Record<string, unknown> }).clients[id]);
  const device = (gw: GatewayHandle, id: string) =>
    mqtt.connectAsync(`mqtt://127.0.0.1:${gw.port}`, { protocolVersion: 4, clientId: id, username: id, password: city.provisioning.sensors[id], reconnectPeriod: 0 });
  const ingest = (gw: GatewayHandle, clientId = 'floodgate-ingest') =>
    mqtt.connectAsync(`mqtt://127.0.0.1:${gw.port}`, { protocolVersion: 4, clientId, username: 'svc-ingest', password: city.provisioning.serviceSecret, clean: false, reconnectPeriod: 0 });

  it('routes a device on A to a service subscribed on B', async () => {
    expect(a.broker.id).not.toBe(b.broker.id);
    const svc = await ingest(b);
    const got: string[] = [];
    svc.on('message', (_t, p) => got.push(JSON.parse(p.toString()).seq));
    await svc.subscribeAsync('sensors/+/+/reading', { qos: 1 });
    const dev = await device(a, 'PD-001');
    for (let seq = 0; seq < 5; seq++) await dev.publishAsync('sensors/ponding/PD-001/reading', JSON.stringify({ ts: Date.now(), seq, depth_cm: 1 }), { qos: 1 });
    await eventually(() => got.length === 5, 'five readings across instances');
    expect(got).toEqual([0, 1, 2, 3, 4]);
    await Promise.all([dev.endAsync(), svc.endAsync()]);
    await eventually(() => !clientOn(b, 'floodgate-ingest'), 'B to release the service connection');
  });

  it('a persistent session subscribing two filters in one SUBSCRIBE gets its SUBACK and messages on both (as rules and alerts subscribe)', async () => {
    // aedes stored the list once per filter; on Redis the repeats' waits overwrote each other and
    // the SUBACK never came (aedes-patches.ts#storeSubscriptionsOnce).
    const svc = await mqtt.connectAsync(`mqtt://127.0.0.1:${a.port}`, { protocolVersion: 4, clientId: 'two-filters', username: 'svc-rules', password: city.provisioning.serviceSecret, clean: false, reconnectPeriod: 0 });
    const got: string[] = [];
    svc.on('message', (t) => got.push(t));
    const granted = await Promise.race([svc.subscribeAsync(['floodgate/alerts/underpass-closure/#', 'sensors/+/+/reading'], { qos: 1 }), new Promise<'no SUBACK'>((r) => setTimeout(() => r('no SUBACK'), 20_000))]);
    expect(granted).not.toBe('no SUBACK');
    const dev = await device(b, 'PD-001');
    await dev.publishAsync('sensors/ponding/PD-001/reading', JSON.stringify({ ts: Date.now(), seq: 1, depth_cm: 1 }), { qos: 1 });
    await eventually(() => got.includes('sensors/ponding/PD-001/reading'), 'the reading, through B');
    await Promise.all([dev.endAsync(), svc.endAsync()]);
  });

  it('delivers on B what was queued for the service while it was away from A', async () => {
    // A session of its own (no interplay with the previous test's session), created on A.
    const first = await ingest(a, 'ingest-away');
    await first.subscribeAsync('sensors/+/+/reading', { qos: 1 });
    await first.endAsync();
    // Publish only once A has let go of the connection, so the readings are queued, not in flight.
    await eventually(() => !clientOn(a, 'ingest-away'), 'A to release the service connection');
    const dev = await device(a, 'PD-002');
    for (let seq = 100; seq < 110; seq++) await dev.publishAsync('sensors/ponding/PD-002/reading', JSON.stringify({ ts: Date.now(), seq, depth_cm: 2 }), { qos: 1 });
    await dev.endAsync();
    // Reconnected at once: every message was in Redis before its PUBACK (the next test).
    const got: number[] = [];
    const back = mqtt.connect(`mqtt://127.0.0.1:${b.port}`, { protocolVersion: 4, clientId: 'ingest-away', username: 'svc-ingest', password: city.provisioning.serviceSecret, clean: false, reconnectPeriod: 0 });
    back.on('message', (_t, p) => got.push(JSON.parse(p.toString()).seq)); // before CONNACK: queued messages follow it at once
    await eventually(() => got.length === 10, 'the ten queued readings on B');
    expect(got).toEqual([100, 101, 102, 103, 104, 105, 106, 107, 108, 109]);
    await back.endAsync();
  });

  it('a service away while 3,000 readings queued gets every one when it reconnects (to the other instance)', { timeout: 120_000 }, async () => {
    // aedes-persistence-redis sends at most maxSessionDelivery (1000 by default) queued messages
    // on a reconnect and keeps the rest until the next one: the HA chaos test lost a third of a
    // storm's readings that queued for ingest while PostgreSQL was down. The gateway sends all.
    const opts = { protocolVersion: 4 as const, clientId: 'ingest-queued', username: 'svc-ingest', password: city.provisioning.serviceSecret, clean: false, reconnectPeriod: 0 };
    const first = await mqtt.connectAsync(`mqtt://127.0.0.1:${a.port}`, opts);
    await first.subscribeAsync('sensors/+/+/reading', { qos: 1 });
    await first.endAsync();
    await eventually(() => !clientOn(a, 'ingest-queued'), 'A to release the service connection');
    const [d1, d2] = [await device(a, 'PD-001'), await device(b, 'PD-002')];
    const N = 3000;
    await Promise.all(Array.from({ length: N }, (_, i) => (i % 2 ? d2 : d1).publishAsync(`sensors/ponding/PD-00${(i % 2) + 1}/reading`, JSON.stringify({ ts: Date.now(), seq: i, depth_cm: 1 }), { qos: 1 })));
    const got = new Set<number>();
    const back = mqtt.connect(`mqtt://127.0.0.1:${b.port}`, opts);
    back.on('message', (_t, p) => got.add(JSON.parse(p.toString()).seq as number));
    await eventually(() => got.size === N, `all ${N} queued readings (have ${got.size})`, 60_000).catch(() => undefined);
    await Promise.all([back.endAsync(), d1.endAsync(), d2.endAsync()]);
    expect(got.size).toBe(N);
  });

  it('a service that moves between instances right after the PUBACKs gets every acknowledged message, even from a slow Redis', { timeout: 120_000 }, async () => {
    // Redis made slow for the queue writes only (150 ms each): aedes' own order — PUBACK, then the
    // enqueue for offline sessions, then the live publish — left a window in which a service that
    // reconnected at once had read its queue before the enqueue landed and was not yet subscribed
    // when the live copy went out: it missed the message until its next reconnect (seen in CI
    // twice; with the patch turned off, all 10 messages of one round in 30 such rounds here). The
    // gateway acknowledges only after the enqueue (aedes-patches.ts#storeBeforePuback), so a
    // message a publisher saw acknowledged is in the queue before any reconnect can read it.
    const restore: Array<() => void> = [];
    for (const gw of [a, b]) {
      const store = (gw.broker as unknown as { persistence: { outgoingEnqueueCombi(...args: unknown[]): Promise<void> } }).persistence;
      const enqueue = store.outgoingEnqueueCombi.bind(store);
      store.outgoingEnqueueCombi = async (...args) => {
        await new Promise((r) => setTimeout(r, 150));
        return enqueue(...args);
      };
      restore.push(() => (store.outgoingEnqueueCombi = enqueue));
    }
    const id = 'ingest-moving';
    const got = new Set<number>();
    const connect = (gw: GatewayHandle) => {
      const c = mqtt.connect(`mqtt://127.0.0.1:${gw.port}`, { protocolVersion: 4, clientId: id, username: 'svc-ingest', password: city.provisioning.serviceSecret, clean: false, reconnectPeriod: 0 });
      c.on('message', (_t, p) => got.add(JSON.parse(p.toString()).seq as number));
      return c;
    };
    let svc = connect(a);
    await new Promise((r) => svc.once('connect', r));
    await svc.subscribeAsync('sensors/+/+/reading', { qos: 1 });
    const dev = await device(a, 'PD-001');
    let seq = 1000;
    const late: number[] = [];
    for (let round = 0; round < 10; round++) {
      await svc.endAsync(true); // gone without a goodbye, as when its instance dies
      const mine = Array.from({ length: 10 }, () => seq++);
      await Promise.all(mine.map((n) => dev.publishAsync('sensors/ponding/PD-001/reading', JSON.stringify({ ts: Date.now(), seq: n, depth_cm: 1 }), { qos: 1 })));
      svc = connect(round % 2 === 0 ? b : a); // at once, to the other instance
      await eventually(() => mine.every((n) => got.has(n)), `round ${round}: the 10 acknowledged messages`, 15_000).catch(() => late.push(...mine.filter((n) => !got.has(n))));
    }
    restore.forEach((r) => r());
    await Promise.all([svc.endAsync(), dev.endAsync()]);
    expect(late).toEqual([]);
  });
});
