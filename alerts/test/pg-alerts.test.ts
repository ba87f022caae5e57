/**
 * The alerts service on a real PostgreSQL 15 (FLOODGATE_DATABASE_URL): a closure through a real
 * broker reaches the police from the outbox kept in PostgreSQL, numbered by the database's
 * sequence; the alerts service restarted on the same database resumes its outbox (the reopen
 * follows, sequence 2) and sends nothing twice.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import type { MqttClient } from 'mqtt';
import { createAlerts } from '../alerts.ts';
import { alertsConfig } from '../config.ts';
import { createMetricsRegistry } from '../../lib/metrics.ts';
import { systemClock } from '../../lib/clock.ts';
import { eventually, RECENT_HOUR, startStack, testLogger, type Stack } from '../../test/helpers/stack.ts';
import { startPostgres, type Postgres } from '../../test/helpers/postgres.ts';
import type { AlertsHandle } from '../alerts.ts';

const MIN = 60_000;

describe('alerts service on PostgreSQL', { timeout: 120_000 }, () => {
  let server: Postgres;
  let stack: Stack | undefined;
  let again: AlertsHandle | undefined;
  beforeAll(async () => {
    server = await startPostgres();
  });
  afterAll(async () => {
    await again?.close();
    await stack?.close();
    await server?.stop();
  });

  async function send(dev: MqttClient, series: Array<[number, number]>) {
    for (const [min, depth] of series) await dev.publishAsync('sensors/ponding/PD-001/reading', JSON.stringify({ ts: RECENT_HOUR + min * MIN, seq: min, depth_cm: depth }), { qos: 1 });
  }

  it('closes through the PostgreSQL outbox, and a restarted alerts service resumes it', async () => {
    stack = await startStack({ alerts: { databaseUrl: server.url } });
    const s = stack;
    const dev = await s.device('PD-001');
    const police = () => s.receiver.received.filter((r) => r.notice.underpass.id === 'UP-001').map((r) => `${r.notice.action} ${r.notice.sequence}`);
    await send(dev, [[0, 26], [1, 27], [2, 28], [3, 29]]);
    await eventually(async () => police().length === 1, 'the close notice');

    // Where it was kept: in PostgreSQL, not in the data directory's SQLite file.
    // (The police answered; the outbox records the delivery right after: wait for that, not for time.)
    const pool = new pg.Pool({ connectionString: server.url, max: 1 });
    const rows = async () => (await pool.query<{ action: string; status: string }>("SELECT action, status FROM notices WHERE subject_id = 'UP-001'")).rows;
    await eventually(async () => (await rows())[0]?.status === 'delivered', 'the close recorded as delivered in PostgreSQL');
    expect(await rows()).toEqual([{ action: 'close', status: 'delivered' }]);
    await pool.end();

    // The alerts service restarts on the same database (its port is new; the police are the same).
    await s.alerts.close();
    const cfg = alertsConfig(s.dataDir, { host: '127.0.0.1', port: 0, mqttUrl: s.mqttUrl, apiToken: s.apiToken, policeUrl: s.receiver.url, policeSecrets: { FLOODGATE_POLICE_SECRET: s.policeSecret }, outboxPollMs: 50, databaseUrl: server.url });
    again = await createAlerts(cfg, { logger: testLogger, metrics: createMetricsRegistry(), registry: s.registry, serviceSecret: s.provisioning.serviceSecret, clock: systemClock, backoff: { baseMs: 20, maxMs: 200, minMs: 10 } });
    expect((await again.store.getAlert((await again.store.listAlerts({ state: 'firing', rule: 'underpass-closure', limit: 1 }))[0]!.alertId))?.state).toBe('firing');
    await send(dev, [[4, 14], [6, 12], [10, 10], [12, 8], [15, 7]]);
    await eventually(async () => police().length === 2, 'the reopen notice');
    await eventually(async () => (await again!.store.listNotices({ subject: 'UP-001', limit: 10 })).every((n) => n.status === 'delivered'), 'both delivered');
    expect(police()).toEqual(['close 1', 'reopen 2']);
    expect(s.receiver.received.filter((r) => r.duplicate)).toEqual([]);
  });
});
