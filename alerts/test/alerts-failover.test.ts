/**
 * Two alerts instances on one real PostgreSQL 15 and one broker: exactly one is active (the
 * `alerts` lease), the other serves the API but answers /healthz 503 so a load balancer sends
 * officers to the active one; a resolve sent to the standby is refused (503 NOT_ACTIVE). The active one stops: the standby takes the lease (epoch + 1),
 * connects the alert events' persistent session, and the reopen reaches the police from the
 * shared outbox with the new epoch and the next sequence — nothing sent twice.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { createAlerts, type AlertsHandle } from '../alerts.ts';
import { alertsConfig } from '../config.ts';
import { createMetricsRegistry } from '../../lib/metrics.ts';
import { systemClock } from '../../lib/clock.ts';
import { eventually, startStack, testLogger, type Stack } from '../../test/helpers/stack.ts';
import { usePostgres } from '../../test/helpers/postgres.ts';
import { publishDepth } from '../../test/helpers/broker-clients.ts';

describe('alerts failover by lease', { timeout: 120_000 }, () => {
  const db = usePostgres();
  let stack: Stack | undefined;
  let b: AlertsHandle | undefined;
  afterAll(async () => {
    await b?.close();
    await stack?.close();
  });

  it('one active, the standby 503; the active one stops and the standby carries on with a higher epoch', async () => {
    // A short lease for the test, long enough that a busy CI machine's pauses never cost one.
    const lease = { databaseUrl: db.server().url, leaseTtlMs: 5000 };
    stack = await startStack({ alerts: { ...lease, instanceId: 'a' } });
    const s = stack;
    const cfg = alertsConfig(s.dataDir, { host: '127.0.0.1', port: 0, mqttUrl: s.mqttUrl, apiToken: s.apiToken, policeUrl: s.receiver.url, policeSecrets: { FLOODGATE_POLICE_SECRET: s.policeSecret }, outboxPollMs: 50, ...lease, instanceId: 'b' });
    b = await createAlerts(cfg, { logger: testLogger, metrics: createMetricsRegistry(), registry: s.registry, serviceSecret: s.provisioning.serviceSecret, clock: systemClock, backoff: { baseMs: 20, maxMs: 200, minMs: 10 } });
    await eventually(async () => s.alerts.active(), 'a is active');
    expect(b.active()).toBe(false);
    const health = async (h: AlertsHandle) => (await h.app.inject({ method: 'GET', url: '/healthz' })).statusCode;
    await eventually(async () => (await health(s.alerts)) === 200, 'a healthy');
    expect(await health(b)).toBe(503);

    const dev: MqttClient = await s.device('PD-001');
    const police = () => s.receiver.received.filter((r) => r.notice.underpass.id === 'UP-001').map((r) => `${r.notice.action} seq ${r.notice.sequence} epoch ${r.notice.epoch}`);
    for (const [m, d] of [[0, 26], [1, 27], [2, 28], [3, 29]] as const) await publishDepth(dev, 'PD-001', m, d);
    await eventually(async () => police().length === 1, 'the close, from a');

    // An officer's resolve sent to the standby (not through the load balancer) is refused: only the
    // active instance makes police notices, under its epoch.
    const auth = { authorization: `Bearer ${s.apiToken}` };
    const firing = (await b.app.inject({ method: 'GET', url: '/api/alerts?state=firing&rule=underpass-closure', headers: auth })).json() as { alerts: Array<{ alertId: string }> };
    const closure = firing.alerts[0]!.alertId;
    const refused = await b.app.inject({ method: 'POST', url: `/api/alerts/${closure}/resolve`, headers: auth, payload: { reason: 'inspected' } });
    expect({ status: refused.statusCode, code: (refused.json() as { error: { code: string } }).error.code }).toEqual({ status: 503, code: 'NOT_ACTIVE' });
    expect((await b.app.inject({ method: 'GET', url: `/api/alerts/${closure}`, headers: auth })).json()).toMatchObject({ alert: { state: 'firing' } });

    await s.alerts.close(); // a stops cleanly: it releases the lease, b takes it at its next ask
    await eventually(async () => b!.active(), 'b takes over');
    await eventually(async () => (await health(b!)) === 200, 'b healthy');
    for (const [m, d] of [[4, 14], [6, 12], [10, 10], [12, 8], [15, 7]] as const) await publishDepth(dev, 'PD-001', m, d);
    await eventually(async () => police().length === 2, 'the reopen, from b');
    expect(police()).toEqual(['close seq 1 epoch 1', 'reopen seq 2 epoch 2']);
    expect(s.receiver.received.filter((r) => r.duplicate)).toEqual([]);
    expect(s.receiver.refused).toEqual([]);
  });
});
