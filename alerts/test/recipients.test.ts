/**
 * Notices to several recipients per district, each with its own secret, format and delivery
 * record, against real HTTP receivers that misbehave on cue: 503 for a while, then 429 with
 * Retry-After, then 200; and one that never answers. Order is kept, nothing is lost, nothing is
 * delivered twice (receivers count by Idempotency-Key), a stale notice fails and escalates, and a
 * duty officer can resend it from the API.
 */
import { afterEach, describe, expect, it } from 'vitest';
import mqtt, { type MqttClient } from 'mqtt';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifyNotice, type AlertEvent } from '../../contracts/index.ts';
import { eventually, smallCity, startStack, type Stack } from '../../test/helpers/stack.ts';
import { validateCap } from '../../test/helpers/xml.ts';

type Answer = 200 | 503 | 429 | 'hang';

/** A real HTTP receiver: answers from a script (then 200), records what it got. */
async function receiver(secret: string) {
  const script: Answer[] = [];
  const got: Array<{ key: string; type: string; body: string; status: number | 'hang'; verified: boolean }> = [];
  const hung: ServerResponse[] = [];
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const answer = script.shift() ?? 200;
      const verified = verifyNotice({ secret, timestampHeader: req.headers['x-floodgate-timestamp'] as string, signatureHeader: req.headers['x-floodgate-signature'] as string, body, nowMs: Date.now() }).ok;
      got.push({ key: String(req.headers['idempotency-key']), type: String(req.headers['content-type']), body, status: answer, verified });
      if (answer === 'hang') return void hung.push(res); // never answers
      if (answer === 429) res.setHeader('retry-after', '1');
      res.writeHead(answer).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/notices`,
    script,
    got,
    delivered: () => got.filter((g) => g.status === 200),
    /** Keys delivered, once each in order of first delivery: what a receiver deduplicating by Idempotency-Key keeps. */
    keys: () => [...new Set(got.filter((g) => g.status === 200).map((g) => g.key))],
    /** Requests held open, not answered. */
    hanging: () => hung.filter((r) => !r.destroyed && !r.writableEnded).length,
    close: () => {
      hung.forEach((r) => r.destroy());
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

describe('notices to several recipients', { timeout: 60_000 }, () => {
  let stack: Stack | undefined;
  const closers: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of closers.splice(0).reverse()) await c();
    await stack?.close();
    stack = undefined;
  });

  // The HTTP timeout: the product's default (10 s) unless a test needs a hung recipient to time
  // out soon. With 300 ms for every test, a 200 that a busy machine answered late counted as a
  // timeout, was sent again (as it should be: at least once), and the wait for exactly two
  // deliveries at each recipient never ended.
  async function setup(opts: { maxAgeMs: number; timeoutMs?: number }) {
    const police = await receiver('police-secret-1');
    const roads = await receiver('roads-secret-2');
    closers.push(police.close, roads.close);
    const city = await smallCity(3, (c) => {
      const d = c.sites.find((s) => s.id === 'UP-001')!.district;
      c.districts = c.districts.map((x) =>
        x.id === d
          ? { ...x, recipients: [
              { id: 'police', name: 'traffic police', url: police.url, secretRef: 'POLICE_1', format: 'json' as const },
              { id: 'roads', name: 'road administration', url: roads.url, secretRef: 'ROADS_2', format: 'cap' as const },
            ] }
          : x,
      );
    });
    stack = await startStack({
      city,
      alerts: { policeSecrets: { FLOODGATE_POLICE_SECRET: 'unused', POLICE_1: 'police-secret-1', ROADS_2: 'roads-secret-2' }, noticeTimeoutMs: opts.timeoutMs ?? 10_000, noticeMaxAgeMs: opts.maxAgeMs },
    });
    const rules: MqttClient = await mqtt.connectAsync(stack.mqttUrl, { protocolVersion: 4, clientId: 'test-rules', username: 'svc-rules', password: stack.provisioning.serviceSecret });
    closers.push(() => rules.endAsync());
    const send = (state: 'firing' | 'resolved', min: number): Promise<unknown> => {
      const e: AlertEvent = {
        alertId: 'underpass-closure:UP-001:1790000000000',
        ruleId: 'underpass-closure',
        subjectId: 'UP-001',
        sensorId: 'PD-001',
        state,
        severity: 'critical',
        value: state === 'firing' ? 31 : 4,
        threshold: state === 'firing' ? 25 : 15,
        unit: 'cm',
        observedAt: new Date(Date.parse('2026-07-01T10:00:00Z') + min * 60_000).toISOString().replace('Z', '+00:00'),
        changedAt: new Date().toISOString(),
        reason: 'test',
      };
      return rules.publishAsync(`floodgate/alerts/${e.ruleId}/${e.subjectId}`, JSON.stringify(e), { qos: 1, retain: true });
    };
    const api = async (method: 'GET' | 'POST', url: string) => {
      const r = await stack!.alerts.app.inject({ method, url, headers: { authorization: `Bearer ${stack!.apiToken}` } });
      return { status: r.statusCode, json: r.json() as Record<string, unknown> };
    };
    return { police, roads, send, api };
  }

  it('each recipient gets its own format and signature; 503 → 429 (Retry-After) → 200 is recorded attempt by attempt', async () => {
    const { police, roads, send, api } = await setup({ maxAgeMs: 60_000 });
    roads.script.push(503, 503, 429);
    await send('firing', 0);
    await send('resolved', 30);
    await eventually(() => police.delivered().length === 2 && roads.delivered().length === 2, 'close and reopen at both recipients', 30_000);

    // Order kept, once each (by Idempotency-Key), each verified with its own secret.
    for (const r of [police, roads]) {
      expect(r.delivered().map((g) => g.key)).toEqual(['underpass-closure:UP-001:1790000000000:close', 'underpass-closure:UP-001:1790000000000:reopen']);
      expect(r.got.every((g) => g.verified)).toBe(true);
    }
    expect(police.got[0]!.type).toContain('application/json');
    expect(JSON.parse(police.got[0]!.body)).toMatchObject({ action: 'close', underpass: { id: 'UP-001' } });
    expect(roads.got[0]!.type).toContain('application/cap+xml');
    for (const g of roads.delivered()) expect(validateCap(g.body).ok).toBe(true);
    expect(roads.delivered()[1]!.body).toContain('<references>floodgate-test,underpass-closure:UP-001:1790000000000:close,');
    // The retries carried the same bytes.
    expect(new Set(roads.got.filter((g) => g.key.endsWith(':close')).map((g) => g.body)).size).toBe(1);

    const list = (await api('GET', '/api/notices')).json['notices'] as Array<{ seq: number; recipient: string; action: string; format: string; status: string }>;
    const roadsClose = list.find((n) => n.recipient === 'roads' && n.action === 'close')!;
    expect(roadsClose).toMatchObject({ format: 'cap', status: 'delivered' });
    const detail = await api('GET', `/api/notices/${roadsClose.seq}`);
    const attempts = detail.json['attempts'] as Array<{ attempt: number; outcome: string; httpStatus: number; latencyMs: number; at: string }>;
    expect(attempts.map((a) => `${a.attempt}:${a.outcome}:${a.httpStatus}`)).toEqual(['1:retry:503', '2:retry:503', '3:retry:429', '4:delivered:200']);
    expect(attempts.every((a) => a.latencyMs >= 0 && /[+-]\d\d:\d\d$/.test(a.at))).toBe(true);
    // The 429's Retry-After (1 s) was honoured before attempt 4.
    expect(Date.parse(attempts[3]!.at) - Date.parse(attempts[2]!.at)).toBeGreaterThanOrEqual(950);
  });

  it('a recipient that never answers: the notice fails at its maximum age, escalates, and a resend delivers it in order', async () => {
    const { police, roads, send, api } = await setup({ maxAgeMs: 2_000, timeoutMs: 300 });
    roads.script.push(...Array<Answer>(30).fill('hang'));
    await send('firing', 0);
    await send('resolved', 30);
    await eventually(() => police.keys().length === 2, 'the police got both'); // not held up by the other recipient

    const escalation = 'notice-delivery:underpass-closure:UP-001:1790000000000:close:roads';
    const alert = await eventually(async () => {
      const r = await api('GET', `/api/alerts/${encodeURIComponent(escalation)}`);
      return r.status === 200 ? (r.json['alert'] as { state: string; severity: string; reason: string }) : undefined;
    }, 'the duty-officer alert', 20_000);
    expect(alert).toMatchObject({ state: 'firing', severity: 'critical' });
    expect(alert.reason).toContain('roads');
    const notices = (await api('GET', '/api/notices?status=failed')).json['notices'] as Array<{ seq: number; recipient: string; action: string; lastError: string }>;
    expect(notices.map((n) => `${n.recipient}:${n.action}`).sort()).toEqual(['roads:close', 'roads:reopen']); // the reopen failed behind its close
    expect(roads.delivered()).toEqual([]);

    // The road administration is back; the duty officer resends the close (its reopen follows).
    roads.script.splice(0);
    const close = notices.find((n) => n.action === 'close')!;
    const resent = await api('POST', `/api/notices/${close.seq}/resend`);
    expect(resent.status).toBe(200);
    expect((resent.json['resent'] as number[]).length).toBe(2);
    await eventually(() => roads.keys().length === 2, 'close and reopen delivered after the resend');
    expect(roads.keys().map((k) => k.split(':').pop())).toEqual(['close', 'reopen']);
    await eventually(async () => ((await api('GET', `/api/alerts/${encodeURIComponent(escalation)}`)).json['alert'] as { state: string }).state === 'resolved', 'the escalation resolved');
    // Resending what is not failed is refused with a stable code.
    const again = await api('POST', `/api/notices/${close.seq}/resend`);
    expect(again.status).toBe(409);
    expect(again.json).toMatchObject({ error: { code: 'NOT_FAILED' } });
  });

  it('a recipient that does not answer holds up no other: the police get close and reopen while its request still hangs', async () => {
    const { police, roads, send, api } = await setup({ maxAgeMs: 60_000 }); // the default 10 s timeout
    roads.script.push('hang');
    await send('firing', 0);
    await send('resolved', 30);
    await eventually(() => police.keys().length === 2, 'the police got close and reopen');
    expect(roads.hanging(), "the road administration's request is still open").toBe(1);
    const list = (await api('GET', '/api/notices')).json['notices'] as Array<{ seq: number; recipient: string; action: string }>;
    const roadsClose = list.find((n) => n.recipient === 'roads' && n.action === 'close')!;
    expect((await api('GET', `/api/notices/${roadsClose.seq}`)).json['attempts'], 'its attempt has not ended').toEqual([]);
  });
});
