/** Limits, presence, revoke/rotate, lab mode, TLS and WebSocket listeners, against real clients. */
import { beforeAll, describe, expect, it } from 'vitest';
import mqtt, { type MqttClient } from 'mqtt';
import { execFileSync } from 'node:child_process';
import { connect as netConnect } from 'node:net';
import { join } from 'node:path';
import { createGateway, type GatewayHandle } from '../gateway.ts';
import { gatewayConfig } from '../config.ts';
import { DEFAULT_LIMITS } from '../limits.ts';
import { createMetricsRegistry, type Registry as Metrics } from '../../lib/metrics.ts';
import { systemClock } from '../../lib/clock.ts';
import { hashSecret, type Provisioning, type Registry } from '../../config/registry.ts';
import { eventually, smallCity, testLogger } from '../../test/helpers/stack.ts';
import { tempDir } from '../../test/helpers/servers.ts';

let city: { registry: Registry; provisioning: Provisioning };
beforeAll(async () => {
  city = await smallCity(3);
});

async function gateway(overrides: Parameters<typeof gatewayConfig>[0] = {}, registry?: Registry): Promise<{ gw: GatewayHandle; metrics: Metrics; url: string }> {
  const metrics = createMetricsRegistry();
  const gw = await createGateway(gatewayConfig(overrides), { logger: testLogger, metrics, registry: registry ?? city.registry, serviceSecret: city.provisioning.serviceSecret, clock: systemClock });
  return { gw, metrics, url: `mqtt://127.0.0.1:${gw.port}` };
}

const device = (url: string, id: string, extra: mqtt.IClientOptions = {}) =>
  mqtt.connectAsync(url, { protocolVersion: 4, clientId: id, username: id, password: city.provisioning.sensors[id], reconnectPeriod: 0, connectTimeout: 5000, ...extra });
const service = (url: string, role: string, extra: mqtt.IClientOptions = {}) =>
  mqtt.connectAsync(url, { protocolVersion: 4, clientId: `t-${role}-${Math.random()}`, username: `svc-${role}`, password: city.provisioning.serviceSecret, reconnectPeriod: 0, ...extra });
const closed = (c: MqttClient) => new Promise<void>((resolve) => (c.connected ? c.once('close', () => resolve()) : resolve()));
const limitHits = async (metrics: Metrics, limit: string) => {
  const m = /(\d+)$/.exec((await metrics.metrics()).split('\n').find((l) => l.startsWith(`floodgate_gateway_limit_hits_total{limit="${limit}"}`)) ?? '');
  return m ? Number(m[1]) : 0;
};

describe('limits', () => {
  it('closes a connection whose packet announces more than the maximum size, before the body arrives', async () => {
    const { gw, metrics, url } = await gateway({ limits: { ...DEFAULT_LIMITS, maxPacketBytes: 1024 } });
    try {
      const dev = await device(url, 'PD-001');
      await dev.publishAsync('sensors/ponding/PD-001/reading', JSON.stringify({ ts: Date.now(), depth_cm: 1 }), { qos: 1 }); // small: fine
      const gone = closed(dev);
      dev.publish('sensors/ponding/PD-001/reading', 'x'.repeat(5000), { qos: 0 });
      await gone;
      expect(await limitHits(metrics, 'packet_size')).toBe(1);
      // A raw socket announcing 200 MB gets closed after the header alone.
      const sock = netConnect(gw.port, '127.0.0.1');
      await new Promise((r) => sock.once('connect', r));
      const shut = new Promise((r) => sock.once('close', r));
      sock.write(Buffer.from([0x10, 0xff, 0xff, 0xff, 0x5f]));
      await shut;
      expect(await limitHits(metrics, 'packet_size')).toBe(2);
    } finally {
      await gw.close();
    }
  });

  it('lets a device burst, then disconnects it for a sustained excess rate', async () => {
    // One token per 20 s: the burst of 5 is all the device gets, however slow the machine.
    const { gw, metrics, url } = await gateway({ limits: { ...DEFAULT_LIMITS, deviceRatePerS: 0.05, deviceBurst: 5 } });
    try {
      const dev = await device(url, 'PD-002');
      for (let i = 0; i < 5; i++) await dev.publishAsync('sensors/ponding/PD-002/reading', JSON.stringify({ ts: Date.now(), seq: i, depth_cm: 1 }), { qos: 1 });
      expect(dev.connected).toBe(true);
      const gone = closed(dev);
      dev.publish('sensors/ponding/PD-002/reading', JSON.stringify({ ts: Date.now(), seq: 6, depth_cm: 1 }), { qos: 1 });
      await gone;
      expect(await limitHits(metrics, 'rate')).toBe(1);
    } finally {
      await gw.close();
    }
  });

  it('refuses connections beyond the maximum with CONNACK 3', async () => {
    const { gw, metrics, url } = await gateway({ limits: { ...DEFAULT_LIMITS, maxConnections: 2 } });
    try {
      const a = await device(url, 'PD-001');
      const b = await device(url, 'PD-002');
      const err = await device(url, 'PD-003').then(() => null, (e: { code?: number }) => e);
      expect(err?.code).toBe(3);
      expect(await limitHits(metrics, 'connections')).toBe(1);
      await Promise.all([a.endAsync(), b.endAsync()]);
    } finally {
      await gw.close();
    }
  });

  it('accepts keepalive 0 (off, [MQTT-3.1.2-10]) with the server\'s own idle limit', async () => {
    const { gw, metrics, url } = await gateway();
    try {
      const c = await device(url, 'PD-001', { keepalive: 0 });
      expect(c.connected).toBe(true);
      const client = (gw.broker as unknown as { clients: Record<string, { _keepaliveInterval: number }> }).clients['PD-001']!;
      expect(client._keepaliveInterval).toBe(DEFAULT_LIMITS.keepaliveMaxS * 1500 + 1);
      expect(await limitHits(metrics, 'keepalive')).toBe(0);
      await c.endAsync();
    } finally {
      await gw.close();
    }
  });

  it.each([
    [2, 5],
    [4000, 5],
  ])('refuses keepalive %i s (outside 5..1800) with CONNACK %i', async (keepalive, code) => {
    const { gw, metrics, url } = await gateway();
    try {
      const err = await device(url, 'PD-001', { keepalive }).then(() => null, (e: { code?: number }) => e);
      expect(err?.code).toBe(code);
      expect(await limitHits(metrics, 'keepalive')).toBe(1);
    } finally {
      await gw.close();
    }
  });

  it('refuses topics and filters deeper than the maximum', async () => {
    const { gw, metrics, url } = await gateway({ limits: { ...DEFAULT_LIMITS, maxTopicLevels: 5 } });
    try {
      const svc = await service(url, 'simulator-admin');
      const suback = new Promise<number[]>((resolve) => svc.on('packetreceive', (p) => p.cmd === 'suback' && resolve(p.granted as number[])));
      svc.subscribe('floodgate/a/b/c/d/e', { qos: 1 }, () => {});
      expect(await suback).toEqual([0x80]);
      const gone = closed(svc);
      svc.publish('sensors/ponding/PD-001/reading/x/y', '{}', { qos: 1 });
      await gone;
      expect(await limitHits(metrics, 'topic_levels')).toBe(2);
    } finally {
      await gw.close();
    }
  });
});

describe('presence', () => {
  it('never retains a device\'s message, and refuses a device\'s status that claims a source: only the gateway speaks for presence', async () => {
    const { gw, metrics, url } = await gateway();
    try {
      const dev = await device(url, 'RG-003');
      const ts = Date.now();
      await dev.publishAsync('sensors/rain/RG-003/reading', JSON.stringify({ ts, rain_mm: 1, interval_s: 300 }), { qos: 1, retain: true });
      await dev.publishAsync('sensors/rain/RG-003/status', JSON.stringify({ state: 'online', fw: '1.2' }), { qos: 1, retain: true });
      const cut = closed(dev);
      dev.publish('sensors/rain/RG-003/status', JSON.stringify({ state: 'online', source: 'gateway' }), { qos: 1, retain: true });
      await cut;
      // A late subscriber gets the gateway's presence as retained, and no retained reading.
      const late = await service(url, 'rules');
      const retained: string[] = [];
      late.on('message', (t, p, packet) => packet.retain && retained.push(`${t} ${(JSON.parse(p.toString()) as { source?: string }).source ?? 'device'}`));
      await late.subscribeAsync(['sensors/+/+/status', 'sensors/+/+/reading'], { qos: 1 });
      await eventually(() => retained.length > 0, 'the retained presence');
      expect(retained).toEqual(['sensors/rain/RG-003/status gateway']);
      const text = await metrics.metrics();
      expect(text).toContain('floodgate_gateway_retain_cleared_total{leaf="reading"} 1');
      expect(text).toMatch(/floodgate_gateway_retain_cleared_total\{leaf="status"\} 2/);
      await late.endAsync();
    } finally {
      await gw.close();
    }
  });

  it('publishes online, offline (clean disconnect) and lost (dropped link) as retained status with last-seen', async () => {
    const { gw, url } = await gateway();
    try {
      const watcher = await service(url, 'alerts');
      const seen: Array<{ topic: string; state: string; lastSeen: string; source: string }> = [];
      watcher.on('message', (topic, payload) => seen.push({ topic, ...JSON.parse(payload.toString()) }));
      await watcher.subscribeAsync('sensors/+/+/status', { qos: 1 });

      const dev = await device(url, 'RG-001');
      await eventually(() => seen.some((s) => s.state === 'online'), 'online');
      await dev.endAsync(); // sends DISCONNECT
      await eventually(() => seen.some((s) => s.state === 'offline'), 'offline');

      const dev2 = await device(url, 'RG-002');
      await dev2.publishAsync('sensors/rain/RG-002/reading', JSON.stringify({ ts: Date.now(), rain_mm: 0, interval_s: 60 }), { qos: 1 });
      (dev2.stream as unknown as { destroy(): void }).destroy(); // the link drops, no DISCONNECT
      await eventually(() => seen.some((s) => s.state === 'lost'), 'lost');

      expect(seen.map((s) => `${s.topic} ${s.state} ${s.source}`)).toEqual([
        'sensors/rain/RG-001/status online gateway',
        'sensors/rain/RG-001/status offline gateway',
        'sensors/rain/RG-002/status online gateway',
        'sensors/rain/RG-002/status lost gateway',
      ]);
      for (const s of seen) expect(s.lastSeen).toMatch(/\+08:00$/);

      // Retained: a late subscriber learns the current state at once.
      const late = await service(url, 'rules');
      const retained: string[] = [];
      late.on('message', (t, p, packet) => packet.retain && retained.push(`${t} ${JSON.parse(p.toString()).state}`));
      await late.subscribeAsync('sensors/+/+/status', { qos: 1 });
      await eventually(() => retained.length === 2, 'retained status');
      expect(retained.sort()).toEqual(['sensors/rain/RG-001/status offline', 'sensors/rain/RG-002/status lost']);
      await Promise.all([watcher.endAsync(), late.endAsync()]);
    } finally {
      await gw.close();
    }
  });

  it('a second connection with the same device id takes over; the first is closed', async () => {
    const { gw, metrics, url } = await gateway();
    try {
      const first = await device(url, 'WL-001');
      const gone = closed(first);
      const second = await device(url, 'WL-001');
      await gone;
      expect(second.connected).toBe(true);
      expect(gw.connectedDevices()).toEqual(['WL-001']);
      expect(await metrics.metrics()).toMatch(/floodgate_gateway_session_takeovers_total 1/);
      await second.endAsync();
    } finally {
      await gw.close();
    }
  });
});

describe('revoke and rotate', () => {
  it('revoking disconnects a connected device at once and refuses it afterwards', async () => {
    const { gw, url } = await gateway();
    try {
      const dev = await device(url, 'PD-003');
      const gone = closed(dev);
      gw.updateRegistry({ ...city.registry, sensors: city.registry.sensors.map((s) => (s.id === 'PD-003' ? { ...s, revoked: true } : s)) });
      await gone;
      const err = await device(url, 'PD-003').then(() => null, (e: { code?: number }) => e);
      expect(err?.code).toBe(5);
    } finally {
      await gw.close();
    }
  });

  it('after a rotation both secrets work until the grace period ends, then only the new one', async () => {
    let now = Date.now();
    const clock = { now: () => now };
    const metrics = createMetricsRegistry();
    const gw = await createGateway(gatewayConfig(), { logger: testLogger, metrics, registry: city.registry, serviceSecret: city.provisioning.serviceSecret, clock });
    const url = `mqtt://127.0.0.1:${gw.port}`;
    try {
      const old = city.provisioning.sensors['WL-002']!;
      (await device(url, 'WL-002')).end(); // the old secret is verified and cached
      const fresh = 'a-brand-new-secret-for-wl-002';
      const rotated = city.registry.sensors.map((s) =>
        s.id === 'WL-002' ? { ...s, previousSecretHash: s.secretHash, previousValidUntil: new Date(now + 60_000).toISOString(), secretHash: '' } : s,
      );
      const newHash = await hashSecret(fresh);
      gw.updateRegistry({ ...city.registry, sensors: rotated.map((s) => (s.id === 'WL-002' ? { ...s, secretHash: newHash } : s)) });
      const attempt = (password: string) => device(url, 'WL-002', { password }).then((c) => (c.end(), 'ok'), (e: { code?: number }) => `refused ${e.code}`);
      expect(await attempt(old)).toBe('ok');
      expect(await attempt(fresh)).toBe('ok');
      now += 61_000;
      expect(await attempt(old)).toBe('refused 4');
      expect(await attempt(fresh)).toBe('ok');
    } finally {
      await gw.close();
    }
  });
});

describe('listeners', () => {
  it('lab mode admits anonymous clients outside sensors/ and floodgate/ only', async () => {
    const { gw, url } = await gateway({ labMode: true });
    try {
      const a = await mqtt.connectAsync(url, { protocolVersion: 4, reconnectPeriod: 0 });
      const got: string[] = [];
      a.on('message', (t, p) => got.push(`${t}=${p}`));
      await a.subscribeAsync('lab/#', { qos: 1 });
      await a.publishAsync('lab/x', 'hello', { qos: 1 });
      await eventually(() => got.length === 1, 'the lab message');
      expect(got).toEqual(['lab/x=hello']);
      const gone = closed(a);
      a.publish('sensors/ponding/PD-001/reading', '{}', { qos: 1 });
      await gone;
    } finally {
      await gw.close();
    }
    // Without lab mode anonymous is refused.
    const plain = await gateway();
    try {
      const err = await mqtt.connectAsync(plain.url, { protocolVersion: 4, reconnectPeriod: 0 }).then(() => null, (e: { code?: number }) => e);
      expect(err?.code).toBe(5);
    } finally {
      await plain.gw.close();
    }
  });

  it('lab mode lets test tools use root wildcards and their own $ topics, and never forwards them the city\'s messages', async () => {
    const { gw, url } = await gateway({ labMode: true });
    try {
      const tool = await mqtt.connectAsync(url, { protocolVersion: 4, reconnectPeriod: 0, keepalive: 0 });
      const got: string[] = [];
      tool.on('message', (t) => got.push(t));
      const granted = await tool.subscribeAsync(['#', '+/+'], { qos: 1 });
      expect(granted.map((g) => g.qos)).toEqual([1, 1]);
      const dev = await device(url, 'PD-002');
      await dev.publishAsync('sensors/ponding/PD-002/reading', JSON.stringify({ ts: Date.now(), depth_cm: 1 }), { qos: 1 });
      await tool.publishAsync('$lab/x', 'dollar', { qos: 1 }); // not matched by # or +/+ [MQTT-4.7.2-1], and the link stays
      await tool.publishAsync('TopicA/B', 'hello', { qos: 1 });
      await eventually(() => got.includes('TopicA/B'), 'the lab message');
      // One copy for the two overlapping subscriptions (aedes' choice, allowed by [MQTT-3.3.5-1]).
      expect(got).toEqual(['TopicA/B']);
      expect(tool.connected).toBe(true);
      await Promise.all([tool.endAsync(), dev.endAsync()]);
    } finally {
      await gw.close();
    }
  });

  it('refuses a zero-length client id with CleanSession 0 with CONNACK 0x02 [MQTT-3.1.3-8]; with CleanSession 1 it is admitted (lab mode)', async () => {
    const { gw } = await gateway({ labMode: true });
    try {
      const connack = async (flags: number) => {
        const socket = netConnect(gw.port, '127.0.0.1');
        const got = new Promise<string>((resolve) => socket.once('data', (d) => resolve(d.toString('hex'))));
        socket.write(Buffer.from([0x10, 0x0c, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, flags, 0x00, 0x3c, 0x00, 0x00]));
        const answer = await got;
        socket.destroy();
        return answer;
      };
      expect(await connack(0x00)).toBe('20020002');
      expect(await connack(0x02)).toBe('20020000');
    } finally {
      await gw.close();
    }
  });

  it('answers a CONNECT of a protocol level it does not speak with CONNACK 0x01 and closes [MQTT-3.1.2-2]', async () => {
    const { gw } = await gateway();
    try {
      const socket = netConnect(gw.port, '127.0.0.1');
      const answer: Buffer[] = [];
      socket.on('data', (d) => answer.push(d));
      const done = new Promise<void>((resolve) => socket.on('close', () => resolve()));
      socket.write(Buffer.from([0x10, 0x0e, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x06, 0x02, 0x00, 0x3c, 0x00, 0x02, 0x61, 0x62]));
      await done;
      expect(Buffer.concat(answer).toString('hex')).toBe('20020001');
    } finally {
      await gw.close();
    }
  });

  it('serves MQTT over TLS and over WebSocket with the same auth', async () => {
    const dir = tempDir('tls');
    const cert = join(dir.path, 'cert.pem');
    const key = join(dir.path, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' });
    const { gw } = await gateway({ tls: { port: 0, certPath: cert, keyPath: key }, wsPort: 0 });
    try {
      const ca = (await import('node:fs')).readFileSync(cert);
      const viaTls = await device(`mqtts://127.0.0.1:${gw.tlsPort}`, 'PD-001', { ca, rejectUnauthorized: true });
      expect(viaTls.connected).toBe(true);
      await viaTls.endAsync();
      const viaWs = await device(`ws://127.0.0.1:${gw.wsPort}/mqtt`, 'PD-002');
      expect(viaWs.connected).toBe(true);
      await viaWs.publishAsync('sensors/ponding/PD-002/reading', JSON.stringify({ ts: Date.now(), depth_cm: 2 }), { qos: 1 });
      await viaWs.endAsync();
      const wrong = await device(`ws://127.0.0.1:${gw.wsPort}/mqtt`, 'PD-002', { password: 'nope' }).then(() => null, (e: { code?: number }) => e);
      expect(wrong?.code).toBe(4);
    } finally {
      await gw.close();
      dir.remove();
    }
  });
});
