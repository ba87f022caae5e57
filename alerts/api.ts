/**
 * The HTTP API as an encapsulated fastify plugin: schema-first routes, bearer auth on everything
 * but the health check.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { readFileSync } from 'node:fs';
import { serviceHttp, type Principal } from '../lib/http-auth.ts';
import { takeToken, type Bucket } from '../lib/token-bucket.ts';
import { roleAtLeast, type Role } from './users.ts';
import { silenceFor } from './transitions.ts';
import { API_ROUTES as R, openApi, routeSchema } from '../contracts/api.ts';
import type { Registry as Metrics } from '../lib/metrics.ts';
import type { Clock } from '../lib/clock.ts';
import { isoWithOffset } from '../lib/time.ts';
import type { AlertStore, NoticeRecord, Silence } from './store.ts';
import type { SensorView } from './sensors.ts';

export interface ApiDeps {
  store: AlertStore;
  metrics: Metrics;
  clock: Clock;
  /** Who a token belongs to (the admin token, or a user's): roles viewer / officer / admin. */
  authenticate(token: string | undefined): Principal | null;
  /** Resolve a firing alert by hand (with its notices); false when it is not firing. */
  resolveManually?(alertId: string, by: string, reason: string): boolean;
  /** Tell the live stream that something changed through the API (an acknowledgement, a resend). */
  changed?(): void;
  /** Subscribe to changes of alerts and notices (the console's live stream); returns unsubscribe. */
  onChange?(listener: () => void): () => void;
  /** Sensors with their latest value, last seen and sparkline (the console's sensor board). */
  sensors?(f: { q?: string; kind?: 'water-level' | 'rain' | 'ponding'; district?: string; limit: number }): SensorView[];
  /** The console's title (the registry's city). */
  city?: string;
  health(): { ok: boolean; checks: Record<string, boolean> };
  /** Deliver re-queued notices now rather than at the next poll. */
  wakeOutbox?(): void;
  /** More authenticated routes from other services in the same process (floodgate up). */
  extraRoutes?: Array<(app: FastifyInstance) => Promise<void>>;
}

/** A silence as the API shows it: times with offsets. */
function silenceView(s: Silence) {
  return { ...s, until: isoWithOffset(s.until), createdAt: isoWithOffset(s.createdAt), endedAt: s.endedAt === null ? null : isoWithOffset(s.endedAt) };
}

/** A notice as the API shows it: times with offsets, the body parsed (JSON) or as sent (CAP), never a secret. */
function noticeView({ body, secretRef: _s, ...n }: NoticeRecord) {
  return {
    ...n,
    createdAt: isoWithOffset(n.createdAt),
    queuedAt: isoWithOffset(n.queuedAt),
    deliveredAt: n.deliveredAt === null ? null : isoWithOffset(n.deliveredAt),
    nextAttemptAt: isoWithOffset(n.nextAttemptAt),
    notice: n.format === 'json' ? (JSON.parse(body) as unknown) : body,
  };
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function apiError(reply: FastifyReply, status: number, code: string, message: string) {
  return reply.code(status).send({ error: { code, message } });
}

export async function apiPlugin(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  // Set before the routes so every scope inherits it: errors always have {error: {code, message}}.
  app.setErrorHandler((err: { statusCode?: number; code?: string; message: string; validation?: unknown }, _req, reply) => {
    if (err.validation) return apiError(reply, 400, 'BAD_REQUEST', err.message);
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) app.log.error({ err }, 'request failed');
    return apiError(reply, status, status === 500 ? 'INTERNAL' : (err.code ?? 'BAD_REQUEST'), status === 500 ? 'internal error' : err.message);
  });

  /** 403 unless the caller's role is at least `role`. */
  const need = (role: Role) => async (req: { principal?: Principal }, reply: FastifyReply) => {
    if (!req.principal || !roleAtLeast(req.principal.role as Role, role)) return apiError(reply, 403, 'FORBIDDEN', `needs the ${role} role (you are ${req.principal?.role ?? 'nobody'})`);
  };

  /** The city on one screen: how many underpasses closed, rivers above warning, districts in a rainstorm, sensors offline. */
  function overview() {
    const f = deps.store.firingByRule();
    return {
      underpassesClosed: f['underpass-closure'] ?? 0,
      riversAboveWarning: f['water-level-warning'] ?? 0,
      riversAboveDanger: f['water-level-danger'] ?? 0,
      districtsInRainstorm: f['district-rainstorm'] ?? 0,
      sensorsOffline: f['sensor-offline'] ?? 0,
      noticesFailed: deps.store.noticeCounts()['failed'] ?? 0,
    };
  }
  function snapshot() {
    const now = deps.clock.now();
    const silences = deps.store.activeSilences(now);
    return {
      at: isoWithOffset(deps.clock.now()),
      overview: overview(),
      // One read of the silences per snapshot; each alert record carries its site and district.
      firing: deps.store.listAlerts({ state: 'firing', limit: 300 }).map((a) => ({ ...a, silenced: silenceFor(a, silences, now) !== undefined })),
      silences: silences.map(silenceView),
      resolved: deps.store.listAlerts({ state: 'resolved', limit: 30 }),
      notices: deps.store.listNotices({ limit: 30 }).map((n) => ({ seq: n.seq, noticeId: n.noticeId, recipient: n.recipient, subjectId: n.subjectId, action: n.action, status: n.status, attempts: n.attempts, lastError: n.lastError, createdAt: isoWithOffset(n.createdAt) })),
    };
  }

  // Login attempts per client address: 10 a minute, then 429 (brute force gets nowhere).
  const logins = new Map<string, Bucket>();
  // /healthz, the console page and the login open; /metrics, these routes and other services'
  // routes behind a token (header, or the console's HttpOnly cookie).
  await serviceHttp(app, { authenticate: deps.authenticate, metrics: deps.metrics, health: deps.health, routes: [alertRoutes, ...(deps.extraRoutes ?? [])], open: [consoleRoutes] });

  async function consoleRoutes(open: FastifyInstance): Promise<void> {
    const asset = (name: string) => readFileSync(new URL(`./console/${name}`, import.meta.url), 'utf8');
    const page = asset('index.html').replaceAll('{{CITY}}', escapeHtml(deps.city ?? 'floodgate'));
    const script = asset('console.js');
    const style = asset('console.css');
    const security = { 'content-security-policy': "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'", 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer' };
    open.get('/', async (_req, reply) => reply.headers(security).type('text/html; charset=utf-8').send(page));
    open.get('/console.js', async (_req, reply) => reply.headers(security).type('text/javascript; charset=utf-8').send(script));
    open.get('/console.css', async (_req, reply) => reply.headers(security).type('text/css; charset=utf-8').send(style));

    open.post(R.login.path, { schema: routeSchema(R.login) }, async (req, reply) => {
      const now = deps.clock.now();
      const r = takeToken(logins.get(req.ip), now, 10 / 60, 10);
      logins.set(req.ip, r.bucket);
      if (logins.size > 10_000) logins.clear(); // bounded memory under a spray of addresses
      if (!r.allowed) return apiError(reply.header('retry-after', '60'), 429, 'RATE_LIMITED', 'too many login attempts; wait a minute');
      const { token } = req.body as { token: string };
      const p = deps.authenticate(token);
      if (!p) return apiError(reply, 401, 'UNAUTHORIZED', 'unknown token');
      reply.header('set-cookie', `fg_token=${token}; HttpOnly; SameSite=Strict; Path=/; Max-Age=43200`);
      return { name: p.name, role: p.role };
    });
    open.post(R.logout.path, async (_req, reply) => reply.header('set-cookie', 'fg_token=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0').send({ ok: true }));

    // The API described: OpenAPI 3.1 generated from the zod schemas of contracts/api.ts.
    const doc = openApi(`floodgate alerts API · ${deps.city ?? ''}`);
    open.get(R.openapi.path, async () => doc);
    open.get(R.docs.path, async (_req, reply) => reply.headers(security).type('text/html; charset=utf-8').send(docsPage(doc)));
  }

  async function alertRoutes(secured: FastifyInstance): Promise<void> {
    secured.get(R.alerts.path, { schema: routeSchema(R.alerts) }, async (req) => {
      const q = req.query as { state?: 'firing' | 'resolved'; limit: number };
      return { alerts: deps.store.listAlerts(q) };
    });

    secured.get(R.alert.path, { schema: routeSchema(R.alert) }, async (req, reply) => {
      const { id } = req.params as { id: string };
      const alert = deps.store.getAlert(id);
      if (!alert) return apiError(reply, 404, 'NOT_FOUND', `no alert ${id}`);
      const now = deps.clock.now();
      return { alert: { ...alert, silenced: silenceFor(alert, deps.store.activeSilences(now), now) !== undefined }, audit: deps.store.auditOf(id) };
    });

    secured.get(R.me.path, async (req) => req.principal);

    secured.get(R.overview.path, async () => overview());

    // Live updates for the console (server-sent events): a snapshot now and after every change.
    secured.get(R.stream.path, async (req, reply) => {
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
      const push = () => res.write(`event: snapshot\ndata: ${JSON.stringify(snapshot())}\n\n`);
      push();
      let pending: NodeJS.Timeout | undefined;
      const unsubscribe = deps.onChange?.(() => {
        pending ??= setTimeout(() => {
          pending = undefined;
          push();
        }, 100); // a burst of changes is one update
      });
      const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
      req.raw.on('close', () => {
        clearInterval(heartbeat);
        clearTimeout(pending);
        unsubscribe?.();
      });
    });

    secured.post(R.ack.path, { preHandler: need('officer'), schema: routeSchema(R.ack) }, async (req, reply) => {
      const { id } = req.params as { id: string };
      const body = (req.body ?? {}) as { by?: string; note?: string };
      if (!deps.store.getAlert(id)) return apiError(reply, 404, 'NOT_FOUND', `no alert ${id}`);
      // Who acknowledged is who is logged in; only the admin token may name someone (a phone call logged by an admin).
      const by = req.principal!.role === 'admin' && body.by ? body.by : req.principal!.name;
      const acked = deps.store.ack(id, isoWithOffset(deps.clock.now()), by, body.note ?? null);
      if (acked) deps.changed?.();
      // Idempotent: acknowledging twice keeps the first acknowledgement and says so.
      return { alert: deps.store.getAlert(id), alreadyAcknowledged: !acked };
    });

    secured.get(R.sensors.path, { schema: routeSchema(R.sensors) }, async (req) => {
      const q = req.query as { q?: string; kind?: 'water-level' | 'rain' | 'ponding'; district?: string; limit: number };
      return { sensors: (deps.sensors?.(q) ?? []).map((s) => ({ ...s, ts: s.ts === null ? null : isoWithOffset(s.ts), lastSeen: s.lastSeen === null ? null : isoWithOffset(s.lastSeen) })) };
    });

    secured.get(R.notices.path, { schema: routeSchema(R.notices) }, async (req) => {
      const q = req.query as { status?: 'pending' | 'delivered' | 'failed'; limit: number };
      return { notices: deps.store.listNotices(q).map(noticeView) };
    });

    secured.post(R.note.path, { preHandler: need('officer'), schema: routeSchema(R.note) }, async (req, reply) => {
      const { id } = req.params as { id: string };
      if (!deps.store.getAlert(id)) return apiError(reply, 404, 'NOT_FOUND', `no alert ${id}`);
      deps.store.addNote(id, isoWithOffset(deps.clock.now()), req.principal!.name, (req.body as { note: string }).note);
      deps.changed?.();
      return { audit: deps.store.auditOf(id) };
    });

    secured.post(R.resolve.path, { preHandler: need('officer'), schema: routeSchema(R.resolve) }, async (req, reply) => {
      const { id } = req.params as { id: string };
      const a = deps.store.getAlert(id);
      if (!a) return apiError(reply, 404, 'NOT_FOUND', `no alert ${id}`);
      if (a.state !== 'firing' || !deps.resolveManually?.(id, req.principal!.name, (req.body as { reason: string }).reason)) return apiError(reply, 409, 'NOT_FIRING', `alert ${id} is ${a.state}`);
      return { alert: deps.store.getAlert(id), audit: deps.store.auditOf(id) };
    });

    // Silences / maintenance windows by sensor, site or district (optionally one rule), with an expiry.
    secured.get(R.silences.path, async () => ({ active: deps.store.activeSilences(deps.clock.now()).map(silenceView), recent: deps.store.recentSilences(50).map(silenceView) }));
    secured.post(R.silence.path, { preHandler: need('officer'), schema: routeSchema(R.silence) }, async (req, reply) => {
      const b = req.body as { ruleId?: string; sensor?: string; site?: string; district?: string; minutes: number; reason: string };
      if (!b.sensor && !b.site && !b.district) return apiError(reply, 400, 'BAD_REQUEST', 'a silence names a sensor, a site or a district (a whole city is never silenced)');
      const now = deps.clock.now();
      const id = deps.store.addSilence({ ruleId: b.ruleId ?? null, sensor: b.sensor ?? null, site: b.site ?? null, district: b.district ?? null, until: now + b.minutes * 60_000, reason: b.reason, createdBy: req.principal!.name, createdAt: now });
      deps.changed?.();
      return reply.code(201).send({ silence: silenceView(deps.store.recentSilences(50).find((s) => s.id === id)!) });
    });
    secured.delete(R.unsilence.path, { preHandler: need('officer'), schema: routeSchema(R.unsilence) }, async (req, reply) => {
      const { sid } = req.params as { sid: number };
      if (!deps.store.endSilence(sid, deps.clock.now())) return apiError(reply, 404, 'NOT_FOUND', `no active silence ${sid}`);
      deps.changed?.();
      return { ended: sid };
    });

    // One notice to one recipient, with its delivery history (attempt, time, status, latency).
    secured.get(R.notice.path, { schema: routeSchema(R.notice) }, async (req, reply) => {
      const { seq } = req.params as { seq: number };
      const n = deps.store.getNotice(seq);
      if (!n) return apiError(reply, 404, 'NOT_FOUND', `no notice ${seq}`);
      const attempts = deps.store.attempts(seq).map((a) => ({ ...a, at: isoWithOffset(a.at) }));
      return { notice: noticeView(n), attempts };
    });

    // Send a failed notice again (and the failed ones behind it for that underpass and recipient).
    secured.post(R.resend.path, { preHandler: need('officer'), schema: routeSchema(R.resend) }, async (req, reply) => {
      const { seq } = req.params as { seq: number };
      const n = deps.store.getNotice(seq);
      if (!n) return apiError(reply, 404, 'NOT_FOUND', `no notice ${seq}`);
      if (n.status !== 'failed') return apiError(reply, 409, 'NOT_FAILED', `notice ${seq} is ${n.status}: only a failed notice can be resent`);
      const resent = deps.store.resend(seq, deps.clock.now());
      deps.wakeOutbox?.();
      deps.changed?.();
      return { resent };
    });
  }
}

/** /docs: the OpenAPI document as a readable page (no external viewer, no CDN). */
function docsPage(doc: Record<string, unknown>): string {
  const rows: string[] = [];
  for (const [path, ops] of Object.entries(doc['paths'] as Record<string, Record<string, { summary: string; 'x-floodgate-role'?: string; parameters: Array<{ name: string; in: string }>; requestBody?: unknown }>>)) {
    for (const [method, op] of Object.entries(ops)) {
      const params = op.parameters.map((p) => `${p.name} (${p.in})`).join(', ');
      rows.push(`<tr><td><code>${method.toUpperCase()} ${escapeHtml(path)}</code></td><td>${escapeHtml(op['x-floodgate-role'] ?? 'open')}</td><td>${escapeHtml(op.summary)}${params ? `<br><small>${escapeHtml(params)}</small>` : ''}${op.requestBody ? '<br><small>JSON body</small>' : ''}</td></tr>`);
    }
  }
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>floodgate API</title><link rel="stylesheet" href="/console.css"></head><body><main><h1>floodgate alerts API</h1><p>Machine-readable: <a href="/docs/openapi.json">/docs/openapi.json</a> (OpenAPI 3.1). Errors are <code>{"error":{"code","message"}}</code>.</p><table><thead><tr><th>route</th><th>role</th><th>what</th></tr></thead><tbody>${rows.join('')}</tbody></table></main></body></html>`;
}
