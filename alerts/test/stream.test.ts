/**
 * The console's live stream over real HTTP (node:http, not inject: it is a stream): a new console
 * gets the whole state once, then numbered batches of what changed; one that reconnects with
 * Last-Event-ID gets only the batches it missed; an id the server cannot answer (too old, or from
 * before a restart) gets the whole state again. Console sessions: the cookie is a random id, not
 * the token, and logging out revokes it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { request, type IncomingMessage } from 'node:http';
import type { AlertEvent } from '../../contracts/index.ts';
import { startStack, type Stack } from '../../test/helpers/stack.ts';

interface SseEvent {
  id: string | undefined;
  event: string;
  data: string;
}

/** An SSE reader over a real connection: events as they arrive. */
function openStream(port: number, headers: Record<string, string>): Promise<{ next(match?: (e: SseEvent) => boolean): Promise<SseEvent>; close(): void; res: IncomingMessage }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/api/stream', headers }, (res) => {
      const queue: SseEvent[] = [];
      let waiting: (() => void) | undefined;
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buf += chunk;
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const e: SseEvent = { id: undefined, event: 'message', data: '' };
          let any = false;
          for (const line of block.split('\n')) {
            const [k, ...v] = line.split(': ');
            if (k === 'id') e.id = v.join(': ');
            else if (k === 'event') e.event = v.join(': ');
            else if (k === 'data') {
              e.data += v.join(': ');
              any = true;
            }
          }
          if (any) queue.push(e);
        }
        waiting?.();
      });
      resolve({
        res,
        async next(match = () => true) {
          for (;;) {
            const i = queue.findIndex(match);
            if (i >= 0) return queue.splice(i, 1)[0]!;
            queue.length = 0;
            await new Promise<void>((r) => (waiting = r));
          }
        },
        close: () => req.destroy(),
      });
    });
    req.on('error', reject);
    req.end();
  });
}

describe('console stream and sessions', () => {
  let stack: Stack;
  let rules: MqttClient;
  let auth: Record<string, string>;
  beforeAll(async () => {
    stack = await startStack();
    auth = { authorization: `Bearer ${stack.apiToken}` };
    rules = await stack.asRules();
  });
  afterAll(async () => {
    await rules?.endAsync();
    await stack?.close();
  });
  const fire = (id: string, subject: string, e: Partial<AlertEvent> = {}) =>
    rules.publishAsync(`floodgate/alerts/underpass-closure/${subject}`, JSON.stringify({ alertId: id, ruleId: 'underpass-closure', subjectId: subject, sensorId: subject.replace('UP', 'PD'), state: 'firing', severity: 'critical', value: 31, threshold: 25, unit: 'cm', observedAt: '2026-07-01T18:03:00+08:00', changedAt: '2026-07-01T18:03:01+08:00', reason: 'x', why: { key: 'closure.sustained', params: { closeCm: 25, heldS: 120, n: 3, v: 31 } }, ...e }), { qos: 1 });

  it('reset once, then batches of what changed; Last-Event-ID resumes without the whole state', async () => {
    const first = await openStream(stack.alerts.port, auth);
    const reset = await first.next((e) => e.event === 'reset');
    const state = JSON.parse(reset.data) as { alerts: unknown[]; overview: { underpassesClosed: number } };
    expect(state.overview.underpassesClosed).toBe(0);
    await fire('underpass-closure:UP-001:1', 'UP-001');
    const batch = await first.next((e) => e.event === 'batch' && e.data.includes('UP-001'));
    const b = JSON.parse(batch.data) as { alerts: Array<{ alertId: string; why: unknown; reason?: string; openedAt?: unknown }>; overview?: { underpassesClosed: number }; notices?: Array<{ alertId: string; action: string }> };
    expect(Number(batch.id)).toBeGreaterThan(Number(reset.id));
    expect(b.alerts[0]).toMatchObject({ alertId: 'underpass-closure:UP-001:1', why: { key: 'closure.sustained' } });
    expect(b.alerts[0]!.reason).toBeUndefined(); // the template is sent, not the English sentence
    expect(b.overview?.underpassesClosed).toBe(1);
    expect(b.notices?.[0]).toMatchObject({ alertId: 'underpass-closure:UP-001:1', action: 'close' });
    first.close();

    // Away for a while: two more changes happen.
    await fire('underpass-closure:UP-002:1', 'UP-002');
    await fire('underpass-closure:UP-003:1', 'UP-003');
    await expect.poll(async () => (await stack.alerts.store.listAlerts({ state: 'firing', limit: 10 })).length).toBe(3);
    const again = await openStream(stack.alerts.port, { ...auth, 'last-event-id': batch.id! });
    const missed = await again.next();
    expect(missed.event).toBe('batch'); // not a reset
    let seen = missed.data;
    while (!(seen.includes('UP-002') && seen.includes('UP-003'))) seen += (await again.next()).data;
    again.close();

    // An id from before a restart (ahead of this process's feed): the whole state again.
    const stale = await openStream(stack.alerts.port, { ...auth, 'last-event-id': '999999' });
    const r = await stale.next();
    expect(r.event).toBe('reset');
    expect((JSON.parse(r.data) as { alerts: unknown[] }).alerts).toHaveLength(3);
    stale.close();
  });

  it('acknowledging a group is one request and one batch for every console', async () => {
    const s = await openStream(stack.alerts.port, auth);
    await s.next((e) => e.event === 'reset');
    const res = await stack.alerts.app.inject({ method: 'POST', url: '/api/alerts/ack', headers: auth, payload: { ids: ['underpass-closure:UP-002:1', 'underpass-closure:UP-003:1', 'nope'], note: '已通知' } });
    expect(res.json()).toEqual({ acknowledged: 2, alreadyAcknowledged: 0, unknown: ['nope'] });
    const batch = JSON.parse((await s.next((e) => e.event === 'batch' && e.data.includes('ackedAt'))).data) as { alerts: Array<{ ackNote: string }> };
    expect(batch.alerts.map((a) => a.ackNote)).toEqual(['已通知', '已通知']);
    const twice = await stack.alerts.app.inject({ method: 'POST', url: '/api/alerts/ack', headers: auth, payload: { ids: ['underpass-closure:UP-002:1'] } });
    expect(twice.json()).toEqual({ acknowledged: 0, alreadyAcknowledged: 1, unknown: [] });
    s.close();
  });

  it('the silences in force follow in a batch whenever they change', async () => {
    const s = await openStream(stack.alerts.port, auth);
    await s.next((e) => e.event === 'reset');
    const add = await stack.alerts.app.inject({ method: 'POST', url: '/api/silences', headers: auth, payload: { site: 'UP-005', minutes: 30, reason: '检修' } });
    const sid = (add.json() as { silence: { id: number } }).silence.id;
    const added = JSON.parse((await s.next((e) => e.event === 'batch' && e.data.includes('"silences"'))).data) as { silences: Array<{ id: number }> };
    expect(added.silences.map((x) => x.id)).toContain(sid);
    await stack.alerts.app.inject({ method: 'DELETE', url: `/api/silences/${sid}`, headers: auth });
    const ended = JSON.parse((await s.next((e) => e.event === 'batch' && e.data.includes('"silences"'))).data) as { silences: Array<{ id: number }> };
    expect(ended.silences.map((x) => x.id)).not.toContain(sid);
    s.close();
  });

  it('the session cookie is a random id, not the token, and dies at logout', async () => {
    const token = await stack.addUser('zhao', 'officer');
    const login = await stack.alerts.app.inject({ method: 'POST', url: '/api/login', payload: { token } });
    expect(login.statusCode).toBe(200);
    const cookie = String(login.headers['set-cookie']);
    expect(cookie).toMatch(/^fg_session=[A-Za-z0-9_-]{43};/);
    for (const attribute of ['HttpOnly', 'SameSite=Strict', 'Path=/']) expect(cookie.split('; ')).toContain(attribute);
    expect(cookie).not.toContain(token);
    const session = cookie.split(';')[0]!;
    expect((await stack.alerts.app.inject({ url: '/api/me', headers: { cookie: session } })).json()).toMatchObject({ name: 'zhao', role: 'officer' });
    // The token itself in the cookie is no session.
    expect((await stack.alerts.app.inject({ url: '/api/me', headers: { cookie: `fg_session=${token}` } })).statusCode).toBe(401);
    await stack.alerts.app.inject({ method: 'POST', url: '/api/logout', headers: { cookie: session } });
    expect((await stack.alerts.app.inject({ url: '/api/me', headers: { cookie: session } })).statusCode).toBe(401);
  });
});
