/**
 * One suite, every channel (alerts/channels.ts): police JSON and CAP notices, the generic signed
 * webhook, the WeCom group robot and the DingTalk group robot — each sent by the real notifier to
 * a real HTTP server that checks the request the way the service does (floodgate signature,
 * robot key, DingTalk 加签 signature) and answers the way the service does (robots say no with
 * HTTP 200 and an errcode). Each must: deliver, retry a rate limit and a 5xx and a dead port, and
 * fail for good on a refusal — with the service's own words in the error.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifyNotice } from '../../contracts/index.ts';
import { CHANNEL_FORMATS, dingtalkSign, renderDuty, truncateBytes, type ChannelFormat } from '../channels.ts';
import { createHttpNotifier } from '../police-notifier.ts';
import { decideDelivery } from '../transitions.ts';
import { toCap } from '../cap.ts';
import { freePort } from '../../test/helpers/servers.ts';
import { validateCap } from '../../test/helpers/xml.ts';

const SECRET = 'SECa1b2c3-channel-secret';
type Mode = 'ok' | 'rate' | 'refuse' | 'error';

/** How each service checks a request and says yes, slow down, or no. */
const SERVICES: Record<ChannelFormat, { path: string; check(url: URL, headers: Record<string, string | string[] | undefined>, body: string): string | null; answer(mode: Mode): { status: number; body: string; headers?: Record<string, string> } }> = (() => {
  const signed = (contentType: string) => ({
    path: '/hook',
    check: (_u: URL, h: Record<string, string | string[] | undefined>, body: string) => {
      if (!String(h['content-type']).startsWith(contentType)) return `content-type ${String(h['content-type'])}`;
      if (!h['idempotency-key']) return 'no Idempotency-Key';
      const v = verifyNotice({ secret: SECRET, timestampHeader: h['x-floodgate-timestamp'] as string, signatureHeader: h['x-floodgate-signature'] as string, body, nowMs: Date.now() });
      return v.ok ? null : v.reason;
    },
    answer: (mode: Mode) => (mode === 'ok' ? { status: 200, body: '' } : mode === 'rate' ? { status: 429, body: '', headers: { 'retry-after': '7' } } : mode === 'refuse' ? { status: 422, body: 'unprocessable' } : { status: 503, body: '' }),
  });
  const robot = (rateCode: number, refuse: { errcode: number; errmsg: string }) => (mode: Mode) =>
    mode === 'ok' ? { status: 200, body: '{"errcode":0,"errmsg":"ok"}' } : mode === 'rate' ? { status: 200, body: JSON.stringify({ errcode: rateCode, errmsg: 'freq out of limit' }) } : mode === 'refuse' ? { status: 200, body: JSON.stringify(refuse) } : { status: 502, body: 'bad gateway' };
  return {
    json: signed('application/json'),
    cap: signed('application/cap+xml'),
    webhook: signed('application/json'),
    wecom: {
      path: '/cgi-bin/webhook/send',
      check: (u, h, body) => {
        if (u.searchParams.get('key') !== 'robot-key') return 'wrong key';
        if (!String(h['content-type']).startsWith('application/json')) return 'not JSON';
        const m = JSON.parse(body) as { msgtype?: string; markdown?: { content?: string } };
        if (m.msgtype !== 'markdown' || !m.markdown?.content) return 'not a markdown message';
        return Buffer.byteLength(m.markdown.content) > 4096 ? 'content over 4096 bytes' : null;
      },
      answer: robot(45009, { errcode: 93000, errmsg: 'invalid webhook url' }),
    },
    dingtalk: {
      path: '/robot/send',
      check: (u, _h, body) => {
        if (u.searchParams.get('access_token') !== 'robot-token') return 'wrong access_token';
        const ts = Number(u.searchParams.get('timestamp'));
        if (!ts || Math.abs(Date.now() - ts) > 3_600_000) return 'timestamp outside an hour';
        // The query string is decoded once by URLSearchParams; the sign was URL-encoded once.
        if (encodeURIComponent(u.searchParams.get('sign') ?? '') !== dingtalkSign(SECRET, ts)) return 'sign not match';
        const m = JSON.parse(body) as { msgtype?: string; markdown?: { title?: string; text?: string } };
        return m.msgtype === 'markdown' && m.markdown?.title && m.markdown.text ? null : 'not a markdown message';
      },
      answer: robot(130101, { errcode: 310000, errmsg: 'keywords not in content' }),
    },
  };
})();

const message = { alertId: 'underpass-closure:UP-001:1', ruleId: 'underpass-closure', subjectId: 'UP-001', place: '中山北路下立交（静安区）', state: 'firing' as const, severity: 'critical', value: 31, unit: 'cm', reason: 'ponding above 25 cm for 120 s', observedAt: '2026-07-01T18:03:00+08:00' };
const notice = { noticeId: 'underpass-closure:UP-001:1:close', action: 'close' as const, underpass: { id: 'UP-001', name: '中山北路下立交', road: '中山北路', district: 'jingan', lat: 31.25, lon: 121.45 }, depthCm: 31, thresholdCm: 25, observedAt: '2026-07-01T18:03:00+08:00', issuedAt: '2026-07-01T18:03:01+08:00', alertId: 'underpass-closure:UP-001:1', reason: 'ponding above 25 cm', sequence: 1, epoch: 0 };
const bodyFor = (f: ChannelFormat): string => (f === 'json' ? JSON.stringify(notice) : f === 'cap' ? toCap(notice, { sender: 'floodgate', senderName: 'floodgate' }) : renderDuty(f, message));

describe.each(CHANNEL_FORMATS)('channel %s', (format) => {
  const service = SERVICES[format];
  let server: Server;
  let base: string;
  let mode: Mode = 'ok';
  const seen: Array<{ problem: string | null; body: string }> = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const url = new URL(req.url ?? '/', 'http://x');
        const problem = url.pathname !== service.path ? `path ${url.pathname}` : service.check(url, req.headers, body);
        seen.push({ problem, body });
        if (problem) return void res.writeHead(format === 'wecom' || format === 'dingtalk' ? 200 : 401).end(format === 'wecom' || format === 'dingtalk' ? JSON.stringify({ errcode: 310000, errmsg: problem }) : problem);
        const a = service.answer(mode);
        res.writeHead(a.status, a.headers).end(a.body);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const url = () => `${base}${service.path}${format === 'wecom' ? '?key=robot-key' : format === 'dingtalk' ? '?access_token=robot-token' : ''}`;
  const send = async (m: Mode, target = { url: url(), secret: SECRET }) => {
    mode = m;
    const r = await createHttpNotifier({ timeoutMs: 2000 }).send({ ...target, format }, 'id-1', bodyFor(format), Date.now());
    return decideDelivery(r, 1000);
  };

  it('delivers, and the service accepts the request as authentic and well-formed', async () => {
    expect(await send('ok')).toEqual({ next: 'delivered' });
    expect(seen.at(-1)!.problem).toBeNull();
    if (format === 'cap') expect(validateCap(seen.at(-1)!.body).ok).toBe(true);
    if (format !== 'json' && format !== 'cap') expect(seen.at(-1)!.body).toContain('UP-001');
  });

  it('retries a rate limit', async () => {
    const d = await send('rate');
    expect(d.next).toBe('retry');
    expect((d as { delayMs: number }).delayMs).toBeGreaterThanOrEqual(format === 'wecom' || format === 'dingtalk' ? 60_000 : 7000);
  });

  it('retries a server error and a dead port', async () => {
    expect((await send('error')).next).toBe('retry');
    expect((await send('ok', { url: `http://127.0.0.1:${await freePort()}${service.path}`, secret: SECRET })).next).toBe('retry');
  });

  it('fails for good on a refusal, with the service\'s words', async () => {
    const d = await send('refuse');
    expect(d.next).toBe('failed');
    if (format === 'wecom') expect((d as { error: string }).error).toContain('invalid webhook url');
    if (format === 'dingtalk') expect((d as { error: string }).error).toContain('keywords not in content');
  });

  it('is refused with the wrong secret or key (the check can fail)', async () => {
    const wrong = format === 'wecom' ? { url: url().replace('robot-key', 'other-key'), secret: '' } : { url: url(), secret: 'not-the-secret' };
    const d = await send('ok', wrong);
    expect(d.next).toBe('failed');
    expect(seen.at(-1)!.problem).not.toBeNull();
  });
});

describe('robot messages', () => {
  it.each([
    ['ascii', 'a'.repeat(5000), 4096],
    ['Chinese (3 bytes each)', '积'.repeat(2000), 4096],
  ])('truncate %s to the byte limit without splitting a character', (_c, s, max) => {
    const t = truncateBytes(s, max);
    expect(Buffer.byteLength(t)).toBeLessThanOrEqual(max);
    expect(t.endsWith('…')).toBe(true);
    expect(t).not.toContain('\ufffd');
  });
});
