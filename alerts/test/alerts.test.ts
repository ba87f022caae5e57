/**
 * The alerts service behind a real gateway: events in over MQTT, notices out over HTTP to a real
 * receiver, API through fastify inject.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import mqtt, { type MqttClient } from 'mqtt';
import { eventually, startStack, type Stack } from '../../test/helpers/stack.ts';
import type { AlertEvent } from '../../contracts/index.ts';

describe('alerts service', () => {
  let stack: Stack;
  let rules: MqttClient;
  let n = 0;
  const auth = () => ({ authorization: `Bearer ${stack.apiToken}` });

  beforeAll(async () => {
    stack = await startStack();
    rules = await mqtt.connectAsync(stack.mqttUrl, { protocolVersion: 4, clientId: 'test-rules', username: 'svc-rules', password: stack.provisioning.serviceSecret });
  });
  afterAll(async () => {
    await rules?.endAsync();
    await stack?.close();
  });
  beforeEach(() => {
    stack.receiver.failNext(0, 503);
  });

  function event(subjectId: string, state: 'firing' | 'resolved', alertId: string, minute: number): AlertEvent {
    return {
      alertId,
      ruleId: 'underpass-closure',
      subjectId,
      sensorId: subjectId.replace('UP', 'PD'),
      state,
      severity: 'critical',
      value: state === 'firing' ? 31 : 4,
      threshold: state === 'firing' ? 25 : 15,
      unit: 'cm',
      observedAt: new Date(Date.parse('2026-07-01T02:00:00Z') + minute * 60_000).toISOString().replace('Z', '+00:00'),
      changedAt: new Date().toISOString(),
      reason: 'test',
    };
  }
  const send = (e: AlertEvent) => rules.publishAsync(`floodgate/alerts/${e.ruleId}/${e.subjectId}`, JSON.stringify(e), { qos: 1, retain: true });
  const noticesFor = (alertId: string) => stack.receiver.received.filter((r) => r.notice.alertId === alertId);
  const nextId = (up: string) => `underpass-closure:${up}:${++n}`;

  it('answers /healthz and serves the console page without a token, and nothing else', async () => {
    expect((await stack.alerts.app.inject({ url: '/healthz' })).json()).toEqual({ status: 'ok', checks: { active: true, mqtt: true, store: true, database: true } });
    const page = await stack.alerts.app.inject({ url: '/' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-security-policy']).toContain("default-src 'self'"); // no CDN, nothing from elsewhere
    expect(page.body).not.toMatch(/https?:\/\//);
    for (const url of ['/api/alerts', '/api/notices', '/api/me', '/api/overview', '/api/stream', '/metrics']) {
      const res = await stack.alerts.app.inject({ url });
      expect(res.statusCode, url).toBe(401);
      expect(res.json()).toEqual({ error: { code: 'UNAUTHORIZED', message: 'missing or invalid token' } });
      expect((await stack.alerts.app.inject({ url, headers: { authorization: 'Bearer wrong-token' } })).statusCode).toBe(401);
      expect((await stack.alerts.app.inject({ url, headers: { cookie: 'fg_token=wrong-token' } })).statusCode).toBe(401);
    }
  });

  it('limits login attempts per address: the 11th within a minute gets 429', async () => {
    const codes: number[] = [];
    for (let i = 0; i < 11; i++) codes.push((await stack.alerts.app.inject({ method: 'POST', url: '/api/login', remoteAddress: '10.9.8.7', payload: { token: `guess-${i}` } })).statusCode);
    expect(codes).toEqual([...Array<number>(10).fill(401), 429]);
    const limited = await stack.alerts.app.inject({ method: 'POST', url: '/api/login', remoteAddress: '10.9.8.7', payload: { token: 'guess-again' } });
    expect(limited.json()).toMatchObject({ error: { code: 'RATE_LIMITED' } });
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    // Another address is not affected, and the right token logs in with an HttpOnly cookie.
    const ok = await stack.alerts.app.inject({ method: 'POST', url: '/api/login', remoteAddress: '10.9.8.6', payload: { token: stack.apiToken } });
    expect(ok.json()).toEqual({ name: 'admin', role: 'admin' });
    expect(String(ok.headers['set-cookie'])).toMatch(/^fg_session=[A-Za-z0-9_-]{43};/);
    for (const attribute of ['HttpOnly', 'SameSite=Strict', 'Path=/']) expect(String(ok.headers['set-cookie']).split('; ')).toContain(attribute);
  });

  it('rejects bad queries with a clear 400 and unknown alerts with 404', async () => {
    const bad = await stack.alerts.app.inject({ url: '/api/alerts?state=maybe', headers: auth() });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.code).toBe('BAD_REQUEST');
    const missing = await stack.alerts.app.inject({ method: 'POST', url: '/api/alerts/nope/ack', headers: auth(), payload: {} });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error.code).toBe('NOT_FOUND');
  });

  it('sends one close notice however often the firing event is delivered', async () => {
    const id = nextId('UP-001');
    await send(event('UP-001', 'firing', id, 0));
    await send(event('UP-001', 'firing', id, 0));
    await eventually(async () => noticesFor(id).length === 1, 'the close notice');
    await send(event('UP-001', 'resolved', id, 30));
    await send(event('UP-001', 'resolved', id, 30));
    await eventually(async () => noticesFor(id).length === 2, 'the reopen notice');
    // Nothing more can come: the outbox holds exactly these two for the alert, both delivered.
    await eventually(async () => { const ns = (await stack.alerts.store.listNotices({ alert: id, limit: 10 })); return ns.length === 2 && ns.every((n) => n.status === 'delivered'); }, 'both delivered, nothing else queued');
    expect(noticesFor(id).map((r) => [r.notice.action, r.duplicate])).toEqual([
      ['close', false],
      ['reopen', false],
    ]);
  });

  it('follows a rain alert that escalates (blue → yellow) under the same id, and sends no police notice', async () => {
    const id = `rainstorm:RG-001:${++n}`;
    const rain = (level: 'blue' | 'yellow', value: number): AlertEvent => ({ ...event('RG-001', 'firing', id, 0), ruleId: 'rainstorm', subjectId: 'RG-001', sensorId: 'RG-001', severity: 'warning', level, value, threshold: level === 'blue' ? 35 : 50, unit: 'mm' });
    await send(rain('blue', 36));
    await send(rain('yellow', 52));
    const auth = { authorization: `Bearer ${stack.apiToken}` };
    const get = async () => (await stack.alerts.app.inject({ method: 'GET', url: `/api/alerts/${encodeURIComponent(id)}`, headers: auth })).json() as { alert?: { level: string; value: number; state: string } };
    const a = await eventually(async () => ((await get()).alert?.level === 'yellow' ? (await get()).alert : undefined), 'the alert at yellow');
    expect(a).toMatchObject({ state: 'firing', level: 'yellow', value: 52 });
    expect(stack.receiver.received.filter((r) => r.notice.alertId === id)).toEqual([]);
  });

  it('retries 503 and 429 (honouring Retry-After) until delivered, keeping the same notice id and body', async () => {
    const id = nextId('UP-002');
    stack.receiver.failNext(3, 429, '0');
    await send(event('UP-002', 'firing', id, 0));
    await eventually(async () => noticesFor(id).length === 1, 'delivery after retries');
    // The receiver has it; the outbox records the 2xx a moment later.
    const notice = await eventually(async () => {
      const res = await stack.alerts.app.inject({ url: '/api/notices?status=delivered', headers: auth() });
      return (res.json().notices as Array<{ noticeId: string; attempts: number }>).find((x) => x.noticeId === `${id}:close`);
    }, 'the notice recorded as delivered');
    expect(notice.attempts).toBe(4);
  });

  it('never delivers a reopen before its close, even when the close needs retries', async () => {
    const id = nextId('UP-003');
    stack.receiver.failNext(4, 503);
    await send(event('UP-003', 'firing', id, 0));
    await send(event('UP-003', 'resolved', id, 30));
    await eventually(async () => noticesFor(id).length === 2, 'both notices');
    expect(noticesFor(id).map((r) => r.notice.action)).toEqual(['close', 'reopen']);
  });

  it('turns a notice refused for good (HTTP 400) into an alert for the duty officers, and holds the reopen back', async () => {
    const id = nextId('UP-004');
    stack.receiver.failNext(1, 400);
    await send(event('UP-004', 'firing', id, 0));
    const failed = await eventually(async () => {
      const res = await stack.alerts.app.inject({ url: '/api/alerts?state=firing', headers: auth() });
      return (res.json().alerts as Array<{ alertId: string; ruleId: string; reason: string }>).find((a) => a.alertId === `notice-delivery:${id}:close:police`);
    }, 'the duty-officer alert');
    expect(failed.ruleId).toBe('notice-delivery');
    expect(failed.reason).toContain('HTTP 400');
    await send(event('UP-004', 'resolved', id, 30));
    const reopen = await eventually(async () => {
      const res = await stack.alerts.app.inject({ url: '/api/notices?status=failed', headers: auth() });
      return (res.json().notices as Array<{ noticeId: string; lastError: string }>).find((x) => x.noticeId === `${id}:reopen`);
    }, 'the reopen held back');
    expect(reopen.lastError).toContain('earlier notice');
    expect(noticesFor(id)).toEqual([]);
  });

  it('ignores an invalid alert event and keeps working', async () => {
    await rules.publishAsync('floodgate/alerts/underpass-closure/UP-005', '{"nonsense":true}', { qos: 1 });
    const id = nextId('UP-005');
    await send(event('UP-005', 'firing', id, 0));
    await eventually(async () => noticesFor(id).length === 1, 'the notice after the bad event');
    const metrics = await stack.alerts.app.inject({ url: '/metrics', headers: auth() });
    expect(metrics.body).toMatch(/floodgate_alerts_events_total\{outcome="invalid"\} 1/);
  });

  it("raises a duty-officer alert from ingest's spool alarm, follows its level, resolves it at ok", async () => {
    // As ingest publishes it: retained, on floodgate/ingest/spool, with the ingest service account.
    const ingest = await mqtt.connectAsync(stack.mqttUrl, { protocolVersion: 4, clientId: 'test-ingest-alarm', username: 'svc-ingest', password: stack.provisioning.serviceSecret });
    const MiB = 2 ** 20;
    const alarm = (level: string, bytes: number, at: string) =>
      ingest.publishAsync('floodgate/ingest/spool', JSON.stringify({ level, rows: Math.round(bytes / 120), bytes, maxBytes: 100 * MiB, oldestAgeS: 900, at }), { qos: 1, retain: true });
    const spoolAlert = async (state: 'firing' | 'resolved', check: (a: Record<string, unknown>) => boolean, what: string) =>
      eventually(async () => {
        const res = await stack.alerts.app.inject({ url: `/api/alerts?rule=ingest-spool&state=${state}`, headers: auth() });
        return (res.json().alerts as Array<Record<string, unknown>>).find(check);
      }, what);
    try {
      await alarm('warning', 55 * MiB, '2026-07-01T02:00:00+08:00');
      const warning = await spoolAlert('firing', (a) => a['severity'] === 'warning', 'a warning alert');
      expect(warning).toMatchObject({ ruleId: 'ingest-spool', level: 'yellow', value: 55, unit: '%' });
      expect(warning['reason']).toMatch(/not keeping up: \d+ readings wait in ingest's spool \(55% of its 100 MiB\), the oldest for 15 min/);
      await alarm('full', 100 * MiB, '2026-07-01T02:20:00+08:00');
      const full = await spoolAlert('firing', (a) => a['level'] === 'red', 'the alert turned red');
      expect(full).toMatchObject({ alertId: warning['alertId'], severity: 'critical', value: 100 });
      await alarm('ok', 0, '2026-07-01T02:40:00+08:00');
      const resolved = await spoolAlert('resolved', (a) => a['alertId'] === warning['alertId'], 'the alert resolved');
      expect(resolved['reason']).toMatch(/taking readings again/);
      const { audit } = (await stack.alerts.app.inject({ url: `/api/alerts/${encodeURIComponent(String(warning['alertId']))}`, headers: auth() })).json() as { audit: Array<{ who: string; action: string }> };
      expect(audit.map((e) => `${e.who} ${e.action}`)).toEqual(['ingest fired', 'ingest changed', 'ingest resolved']);
      // A malformed alarm is counted and ignored; the service keeps working.
      await ingest.publishAsync('floodgate/ingest/spool', JSON.stringify({ level: 'nearly', bytes: -1 }), { qos: 1 });
      await eventually(async () => /floodgate_alerts_events_total\{outcome="invalid"\} 2/.test((await stack.alerts.app.inject({ url: '/metrics', headers: auth() })).body), 'the invalid alarm counted');
    } finally {
      await ingest.publishAsync('floodgate/ingest/spool', '', { qos: 1, retain: true }); // clear the retained alarm
      await ingest.endAsync();
    }
  });
});
