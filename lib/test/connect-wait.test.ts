/**
 * A service's first connection waits for the broker however long it takes (lib/mqtt.ts
 * startClient). `floodgate up` restarted in the city storm had exited when the rules' CONNACK took
 * more than 15 s behind 1,207 reconnecting devices. Here the broker is first away (connection
 * refused), then hung (accepts TCP, never answers CONNECT), then there: the client notes the wait
 * in its log and connects once the broker answers. A refusal (wrong secret) is final at once.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type Server, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { createGateway, type GatewayHandle } from '../../gateway/gateway.ts';
import { gatewayConfig } from '../../gateway/config.ts';
import { createMetricsRegistry } from '../metrics.ts';
import { systemClock } from '../clock.ts';
import { createLogger } from '../logger.ts';
import { connectService, endClient, startClient, type MqttClient } from '../mqtt.ts';
import { freePort } from '../../test/helpers/servers.ts';
import { eventually, smallCity } from '../../test/helpers/stack.ts';

function capturedLogger() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  return { logger: createLogger({ level: 'info', destination }), lines };
}

describe('a service waits for its broker', () => {
  const cleanup: Array<() => Promise<unknown> | void> = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });

  it('connects once the broker answers, after being refused and then left hanging, noting the wait', async () => {
    const city = await smallCity(1);
    const port = await freePort();
    const { logger, lines } = capturedLogger();
    const client: MqttClient = await connectService(
      { url: `mqtt://127.0.0.1:${port}`, service: 'rules', secret: city.provisioning.serviceSecret, clientId: 'rules-wait', clean: false, logger },
      { reconnectPeriod: 50, connectTimeout: 300 },
    );
    cleanup.push(() => endClient(client));
    let connected = false;
    const started = startClient(client, 100).then(() => (connected = true));
    const waits = () => lines.filter((l) => l.includes('no CONNACK from the broker yet')).length;

    // Away: nothing listens on the port.
    await eventually(() => waits() >= 2, 'the wait noted while the broker is away');
    // Hung: a listener that takes the connection and never answers CONNECT.
    const held: Socket[] = [];
    const hung: Server = createServer((s) => held.push(s));
    await new Promise<void>((r) => hung.listen(port, '127.0.0.1', r));
    await eventually(() => held.length >= 2, 'the client gave up on a silent broker and tried again');
    expect(connected).toBe(false);
    for (const s of held) s.destroy();
    await new Promise((r) => hung.close(r));

    // There: the real gateway on the same port.
    const gw: GatewayHandle = await createGateway(gatewayConfig({ port }), { logger, metrics: createMetricsRegistry(), registry: city.registry, serviceSecret: city.provisioning.serviceSecret, clock: systemClock });
    cleanup.push(() => gw.close());
    await started;
    expect(client.connected).toBe(true);
    expect(lines.some((l) => l.includes('connected to the broker'))).toBe(true);
    await client.subscribeAsync('sensors/+/+/reading', { qos: 1 });
  });

  it('gives up at once when the broker refuses the credentials', async () => {
    const city = await smallCity(1);
    const { logger } = capturedLogger();
    const gw = await createGateway(gatewayConfig(), { logger, metrics: createMetricsRegistry(), registry: city.registry, serviceSecret: city.provisioning.serviceSecret, clock: systemClock });
    cleanup.push(() => gw.close());
    const client = await connectService({ url: `mqtt://127.0.0.1:${gw.port}`, service: 'rules', secret: 'not-the-secret', clientId: 'rules-refused', clean: true, logger }, { reconnectPeriod: 50 });
    await expect(startClient(client, 100)).rejects.toMatchObject({ code: 4 });
  });
});
