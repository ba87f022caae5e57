/**
 * ingest, rules and alerts also run against Mosquitto in place of the floodgate gateway: the
 * storm goes through a real Mosquitto 2 with password auth and the ACL generated from the
 * gateway's roles, and ends in stored readings and delivered notices.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import type Database from 'better-sqlite3';
import { startMosquitto, type Mosquitto } from './helpers/servers.ts';
import { eventually, smallCity, startStack, testLogger, type Stack } from './helpers/stack.ts';
import { mosquittoAcl } from '../gateway/mosquitto.ts';
import { SERVICE_NAMES } from '../gateway/acl.ts';
import { runUnderpassStorm, type StormSummary } from '../simulators/underpass-storm.ts';
import { systemClock } from '../lib/clock.ts';

describe('floodgate services on Mosquitto', () => {
  let mosquitto: Mosquitto;
  let stack: Stack;
  let summary: StormSummary;

  beforeAll(async () => {
    const city = await smallCity(3);
    const users: Record<string, string> = { ...city.provisioning.sensors };
    for (const role of SERVICE_NAMES) users[`svc-${role}`] = city.provisioning.serviceSecret;
    mosquitto = await startMosquitto({ users, acl: mosquittoAcl() });
    stack = await startStack({ city, brokerUrl: mosquitto.url });
    summary = await runUnderpassStorm(
      { mqttUrl: mosquitto.url, sensors: 3, stepMs: 0, seed: 5 },
      { registry: stack.registry, provisioning: stack.provisioning, clock: systemClock, logger: testLogger },
    );
  });
  afterAll(async () => {
    await stack?.close();
    await mosquitto?.stop();
  });

  it('stores every reading', async () => {
    const db = (stack.ingest.sink as unknown as { db: Database.Database }).db;
    const count = () => (db.prepare("SELECT count(*) AS n FROM readings WHERE measurement = 'ponding'").get() as { n: number }).n;
    await eventually(() => count() === summary.published, `${summary.published} readings stored`);
    expect(count()).toBe(3 * 90);
  });

  it('delivers one close and one reopen per underpass', async () => {
    await eventually(() => stack.receiver.received.length >= 6, '6 notices');
    for (const up of ['UP-001', 'UP-002', 'UP-003']) {
      expect(stack.receiver.received.filter((r) => r.notice.underpass.id === up).map((r) => r.notice.action)).toEqual(['close', 'reopen']);
    }
  });

  it('keeps devices on their own topics through the generated ACL', async () => {
    const connect = (id: string, password = stack.provisioning.sensors[id]) =>
      mqtt.connectAsync(mosquitto.url, { protocolVersion: 4, clientId: id, username: id, password, reconnectPeriod: 0 });
    // Mosquitto grants any subscription and filters each delivery by the ACL (it does not answer 0x80).
    const nosy = await connect('PD-001');
    const nosySaw: string[] = [];
    nosy.on('message', (t) => nosySaw.push(t));
    await nosy.subscribeAsync('sensors/#', { qos: 1 });
    const ingestSaw: string[] = [];
    const watcher = await mqtt.connectAsync(mosquitto.url, { protocolVersion: 4, clientId: 'watch', username: 'svc-ingest', password: stack.provisioning.serviceSecret, reconnectPeriod: 0 });
    watcher.on('message', (t) => ingestSaw.push(t));
    await watcher.subscribeAsync('sensors/+/+/reading', { qos: 1 });

    const rogue = await connect('PD-002');
    await rogue.publishAsync('sensors/ponding/PD-003/reading', JSON.stringify({ ts: Date.now(), depth_cm: 99 }), { qos: 1 }); // dropped by the ACL
    await rogue.publishAsync('sensors/ponding/PD-002/reading', JSON.stringify({ ts: Date.now(), depth_cm: 1 }), { qos: 1 }); // its own: delivered
    await eventually(() => ingestSaw.length >= 1, 'the legitimate reading at the service');
    await new Promise((r) => setTimeout(r, 200));
    expect(ingestSaw).toEqual(['sensors/ponding/PD-002/reading']);
    expect(nosySaw).toEqual([]);
    await Promise.all([nosy.endAsync(), watcher.endAsync(), rogue.endAsync()]);

    const wrong = await connect('PD-001', 'nope').then(() => null, (e: { code?: number }) => e);
    expect(wrong?.code).toBe(5); // Mosquitto answers "not authorized" for a bad password
  });

  it('takes an MQTT 5 device\'s readings into the store (the MQTT 5 path: Mosquitto in front of the services)', async () => {
    const db = (stack.ingest.sink as unknown as { db: Database.Database }).db;
    const ts = Date.now() - 60_000;
    const dev = await mqtt.connectAsync(mosquitto.url, { protocolVersion: 5, clientId: 'PD-003', username: 'PD-003', password: stack.provisioning.sensors['PD-003'], reconnectPeriod: 0 });
    await dev.publishAsync('sensors/ponding/PD-003/reading', JSON.stringify({ ts, depth_cm: 4.5 }), { qos: 1, properties: { contentType: 'application/json' } });
    await dev.endAsync();
    const stored = () => (db.prepare("SELECT count(*) AS n FROM readings WHERE sensor = 'PD-003' AND ts = ?").get(ts) as { n: number }).n;
    await eventually(() => stored() === 1, 'the MQTT 5 reading stored');
  });
});
