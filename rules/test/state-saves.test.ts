/**
 * What the rules service saves, and when. The offline ticker saves the state of the tick, in commit order — never a reading that arrived
 * while the tick's events were on their way. Reproduced with a plain aedes broker whose
 * authorizePublish hook holds the rules' alert events: the tick's "offline" event for 400 ms, and
 * the "back online" event of the reading that arrives meanwhile for as long as the test runs, so
 * that reading's group cannot commit. The saved state must then still be the tick's: had the
 * ticker saved the live state (as it once did), a crash here would have left a saved state that
 * holds the reading, and its redelivery would have been stale — its events lost for good.
 */
import { systemClock } from '../../lib/clock.ts';
import { afterAll, describe, expect, it } from 'vitest';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import mqtt from 'mqtt';
import { Aedes, type AuthorizePublishHandler } from 'aedes';
import { createRules, type RulesHandle } from '../rules.ts';
import { rulesConfig } from '../config.ts';
import { createMetricsRegistry } from '../../lib/metrics.ts';
import { tempDir } from '../../test/helpers/servers.ts';
import { eventually, smallCity, testLogger } from '../../test/helpers/stack.ts';

describe('rules state saves', () => {
  const dir = tempDir('state-saves');
  const held: Array<() => void> = [];
  const cleanup: Array<() => Promise<unknown> | unknown> = [];
  afterAll(async () => {
    held.splice(0).forEach((release) => release());
    for (const c of cleanup.reverse()) await c();
    dir.remove();
  });

  /** aedes over TCP with no auth (the rules log in as a service; nothing checks it here). */
  async function plainBroker(authorizePublish?: AuthorizePublishHandler): Promise<string> {
    const broker = await Aedes.createBroker();
    if (authorizePublish) broker.authorizePublish = authorizePublish;
    const server = createServer(broker.handle);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanup.push(() => new Promise((r) => broker.close(() => server.close(r))));
    return `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  it('restores a closure from its retained alert when no state was saved, and saves it', async () => {
    const url = await plainBroker();
    const city = await smallCity(1);
    const pd = city.registry.sensors.find((s) => s.kind === 'ponding')!;
    // What an earlier run left on the broker: the underpass is closed (retained), its state file is gone.
    const alertId = `underpass-closure:${pd.site}:1`;
    const earlier = await mqtt.connectAsync(url, { protocolVersion: 4, clientId: 'earlier-rules', reconnectPeriod: 0 });
    const firing = { alertId, ruleId: 'underpass-closure', subjectId: pd.site, sensorId: pd.id, state: 'firing', severity: 'critical', value: 31, threshold: 25, unit: 'cm', observedAt: '2026-07-01T10:00:00+08:00', changedAt: '2026-07-01T10:00:05+08:00', reason: 'test' };
    await earlier.publishAsync(`floodgate/alerts/underpass-closure/${pd.site}`, JSON.stringify(firing), { qos: 1, retain: true });
    await earlier.endAsync();

    const statePath = join(dir.path, 'restore-state.db');
    const rules = await createRules(rulesConfig(dir.path, { mqttUrl: url, clientId: 'rules-restore', statePath }), { logger: testLogger, metrics: createMetricsRegistry(), registry: city.registry, serviceSecret: 'unused: plain aedes', clock: systemClock });
    cleanup.push(() => rules.close());
    await eventually(() => rules.state(pd.id)?.closure?.phase === 'firing', 'the closure restored');
    const db = new Database(statePath, { readonly: true });
    cleanup.push(() => db.close());
    const row = await eventually(() => db.prepare('SELECT json FROM sensor_state WHERE id = ?').get(pd.id) as { json: string } | undefined, 'the restored state saved');
    expect(JSON.parse(row.json)).toMatchObject({ lastTs: Date.parse(firing.observedAt), closure: { phase: 'firing', alertId } });
  });

  it('saves the state of the tick, not a reading whose events are still on their way', async () => {
    const seen: Array<{ rule: string; state: string }> = [];
    const authorizePublish: AuthorizePublishHandler = (_client, packet, done) => {
      if (!packet.topic.startsWith('floodgate/alerts/sensor-offline/')) return done(null);
      const { state } = JSON.parse(packet.payload.toString()) as { state: string };
      seen.push({ rule: 'sensor-offline', state });
      if (state === 'firing') setTimeout(() => done(null), 400);
      else held.push(() => done(null));
    };
    const url = await plainBroker(authorizePublish);

    const city = await smallCity(1);
    const sensor = city.registry.sensors.find((s) => s.kind === 'ponding')!.id;
    let now = Date.now();
    const statePath = join(dir.path, 'rules-state.db');
    const rules: RulesHandle = await createRules(rulesConfig(dir.path, { mqttUrl: url, clientId: 'rules-race', statePath, tickMs: 50 }), {
      logger: testLogger,
      metrics: createMetricsRegistry(),
      registry: city.registry,
      serviceSecret: 'unused: plain aedes',
      clock: { ...systemClock, now: () => now },
    });
    cleanup.push(() => rules.close());
    const db = new Database(statePath, { readonly: true });
    cleanup.push(() => db.close());
    const saved = () => {
      const row = db.prepare('SELECT json FROM sensor_state WHERE id = ?').get(sensor) as { json: string } | undefined;
      return row && (JSON.parse(row.json) as { lastTs: number; offline?: { alertId: string } });
    };
    const dev = await mqtt.connectAsync(url, { protocolVersion: 4, clientId: sensor, reconnectPeriod: 0 });
    cleanup.push(() => dev.endAsync(true));
    const reading = (ts: number, seq: number) => dev.publishAsync(`sensors/ponding/${sensor}/reading`, JSON.stringify({ ts, seq, depth_cm: 1 }), { qos: 1 });

    const t1 = now;
    await reading(t1, 1);
    await eventually(() => saved()?.lastTs === t1, 'the first reading saved');

    now += 3_600_000; // an hour of silence: the next tick finds the sensor offline
    await eventually(() => seen.some((e) => e.state === 'firing'), 'the offline event');
    const t2 = now;
    await reading(t2, 2); // back: its "resolved" event is held, so its group cannot commit
    await eventually(() => seen.some((e) => e.state === 'resolved'), 'the reading evaluated');
    expect(rules.state(sensor)?.lastTs).toBe(t2);

    // The tick's event is released after 400 ms and the tick's save follows: the first save since
    // the first reading's.
    const after = await eventually(() => {
      const s = saved();
      return s && (s.offline !== undefined || s.lastTs !== t1) ? s : undefined;
    }, 'a save after the tick');
    expect(after.lastTs, 'the saved state holds a reading whose group has not committed').toBe(t1);
    expect(after.offline).toBeDefined();
    await new Promise((r) => setTimeout(r, 300));
    expect(saved()).toEqual(after); // and nothing saves the reading while its events are held
  });
});
