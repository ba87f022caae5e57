/**
 * A resumed persistent session loses nothing when new packet ids meet old ones (packet-ids.ts).
 *
 * A subscriber leaves 2,000 QoS 1 messages unacknowledged and drops; it comes back (clean=false)
 * while a device keeps publishing. aedes resends the old messages with their old ids and gives
 * new ones ids from a random start; here that start is forced onto the last old id, the case that
 * lost readings in the SIGKILL fault test: the PUBACK of the new message cleared the old one
 * before it was resent, and aedes skipped it. Every message must arrive. On the LevelDB store the
 * first connection must already get all 2,000 live (aedes' ordering dedupe held some back:
 * delivery-dedupe.ts), and overlapping subscriptions still get one copy of each message.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import mqtt, { type MqttClient } from 'mqtt';
import { createGateway, type GatewayHandle } from '../gateway.ts';
import { gatewayConfig } from '../config.ts';
import { DEFAULT_LIMITS } from '../limits.ts';
import { createMetricsRegistry } from '../../lib/metrics.ts';
import { systemClock } from '../../lib/clock.ts';
import { eventually, smallCity, testLogger } from '../../test/helpers/stack.ts';
import { freePort } from '../../test/helpers/servers.ts';

const OLD = 2000;
const NEW = 200;

describe('resumed persistent session', { timeout: 60_000 }, () => {
  let gw: GatewayHandle | undefined;
  const clients: MqttClient[] = [];
  afterEach(async () => {
    vi.restoreAllMocks();
    await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
    await gw?.close();
  });

  it.each(['memory', 'level'] as const)('delivers every message when new packet ids meet unacknowledged old ones (%s store)', async (store) => {
    const city = await smallCity(1);
    const { tempDir } = await import('../../test/helpers/servers.ts');
    const dir = tempDir('resume');
    const port = await freePort();
    const limits = { ...DEFAULT_LIMITS, deviceRatePerS: 100_000, deviceBurst: 100_000 };
    gw = await createGateway(gatewayConfig({ port, limits, persistence: store === 'memory' ? { type: 'memory' } : { type: 'level', dir: dir.path } }), {
      logger: testLogger,
      metrics: createMetricsRegistry(),
      registry: city.registry,
      serviceSecret: city.provisioning.serviceSecret,
      clock: systemClock,
    });
    const url = `mqtt://127.0.0.1:${port}`;
    const svc = (handle: (id: number, payload: string, ack: () => void) => void) => {
      const c = mqtt.connect(url, { protocolVersion: 4, clientId: 'floodgate-ingest', username: 'svc-ingest', password: city.provisioning.serviceSecret, clean: false, reconnectPeriod: 0 });
      c.handleMessage = (packet, cb) => handle((packet as { messageId: number }).messageId, String((packet as { payload: Buffer }).payload), () => cb());
      clients.push(c);
      return c;
    };

    // 1. The subscriber takes 2,000 messages and acknowledges none, then drops (like SIGKILL).
    const oldIds: number[] = [];
    const first = svc((id, _p, ack) => {
      oldIds.push(id);
      ack(); // mqtt.js handles messages one at a time: let it go on, but never send the PUBACK
    });
    const c = first as unknown as { _sendPacket(p: { cmd: string }, cb?: () => void): void };
    const send = c._sendPacket.bind(first);
    c._sendPacket = (p, cb) => (p.cmd === 'puback' ? cb?.() : send(p, cb));
    await new Promise((res) => first.once('connect', res));
    await first.subscribeAsync('sensors/+/+/reading', { qos: 1 });
    const dev = await mqtt.connectAsync(url, { protocolVersion: 4, clientId: 'PD-001', username: 'PD-001', password: city.provisioning.sensors['PD-001'], reconnectPeriod: 0 });
    clients.push(dev);
    const publish = (i: number) => dev.publishAsync('sensors/ponding/PD-001/reading', String(i), { qos: 1 });
    for (let i = 0; i < OLD; i++) await publish(i);
    await eventually(() => oldIds.length === OLD, 'the first connection received the old messages').catch((e: Error) => {
      throw new Error(`${e.message}: ${oldIds.length} of ${OLD}`);
    });
    first.stream.destroy();
    await eventually(() => gw!.broker.connectedClients === 1, 'the broker noticed the drop');

    // 2. It comes back; aedes' random first id is forced onto the last old id.
    const last = oldIds[oldIds.length - 1]!;
    vi.spyOn(Math, 'random').mockReturnValue((last - 0.5) / 65535);
    const got = new Set<string>();
    const second = svc((_id, payload, ack) => {
      got.add(payload);
      ack();
    });
    await new Promise((res) => second.once('connect', res));
    vi.restoreAllMocks();
    for (let i = OLD; i < OLD + NEW; i++) await publish(i);

    const missing = () => Array.from({ length: OLD + NEW }, (_, i) => String(i)).filter((p) => !got.has(p));
    await eventually(() => missing().length === 0, 'every message in the resumed session', 20_000).catch(() => {
      throw new Error(`missing after the resume: ${missing().length} (${missing().slice(0, 10).join(',')})`);
    });
    expect(got.size).toBe(OLD + NEW);
    dir.remove();
  });

  it('still sends one copy per message when a client\'s subscriptions overlap', async () => {
    const city = await smallCity(1);
    const port = await freePort();
    gw = await createGateway(gatewayConfig({ port }), { logger: testLogger, metrics: createMetricsRegistry(), registry: city.registry, serviceSecret: city.provisioning.serviceSecret, clock: systemClock });
    const url = `mqtt://127.0.0.1:${port}`;
    const sub = await mqtt.connectAsync(url, { protocolVersion: 4, clientId: 'floodgate-ingest', username: 'svc-ingest', password: city.provisioning.serviceSecret, clean: false, reconnectPeriod: 0 });
    clients.push(sub);
    const got: string[] = [];
    sub.on('message', (_t, p) => got.push(String(p)));
    await sub.subscribeAsync(['sensors/+/+/reading', 'sensors/ponding/+/reading', 'sensors/ponding/PD-001/reading'], { qos: 1 });
    const dev = await mqtt.connectAsync(url, { protocolVersion: 4, clientId: 'PD-001', username: 'PD-001', password: city.provisioning.sensors['PD-001'], reconnectPeriod: 0 });
    clients.push(dev);
    for (let i = 0; i < 50; i++) await dev.publishAsync('sensors/ponding/PD-001/reading', String(i), { qos: 1 });
    await eventually(() => got.length >= 50, '50 messages');
    await new Promise((res) => setTimeout(res, 300)); // room for any extra copy to arrive
    expect(got).toEqual(Array.from({ length: 50 }, (_, i) => String(i)));
  });
});
