/**
 * [MQTT-4.6.0-6] every topic is an "Ordered Topic": a resumed persistent session gets its
 * messages in the order they were published. aedes resends the session's stored messages while
 * new ones are already delivered straight to the client, so a reading published during the resend
 * overtook older ones of the same sensor — and the rules engine, which ignores a sensor's older
 * readings, lost those (the chaos suite saw closures delayed by minutes after a rules restart).
 * The gateway holds direct deliveries to a resuming client until its stored queue is sent
 * (delivery-dedupe.ts).
 */
import { afterEach, describe, expect, it } from 'vitest';
import mqtt, { type MqttClient } from 'mqtt';
import { createGateway, type GatewayHandle } from '../gateway.ts';
import { gatewayConfig } from '../config.ts';
import { DEFAULT_LIMITS } from '../limits.ts';
import { createMetricsRegistry } from '../../lib/metrics.ts';
import { systemClock } from '../../lib/clock.ts';
import { eventually, smallCity, testLogger } from '../../test/helpers/stack.ts';
import { tempDir } from '../../test/helpers/servers.ts';
import { topics } from '../../contracts/index.ts';

describe('order across a resumed session', { timeout: 60_000 }, () => {
  let gw: GatewayHandle | undefined;
  const clients: MqttClient[] = [];
  const dir = tempDir('resume-order');
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
    await gw?.close();
    dir.remove();
  });

  it.each(['memory', 'level'] as const)('a subscriber that comes back while a device keeps publishing gets every reading in order (%s store)', async (store) => {
    const city = await smallCity(1);
    const limits = { ...DEFAULT_LIMITS, deviceRatePerS: 100_000, deviceBurst: 100_000 };
    gw = await createGateway(gatewayConfig({ limits, persistence: store === 'memory' ? { type: 'memory' } : { type: 'level', dir: dir.path } }), {
      logger: testLogger,
      metrics: createMetricsRegistry(),
      registry: city.registry,
      serviceSecret: city.provisioning.serviceSecret,
      clock: systemClock,
    });
    const url = `mqtt://127.0.0.1:${gw.port}`;
    const sub = () => mqtt.connectAsync(url, { protocolVersion: 4, clientId: 'floodgate-rules', username: 'svc-rules', password: city.provisioning.serviceSecret, clean: false, reconnectPeriod: 0 });
    const first = await sub();
    await first.subscribeAsync(topics.allReadings, { qos: 1 });
    await first.endAsync();

    const dev = await mqtt.connectAsync(url, { protocolVersion: 4, clientId: 'PD-001', username: 'PD-001', password: city.provisioning.sensors['PD-001'], reconnectPeriod: 0 });
    clients.push(dev);
    const N = 3000;
    let published = 0;
    const publishing = (async () => {
      for (let i = 0; i < N; i++) {
        // 20 in flight at a time, as a busy device (or ingest's group) does.
        const batch = [];
        for (let k = 0; k < 20 && i < N; k++, i++) batch.push(dev.publishAsync(topics.reading('ponding', 'PD-001'), JSON.stringify({ ts: 1_800_000_000_000 + i, seq: i, depth_cm: 1 }), { qos: 1 }));
        i--;
        await Promise.all(batch);
        published = i + 1;
      }
    })();
    // The subscriber comes back while a backlog exists and publishing goes on.
    await eventually(() => published >= 1000, '1,000 readings queued for the offline subscriber');
    const seqs: number[] = [];
    const back = await mqtt.connectAsync(url, { protocolVersion: 4, clientId: 'floodgate-rules', username: 'svc-rules', password: city.provisioning.serviceSecret, clean: false, reconnectPeriod: 0, manualConnect: false });
    clients.push(back);
    back.on('message', (_t, p) => seqs.push((JSON.parse(p.toString()) as { seq: number }).seq));
    await publishing;
    await eventually(() => new Set(seqs).size === N, `all ${N} readings at the subscriber (have ${new Set(seqs).size})`, 30_000);
    const outOfOrder = seqs.filter((s, i) => i > 0 && s < seqs[i - 1]!).length;
    expect(outOfOrder).toBe(0);
  });
});

describe('order across a gateway restart (LevelDB)', { timeout: 60_000 }, () => {
  it('broker ids sort by start time, so a session queue spanning a restart comes back in publish order', async () => {
    const { sortableBrokerId } = await import('../gateway.ts');
    // Every later start sorts after every earlier one (aedes' own ids are random UUIDs).
    const ids = [0, 1, 999, 1_000_000, Date.parse('2026-11-28T00:00:00Z'), Date.parse('2099-01-01T00:00:00Z')].map(sortableBrokerId);
    expect([...ids].sort()).toEqual(ids);

    const city = await smallCity(1);
    const dir = tempDir('restart-order');
    const limits = { ...DEFAULT_LIMITS, deviceRatePerS: 100_000, deviceBurst: 100_000 };
    let gw: GatewayHandle | undefined;
    const start = async () =>
      createGateway(gatewayConfig({ limits, persistence: { type: 'level', dir: dir.path } }), { logger: testLogger, metrics: createMetricsRegistry(), registry: city.registry, serviceSecret: city.provisioning.serviceSecret, clock: systemClock });
    try {
      const seqs: number[] = [];
      let n = 0;
      // Three gateway lives, each queueing 100 readings for the offline rules session.
      for (let life = 0; life < 3; life++) {
        gw = await start();
        const url = `mqtt://127.0.0.1:${gw.port}`;
        if (life === 0) {
          const first = await mqtt.connectAsync(url, { protocolVersion: 4, clientId: 'floodgate-rules', username: 'svc-rules', password: city.provisioning.serviceSecret, clean: false, reconnectPeriod: 0 });
          await first.subscribeAsync(topics.allReadings, { qos: 1 });
          await first.endAsync();
        }
        const dev = await mqtt.connectAsync(url, { protocolVersion: 4, clientId: 'PD-001', username: 'PD-001', password: city.provisioning.sensors['PD-001'], reconnectPeriod: 0 });
        for (let i = 0; i < 100; i++, n++) await dev.publishAsync(topics.reading('ponding', 'PD-001'), JSON.stringify({ ts: 1_800_000_000_000 + n, seq: n, depth_cm: 1 }), { qos: 1 });
        await dev.endAsync();
        if (life < 2) {
          await gw.close();
          await new Promise((r) => setTimeout(r, 5)); // a later start: a later id
        }
      }
      const back = await mqtt.connectAsync(`mqtt://127.0.0.1:${gw!.port}`, { protocolVersion: 4, clientId: 'floodgate-rules', username: 'svc-rules', password: city.provisioning.serviceSecret, clean: false, reconnectPeriod: 0 });
      back.on('message', (_t, p) => seqs.push((JSON.parse(p.toString()) as { seq: number }).seq));
      await eventually(() => seqs.length >= 300, `300 readings queued over three gateway lives (have ${seqs.length})`);
      expect(seqs).toEqual(Array.from({ length: 300 }, (_, i) => i));
      await back.endAsync();
    } finally {
      await gw?.close();
      dir.remove();
    }
  });
});
