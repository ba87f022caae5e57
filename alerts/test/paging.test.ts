/**
 * Grouping: a district storm is one page with many members, not fifty. Closures of five
 * underpasses of one district within the grouping window reach a duty channel as one message
 * listing all five; one elsewhere comes on its own; the police still get one notice per underpass.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt, { type MqttClient } from 'mqtt';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AlertEvent } from '../../contracts/index.ts';
import { eventually, smallCity, startStack, type Stack } from '../../test/helpers/stack.ts';

describe('paging', { timeout: 60_000 }, () => {
  let stack: Stack;
  let rules: MqttClient;
  let hook: Server;
  const got: Array<{ type: string; count?: number; subjects: string[] }> = [];

  beforeAll(async () => {
    hook = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const m = JSON.parse(body) as { type: string; count?: number; subjectId?: string; members?: Array<{ subjectId: string }> };
        got.push({ type: m.type, ...(m.count ? { count: m.count } : {}), subjects: (m.members ?? [m]).map((x) => x.subjectId!) });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    const city = await smallCity(6, (c) => {
      // UP-001 … UP-005 in one district, UP-006 in another.
      c.sites = c.sites.map((s) => (/^UP-00[1-5]$/.test(s.id) ? { ...s, district: 'huangpu' } : s.id === 'UP-006' ? { ...s, district: 'jingan' } : s));
      c.dutyChannels = [{ id: 'duty', format: 'webhook', url: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/duty`, secretRef: 'HOOK', rules: ['underpass-closure'], tier: 1 }];
    });
    stack = await startStack({ city, alerts: { pageGroupMs: 1000, policeSecrets: { FLOODGATE_POLICE_SECRET: 'test-police-secret', HOOK: 'hook-secret' } } });
    rules = await mqtt.connectAsync(stack.mqttUrl, { protocolVersion: 4, clientId: 'test-rules', username: 'svc-rules', password: stack.provisioning.serviceSecret });
  });
  afterAll(async () => {
    await rules?.endAsync();
    await stack?.close();
    await new Promise<void>((r) => hook.close(() => r()));
  });

  it('one page for a district storm, one for the underpass elsewhere', async () => {
    for (const n of [1, 2, 3, 4, 5, 6]) {
      const e: AlertEvent = { alertId: `underpass-closure:UP-00${n}:1`, ruleId: 'underpass-closure', subjectId: `UP-00${n}`, sensorId: `PD-00${n}`, state: 'firing', severity: 'critical', value: 30 + n, threshold: 25, unit: 'cm', observedAt: '2026-07-01T18:03:00+08:00', changedAt: '2026-07-01T18:03:01+08:00', reason: 'ponding above 25 cm' };
      await rules.publishAsync(`floodgate/alerts/${e.ruleId}/${e.subjectId}`, JSON.stringify(e), { qos: 1 });
    }
    await eventually(async () => got.length >= 2, 'two pages', 10_000);
    // Nothing more can come: every page row is flushed into a message and every duty message is
    // delivered (an event to wait for, not a time).
    const store = stack.alerts.store;
    const open = async () => (await store.pendingPages()) + (await store.listNotices({ limit: 1000 })).filter((n) => n.recipient === 'duty' && n.status !== 'delivered').length;
    await eventually(async () => (await open()) === 0, 'every page flushed and delivered');
    expect(got).toEqual([
      { type: 'floodgate.alert-group', count: 5, subjects: ['UP-001', 'UP-002', 'UP-003', 'UP-004', 'UP-005'] },
      { type: 'floodgate.alert', subjects: ['UP-006'] },
    ]);
    await eventually(async () => stack.receiver.received.length === 6, 'six police notices (never grouped)');
  });
});
