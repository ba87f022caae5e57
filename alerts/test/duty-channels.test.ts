/**
 * The duty officers' channels end to end: alert events over MQTT → the alerts service → a WeCom
 * robot and a DingTalk robot (real HTTP servers checking key and 加签 signature): the rules they
 * carry arrive in order, once each; the ones they do not carry stay away.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt, { type MqttClient } from 'mqtt';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AlertEvent } from '../../contracts/index.ts';
import { dingtalkSign } from '../channels.ts';
import { eventually, smallCity, startStack, type Stack } from '../../test/helpers/stack.ts';

describe('duty officers\' channels', { timeout: 60_000 }, () => {
  let stack: Stack;
  let server: Server;
  let rules: MqttClient;
  const got: Array<{ robot: string; ok: boolean; text: string }> = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const u = new URL(req.url ?? '/', 'http://x');
        const m = JSON.parse(body) as { markdown: { content?: string; text?: string } };
        const robot = u.pathname.startsWith('/cgi-bin') ? 'wecom' : 'dingtalk';
        const ok = robot === 'wecom' ? u.searchParams.get('key') === 'k1' : encodeURIComponent(u.searchParams.get('sign') ?? '') === dingtalkSign('SEC-ding', Number(u.searchParams.get('timestamp')));
        got.push({ robot, ok, text: m.markdown.content ?? m.markdown.text ?? '' });
        res.writeHead(200).end(JSON.stringify({ errcode: ok ? 0 : 310000, errmsg: ok ? 'ok' : 'sign not match' }));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const city = await smallCity(3, (c) => {
      c.dutyChannels = [
        { id: 'ops-wecom', format: 'wecom', url: `${base}/cgi-bin/webhook/send?key=k1`, rules: ['underpass-closure'], tier: 1 },
        { id: 'ops-ding', format: 'dingtalk', url: `${base}/robot/send?access_token=t1`, secretRef: 'DING_SECRET', rules: ['underpass-closure', 'rainstorm'], tier: 1 },
      ];
    });
    stack = await startStack({ city, alerts: { policeSecrets: { FLOODGATE_POLICE_SECRET: 'test-police-secret', DING_SECRET: 'SEC-ding' } } });
    rules = await mqtt.connectAsync(stack.mqttUrl, { protocolVersion: 4, clientId: 'test-rules', username: 'svc-rules', password: stack.provisioning.serviceSecret });
  });
  afterAll(async () => {
    await rules?.endAsync();
    await stack?.close();
    await new Promise<void>((r) => server.close(() => r()));
  });

  const send = (e: Partial<AlertEvent> & Pick<AlertEvent, 'alertId' | 'ruleId' | 'subjectId' | 'state'>) =>
    rules.publishAsync(`floodgate/alerts/${e.ruleId}/${e.subjectId}`, JSON.stringify({ sensorId: 'PD-001', severity: 'critical', value: 31, threshold: 25, unit: 'cm', observedAt: '2026-07-01T18:03:00+08:00', changedAt: '2026-07-01T18:03:01+08:00', reason: 'ponding above 25 cm', ...e }), { qos: 1 });

  it('carries the rules each channel asks for, in order, once each', async () => {
    await send({ alertId: 'c1', ruleId: 'underpass-closure', subjectId: 'UP-001', state: 'firing' });
    await send({ alertId: 'c1', ruleId: 'underpass-closure', subjectId: 'UP-001', state: 'resolved', value: 4 });
    await send({ alertId: 'b1', ruleId: 'sensor-battery', subjectId: 'PD-001', state: 'firing', severity: 'info' });
    await send({ alertId: 'r1', ruleId: 'rainstorm', subjectId: 'RG-001', state: 'firing', severity: 'warning', level: 'blue', unit: 'mm', value: 36 });
    await eventually(async () => got.length >= 5, 'five robot messages');
    // Nothing more can come: every page is flushed and every message delivered.
    const store = stack.alerts.store;
    await eventually(async () => (await store.pendingPages()) === 0 && (await store.listNotices({ limit: 1000 })).every((n) => n.status === 'delivered'), 'every page flushed and delivered');
    expect(got.every((g) => g.ok)).toBe(true);
    const of = (robot: string) => got.filter((g) => g.robot === robot).map((g) => g.text.split('\n')[0] ?? '');
    expect(of('wecom')).toEqual([expect.stringContaining('【告警·严重】underpass-closure UP-001'), expect.stringContaining('【解除·严重】underpass-closure UP-001')]);
    // Each alert's messages in order (its firing before its resolution); alerts of different
    // subjects are handled side by side, so the rainstorm may come before or after the reopen
    // (a busy CI machine showed both).
    const ding = of('dingtalk');
    expect(ding).toHaveLength(3);
    expect(ding).toEqual(
      expect.arrayContaining([
        expect.stringContaining('【告警·警告】rainstorm blue RG-001'),
        expect.stringContaining('【告警·严重】underpass-closure UP-001'),
        expect.stringContaining('【解除·严重】underpass-closure UP-001'),
      ]),
    );
    expect(ding.findIndex((t) => t.includes('【告警·严重】underpass-closure UP-001'))).toBeLessThan(ding.findIndex((t) => t.includes('【解除·严重】underpass-closure UP-001')));
    expect(got.some((g) => g.text.includes('sensor-battery'))).toBe(false);
  });
});
