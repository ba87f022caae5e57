/**
 * The ten cases of the Eclipse Paho MQTT 3.1.1 interoperability suite (paho.mqtt.testing,
 * interoperability/client_test.py), restated with mqtt.js and raw packets (mqtt-packet) so that
 * they run in CI, where the Python suite cannot be installed (it is on neither npm nor Debian).
 * Each case checks what its Paho counterpart checks, with the same topics; where Paho sleeps, this
 * waits for an event, or for a sentinel message sent after the ones counted.
 *
 * Three brokers in the same run: the gateway in lab mode (the mode for test tools), plain aedes
 * and Mosquitto. Each case's outcome is compared with the table below, which is what the Python
 * suite itself gave here by hand (issue 23: the gateway 9 of 10, plain aedes 8, Mosquitto 8).
 * `subscribe_failure` needs a broker policy that refuses `test/nosubscribe`: none has one.
 */
import { connect as netConnect, createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt, { type MqttClient, type IClientOptions } from 'mqtt';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { Aedes } from 'aedes';
import { createGateway, type GatewayHandle } from '../../gateway/gateway.ts';
import { gatewayConfig } from '../../gateway/config.ts';
import { createMetricsRegistry } from '../../lib/metrics.ts';
import { systemClock } from '../../lib/clock.ts';
import { eventually, smallCity, testLogger } from '../helpers/stack.ts';
import { startMosquitto, type Mosquitto } from '../helpers/servers.ts';

const topics = ['TopicA', 'TopicA/B', 'Topic/C', 'TopicA/C', '/TopicA'] as const;
const CASES = ['basic', 'retained_messages', 'will_message', 'zero_length_clientid', 'offline_message_queueing', 'overlapping_subscriptions', 'keepalive', 'redelivery_on_reconnect', 'subscribe_failure', 'dollar_topics', 'unsubscribe'] as const;
type Case = (typeof CASES)[number];
/** What fails on each broker (the Python suite, run by hand here, agrees). Paho's ten are these but will_message, which client_test.py defines and does not run. */
const FAILS: Record<'gateway' | 'aedes' | 'mosquitto', Case[]> = {
  gateway: ['subscribe_failure'],
  aedes: ['zero_length_clientid', 'subscribe_failure'],
  mosquitto: ['overlapping_subscriptions', 'subscribe_failure'],
};

/** A client over a raw socket: packets out as they are, packets in as parsed (nothing answered unless asked). */
async function rawClient(port: number): Promise<{ send(p: Packet): void; next(cmd?: string): Promise<Packet>; closed: Promise<void>; socket: Socket }> {
  const socket = netConnect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const parser = mqttPacket.parser({ protocolVersion: 4 });
  const got: Packet[] = [];
  const waiters: Array<(p: Packet) => void> = [];
  parser.on('packet', (p: Packet) => (waiters.length ? waiters.shift()!(p) : got.push(p)));
  socket.on('data', (d) => parser.parse(d));
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return {
    socket,
    closed,
    send: (p) => socket.write(mqttPacket.generate(p)),
    async next(cmd) {
      for (;;) {
        const p = got.shift() ?? (await Promise.race([new Promise<Packet>((r) => waiters.push(r)), closed.then(() => Promise.reject(new Error('connection closed')))]));
        if (!cmd || p.cmd === cmd) return p;
      }
    },
  };
}

const connectPacket = (clientId: string, o: { clean?: boolean; keepalive?: number; will?: { topic: string; payload: Buffer; qos: 0 | 1 | 2; retain: boolean }; protocolId?: string } = {}): Packet =>
  ({ cmd: 'connect', protocolId: o.protocolId ?? 'MQTT', protocolVersion: 4, clean: o.clean ?? true, clientId, keepalive: o.keepalive ?? 60, ...(o.will ? { will: o.will } : {}) }) as Packet;

/** The cases, each given the broker's port; a case throws when the broker does not do what Paho checks. */
function cases(port: number): Record<Case, () => Promise<void>> {
  const url = `mqtt://127.0.0.1:${port}`;
  const open: MqttClient[] = [];
  const client = async (clientId: string, o: IClientOptions = {}) => {
    const c = await mqtt.connectAsync(url, { protocolVersion: 4, clientId, reconnectPeriod: 0, connectTimeout: 10_000, ...o });
    open.push(c);
    return c;
  };
  const inbox = (c: MqttClient) => {
    const messages: Array<{ topic: string; qos: number; retain: boolean; payload: string }> = [];
    c.on('message', (topic, payload, p) => messages.push({ topic, qos: p.qos, retain: p.retain, payload: payload.toString() }));
    return messages;
  };
  /** Publish a sentinel on `topic` and wait for it: what `messages` holds before it is complete. */
  const settle = async (publisher: MqttClient, messages: Array<{ topic: string }>, topic: string) => {
    const n = messages.filter((m) => m.topic === topic).length;
    await publisher.publishAsync(topic, 'sentinel', { qos: 1 });
    await eventually(() => messages.filter((m) => m.topic === topic).length > n, `the sentinel on ${topic}`, 10_000);
  };
  const endAll = () => Promise.all(open.splice(0).map((c) => c.endAsync(true).catch(() => undefined)));
  const guarded = (f: () => Promise<void>) => () => f().finally(endAll);
  return {
    basic: guarded(async () => {
      const a = await client('myclientid');
      await a.endAsync();
      const again = await client('myclientid');
      if (again.connected && (again as unknown as { connackPacket?: { sessionPresent: boolean } }).connackPacket?.sessionPresent) throw new Error('session present after a clean connect');
      const got = inbox(again);
      await again.subscribeAsync(topics[0], { qos: 2 });
      for (const qos of [0, 1, 2] as const) await again.publishAsync(topics[0], `qos ${qos}`, { qos });
      await eventually(() => got.length === 3, 'the three messages');
      // A second CONNECT on a connection is a protocol violation [MQTT-3.1.0-2]: the server closes it.
      const raw = await rawClient(port);
      raw.send(connectPacket('myclientid'));
      await raw.next('connack');
      raw.send(connectPacket('myclientid'));
      await raw.closed;
      // A protocol name other than MQTT: refused [MQTT-3.1.2-1].
      const wrong = await rawClient(port);
      wrong.send(connectPacket('myclientid', { protocolId: 'hj' }));
      const answer = await wrong.next('connack').catch(() => undefined);
      if (answer && (answer as { returnCode?: number }).returnCode === 0) throw new Error('a CONNECT with protocol name "hj" was accepted');
      wrong.socket.destroy();
    }),
    retained_messages: guarded(async () => {
      const a = await client('myclientid', { clean: true });
      await a.publishAsync(topics[1], 'qos 0', { qos: 0, retain: true });
      await a.publishAsync(topics[2], 'qos 1', { qos: 1, retain: true });
      await a.publishAsync(topics[3], 'qos 2', { qos: 2, retain: true });
      const got = inbox(a);
      await a.subscribeAsync('+/+', { qos: 2 });
      await eventually(() => got.filter((m) => m.retain).length === 3, 'three retained messages');
      for (const [i, qos] of [[1, 0], [2, 1], [3, 2]] as const) await a.publishAsync(topics[i], '', { qos, retain: true });
      await a.endAsync();
      const b = await client('myclientid', { clean: true });
      const after = inbox(b);
      await b.subscribeAsync('+/+', { qos: 2 });
      await settle(b, after, 'Sentinel/X');
      if (after.some((m) => m.retain)) throw new Error(`retained messages left: ${JSON.stringify(after)}`);
    }),
    will_message: guarded(async () => {
      const raw = await rawClient(port);
      // Keepalive 5, where Paho's (unrun) will test says 2: the gateway's minimum is 5 s.
      raw.send(connectPacket('myclientid', { keepalive: 5, will: { topic: topics[2], payload: Buffer.from('client not disconnected'), qos: 0, retain: false } }));
      expect(((await raw.next('connack')) as { returnCode?: number }).returnCode).toBe(0);
      const b = await client('myclientid2', { clean: false });
      const got = inbox(b);
      await b.subscribeAsync(topics[2], { qos: 2 });
      raw.socket.destroy();
      await eventually(() => got.some((m) => m.payload === 'client not disconnected'), 'the will message');
      await b.endAsync();
      await (await client('myclientid2', { clean: true })).endAsync();
    }),
    zero_length_clientid: guarded(async () => {
      const persistent = await rawClient(port);
      // Written by hand: mqtt-packet refuses to encode what this case sends.
      persistent.socket.write(Buffer.from([0x10, 0x0c, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x00, 0x00, 0x3c, 0x00, 0x00]));
      const refused = await persistent.next('connack').catch(() => undefined);
      if (refused && (refused as { returnCode?: number }).returnCode === 0) throw new Error('a zero-length client id with CleanSession 0 was accepted');
      persistent.socket.destroy();
      const clean = await rawClient(port);
      clean.send(connectPacket('', { clean: true }));
      const ok = (await clean.next('connack')) as { returnCode?: number };
      if (ok.returnCode !== 0) throw new Error(`a zero-length client id with CleanSession 1 was refused (${ok.returnCode})`);
      clean.send({ cmd: 'disconnect' } as Packet);
      clean.socket.destroy();
    }),
    offline_message_queueing: guarded(async () => {
      const a = await client('myclientid', { clean: false });
      await a.subscribeAsync('+/+', { qos: 2 });
      await a.endAsync();
      const b = await client('myclientid2', { clean: true });
      for (const [i, qos] of [[1, 0], [2, 1], [3, 2]] as const) await b.publishAsync(topics[i], `qos ${qos}`, { qos });
      // Listening before the CONNACK: the queued messages follow it at once.
      const back = mqtt.connect(url, { protocolVersion: 4, clientId: 'myclientid', clean: false, reconnectPeriod: 0 });
      open.push(back);
      const got = inbox(back);
      const connack = await new Promise<{ sessionPresent: boolean }>((resolve) => back.once('connect', (p) => resolve(p as { sessionPresent: boolean })));
      if (!connack.sessionPresent) throw new Error('no session present on reconnecting with CleanSession 0');
      await settle(b, got, 'Sentinel/Y');
      const queued = got.filter((m) => m.topic !== 'Sentinel/Y').length;
      if (queued < 2 || queued > 3) throw new Error(`${queued} queued messages, 2 or 3 expected`);
      await back.endAsync();
      await (await client('myclientid', { clean: true })).endAsync();
    }),
    overlapping_subscriptions: guarded(async () => {
      const a = await client('myclientid');
      const got = inbox(a);
      await a.subscribeAsync({ 'TopicA/#': { qos: 2 }, 'TopicA/+': { qos: 1 } });
      await a.publishAsync(topics[3], 'overlapping topic filters', { qos: 2 });
      await settle(a, got, 'TopicA/Z');
      const copies = got.filter((m) => m.topic === topics[3]).map((m) => m.qos).sort();
      // One message at the highest QoS, or one per subscription at each one's QoS.
      if (!(copies.length === 1 && copies[0] === 2) && !(copies.length === 2 && copies[0] === 1 && copies[1] === 2)) throw new Error(`copies at QoS ${copies.join(', ')}`);
    }),
    keepalive: guarded(async () => {
      const b = await client('myclientid2', { clean: true, keepalive: 0 });
      const got = inbox(b);
      await b.subscribeAsync(topics[4], { qos: 2 });
      // A client that asked for 5 s and then says nothing: the server closes it after 1.5 × 5 s and
      // publishes its will [MQTT-3.1.2-24].
      const silent = await rawClient(port);
      silent.send(connectPacket('myclientid', { keepalive: 5, will: { topic: topics[4], payload: Buffer.from('keepalive expiry'), qos: 0, retain: false } }));
      await silent.next('connack');
      await eventually(() => got.some((m) => m.payload === 'keepalive expiry'), 'the will of the silent client', 30_000);
    }),
    redelivery_on_reconnect: guarded(async () => {
      const b = await rawClient(port);
      b.send(connectPacket('myclientid2', { clean: false }));
      await b.next('connack');
      b.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'TopicA/#', qos: 2 }] } as Packet);
      await b.next('suback');
      const a = await client('myclientid');
      await a.publishAsync(topics[1], '', { qos: 1 });
      await a.publishAsync(topics[3], '', { qos: 2 });
      // b receives both and acknowledges neither, then goes away.
      await b.next('publish');
      await b.next('publish');
      b.socket.destroy();
      const again = await rawClient(port);
      again.send(connectPacket('myclientid2', { clean: false }));
      await again.next('connack');
      const redelivered = [(await again.next('publish')) as { topic: string }, (await again.next('publish')) as { topic: string }];
      if (redelivered.map((p) => p.topic).sort().join() !== [topics[1], topics[3]].sort().join()) throw new Error(`redelivered ${JSON.stringify(redelivered.map((p) => p.topic))}`);
      again.socket.destroy();
      await (await client('myclientid2', { clean: true })).endAsync();
    }),
    subscribe_failure: guarded(async () => {
      const a = await client('myclientid');
      const granted = await new Promise<number[]>((resolve) => {
        a.on('packetreceive', (p) => p.cmd === 'suback' && resolve(p.granted as number[]));
        a.subscribe('test/nosubscribe', { qos: 2 }, () => undefined);
      });
      if (granted[0] !== 0x80) throw new Error(`SUBACK ${granted[0]} for test/nosubscribe, 0x80 expected (a broker policy)`);
    }),
    dollar_topics: guarded(async () => {
      const b = await client('myclientid2', { clean: true, keepalive: 0 });
      const got = inbox(b);
      await b.subscribeAsync('+/+', { qos: 2 });
      await b.publishAsync(`$${topics[1]}`, '', { qos: 1 });
      await settle(b, got, 'Sentinel/Z');
      if (got.some((m) => m.topic.startsWith('$'))) throw new Error('a $ topic matched +/+ [MQTT-4.7.2-1]');
    }),
    unsubscribe: guarded(async () => {
      const b = await client('myclientid2', { clean: true });
      const got = inbox(b);
      for (const t of topics.slice(0, 3)) await b.subscribeAsync(t, { qos: 2 });
      await b.unsubscribeAsync(topics[0]);
      const a = await client('myclientid', { clean: true });
      for (const t of topics.slice(0, 3)) await a.publishAsync(t, '', { qos: 1 });
      await b.subscribeAsync('Sentinel/U', { qos: 1 });
      await settle(a, got, 'Sentinel/U');
      const n = got.filter((m) => m.topic !== 'Sentinel/U').length;
      if (n !== 2) throw new Error(`${n} messages after unsubscribing from one of three topics, 2 expected`);
    }),
  };
}

async function run(port: number): Promise<Record<Case, string | null>> {
  const c = cases(port);
  const out = {} as Record<Case, string | null>;
  for (const name of CASES) out[name] = await c[name]().then(() => null, (err: Error) => err.message);
  return out;
}

describe('Paho MQTT 3.1.1 interoperability cases', { timeout: 300_000 }, () => {
  let gw: GatewayHandle;
  let aedes: { broker: Aedes; server: Server; port: number; sockets: Set<Socket> };
  let mosquitto: Mosquitto;

  beforeAll(async () => {
    const city = await smallCity(1);
    gw = await createGateway(gatewayConfig({ labMode: true }), { logger: testLogger, metrics: createMetricsRegistry(), registry: city.registry, serviceSecret: city.provisioning.serviceSecret, clock: systemClock });
    const broker = await Aedes.createBroker();
    const sockets = new Set<Socket>();
    const server = createServer((socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      broker.handle(socket);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    aedes = { broker, server, port: (server.address() as { port: number }).port, sockets };
    mosquitto = await startMosquitto();
  });
  afterAll(async () => {
    await gw?.close();
    if (aedes) {
      for (const socket of aedes.sockets) socket.destroy();
      await new Promise<void>((resolve) => aedes.server.close(() => resolve()));
      await new Promise<void>((resolve) => aedes.broker.close(() => resolve()));
    }
    await mosquitto?.stop();
  });

  it.each([
    ['gateway', () => gw.port],
    ['aedes', () => aedes.port],
    ['mosquitto', () => mosquitto.port],
  ] as const)('%s: the cases pass but those the table says fail', async (name, port) => {
    const outcome = await run(port());
    const failed = CASES.filter((c) => outcome[c] !== null);
    expect(failed, `${name}: ${CASES.length - failed.length} of ${CASES.length} pass; ${JSON.stringify(Object.fromEntries(failed.map((c) => [c, outcome[c]])))}`).toEqual(FAILS[name]);
  });
});
