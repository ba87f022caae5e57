/**
 * The HTTP API as an encapsulated fastify plugin: schema-first routes, bearer auth on everything
 * but the health check.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { readFileSync } from 'node:fs';
import { requestCredential, serviceHttp, SESSION_COOKIE, type Credential, type Principal } from '../lib/http-auth.ts';
import { roleAtLeast, type Role } from './users.ts';
import { silenceFor } from './transitions.ts';
import { API_ROUTES as R, openApi, parseBody, routeSchema, type ApiRoute } from '../contracts/api.ts';
import type { Registry as Metrics } from '../lib/metrics.ts';
import type { Clock } from '../lib/clock.ts';
import { isoWithOffset } from '../lib/time.ts';
import type { AlertStore, NoticeRecord } from './store.ts';
import type { SensorView } from './sensors.ts';
import { overviewOf, silenceView, type ChangeHint, type Live } from './live.ts';
import { createSessions } from './sessions.ts';
import { bundleConsole } from './console/bundle.ts';
import fastifyCookie from '@fastify/cookie';
import fastifyRateLimit from '@fastify/rate-limit';
import type { CityView } from './city.ts';
import type { Range, ReadingsView } from './readings.ts';
import type { StationImages } from './station-images.ts';
import { ERROR_CATALOGUE, type ErrorCode } from '../lib/errors.ts';

export interface ApiDeps {
  store: AlertStore;
  metrics: Metrics;
  clock: Clock;
  /** Who a token belongs to (the admin token, or a user's): roles viewer / officer / admin. */
  authenticate(token: string | undefined): Principal | null;
  /** Resolve a firing alert by hand (with its notices); false when it is not firing. */
  resolveManually?(alertId: string, by: string, reason: string): Promise<boolean>;
  /** Send an officer's trust in a suspect sensor's readings to the rules; 'standby' on an instance that is not the active one. */
  trustReadings?(alert: { alertId: string; sensorId: string }, by: string, note: string): Promise<true | 'standby'>;
  /** The console's live stream. */
  live: Live;
  /** Sensors with their latest value, last seen and sparkline (the console's sensor board). */
  sensors?(f: { q?: string; kind?: 'water-level' | 'rain' | 'ponding'; district?: string; limit: number }): SensorView[];
  /** A sensor's chart data (readings.ts); undefined: no such sensor. */
  readings?(sensorId: string, range: Range, toMs: number): Promise<ReadingsView | undefined>;
  /** SL 651 stations' image reports (station-images.ts). */
  images?: StationImages;
  /** The city for the map and the boards (registry sites without secrets). */
  city(): CityView;
  /** District outlines, GeoJSON text. */
  districtsGeoJson(): string;
  health(): { ok: boolean; checks: Record<string, boolean> };
  /** Deliver re-queued notices now rather than at the next poll. */
  wakeOutbox?(): void;
  /** More authenticated routes from other services in the same process (floodgate up). */
  extraRoutes?: Array<(app: FastifyInstance) => Promise<void>>;
  /** Basemap tiles (an XYZ URL template, FLOODGATE_MAP_TILES); none by default. */
  mapTiles?: string;
  /** Console sessions end this long after login (default 12 h). */
  sessionTtlMs?: number;
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

const ROUTE_PATTERNS = [...new Set([...(Object.values(R) as ApiRoute[]).map((r) => r.path), '/', '/console.js', '/console.css'])].map((path) => ({
  re: new RegExp(`^${path.replace(/:\w+/g, '[^/]+')}$`),
  methods: [...new Set([...(Object.values(R) as ApiRoute[]).filter((r) => r.path === path).map((r) => r.method), ...(path.startsWith('/console') || path === '/' ? ['GET'] : [])])],
}));

/** The methods a known path declares (for 405 and its Allow header), or undefined for an unknown path. */
export function allowedMethods(url: string): string[] | undefined {
  const path = url.split('?')[0]!;
  const methods = ROUTE_PATTERNS.filter((p) => p.re.test(path)).flatMap((p) => p.methods);
  return methods.length ? [...new Set(methods)].sort() : undefined;
}

/** fastify's errors before a handler runs → [status, our code, message (default: fastify's)]. */
const FASTIFY_ERRORS: Record<string, [number, ErrorCode, string?]> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: [415, 'UNSUPPORTED_MEDIA_TYPE', 'bodies are application/json'],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: [400, 'BAD_REQUEST'],
  FST_ERR_CTP_BODY_TOO_LARGE: [413, 'PAYLOAD_TOO_LARGE', 'a body is at most 64 KiB'],
  FST_ERR_CTP_EMPTY_JSON_BODY: [400, 'BAD_REQUEST', 'the body is empty but the content type says JSON'],
  FST_ERR_CTP_INVALID_JSON_BODY: [400, 'BAD_REQUEST', 'the body is not valid JSON'],
};

/** Every route with a body parses it with its zod schema before its handler (no coercion, every issue named). */
function zodBodies(app: FastifyInstance): void {
  const byRoute = new Map((Object.values(R) as ApiRoute[]).filter((r) => r.body).map((r) => [`${r.method} ${r.path}`, r]));
  app.addHook('preValidation', async (req, reply) => {
    const r = byRoute.get(`${req.method} ${req.routeOptions.url}`);
    if (!r) return;
    const p = parseBody(r, req.body);
    if (!p.ok) return apiError(reply, 400, 'BAD_REQUEST', p.message);
    req.body = p.value;
  });
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** A 4xx without a code of ours: the catalogue's code for its status. */
const CODE_OF_STATUS: Record<number, ErrorCode> = { 401: 'UNAUTHORIZED', 403: 'FORBIDDEN', 404: 'NOT_FOUND', 405: 'METHOD_NOT_ALLOWED', 413: 'PAYLOAD_TOO_LARGE', 415: 'UNSUPPORTED_MEDIA_TYPE', 429: 'RATE_LIMITED' };
const codeFor = (status: number, code: string | undefined): ErrorCode => (code !== undefined && code in ERROR_CATALOGUE ? (code as ErrorCode) : (CODE_OF_STATUS[status] ?? 'BAD_REQUEST'));

function apiError(reply: FastifyReply, status: number, code: ErrorCode, message: string) {
  return reply.code(status).send({ error: { code, message } });
}

type SilenceRequest = { ruleId?: string; sensor?: string; site?: string; district?: string; minutes: number; reason: string; alertId?: string };
/** A silence as the store keeps it, from a request. */
const newSilence = (b: SilenceRequest, by: string, now: number) => ({ ruleId: b.ruleId ?? null, sensor: b.sensor ?? null, site: b.site ?? null, district: b.district ?? null, until: now + b.minutes * 60_000, reason: b.reason, createdBy: by, createdAt: now, alertId: b.alertId ?? null });

/** What the route groups share. */
interface RouteContext {
  deps: ApiDeps;
  sessions: ReturnType<typeof createSessions>;
  need: (role: Role) => (req: { principal?: Principal }, reply: FastifyReply) => Promise<unknown>;
  changed: (hint: ChangeHint) => void;
}

/** The open routes: the console page and its bundle, login, logout, the OpenAPI document and /docs. */
function consoleRoutes(ctx: RouteContext) {
  const { deps, sessions } = ctx;
  return async (open: FastifyInstance): Promise<void> => {
    const city = deps.city().city;
    const page = readFileSync(new URL('./console/index.html', import.meta.url), 'utf8').replaceAll('{{CITY}}', escapeHtml(city.zh ?? city.en ?? 'floodgate'));
    // The console and its libraries (leaflet …) bundled from npm by esbuild when the service starts: no CDN, no build step.
    const bundle = await bundleConsole();
    // Basemap tiles are optional (FLOODGATE_MAP_TILES): their host is the only other origin the page may load images from.
    const imgSources = ["'self'", 'data:', ...(deps.mapTiles ? [new URL(deps.mapTiles.replace(/\{[a-z]\}/g, 'a')).origin] : [])];
    const security = { 'content-security-policy': `default-src 'self'; img-src ${imgSources.join(' ')}; style-src 'self'; script-src 'self'; connect-src 'self'`, 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer' };
    const cached = { ...security, 'cache-control': 'no-cache', etag: bundle.etag };
    open.get('/', async (_req, reply) => reply.headers(security).type('text/html; charset=utf-8').send(page));
    for (const [path, type, body] of [['/console.js', 'text/javascript', bundle.js], ['/console.css', 'text/css', bundle.css]] as const) {
      open.get(path, async (req, reply) => (req.headers['if-none-match'] === bundle.etag ? reply.code(304).headers(cached).send() : reply.headers(cached).type(`${type}; charset=utf-8`).send(body)));
    }

    // Login attempts per client address: 10 a minute, then 429 (brute force gets nowhere).
    open.post(R.login.path, { schema: routeSchema(R.login), config: { rateLimit: { max: 10, timeWindow: 60_000 } } }, async (req, reply) => {
      const { token } = req.body as { token: string };
      const p = deps.authenticate(token);
      if (!p) return apiError(reply, 401, 'UNAUTHORIZED', 'unknown token');
      // The cookie holds a random session id, never the token: logging out revokes it server-side.
      const id = sessions.open(token);
      reply.setCookie(SESSION_COOKIE, id, { httpOnly: true, sameSite: 'strict', path: '/', maxAge: Math.round((deps.sessionTtlMs ?? 12 * 3600_000) / 1000) });
      return { name: p.name, role: p.role };
    });
    open.post(R.logout.path, async (req, reply) => {
      const c = requestCredential(req);
      if (c?.kind === 'session') sessions.revoke(c.id);
      return reply.clearCookie(SESSION_COOKIE, { httpOnly: true, sameSite: 'strict', path: '/' }).send({ ok: true });
    });

    // The API described: OpenAPI 3.1 generated from the zod schemas of contracts/api.ts.
    const doc = openApi(`floodgate alerts API · ${deps.city().city.en ?? ''}`);
    open.get(R.openapi.path, async () => doc);
    open.get(R.docs.path, async (_req, reply) => reply.headers(security).type('text/html; charset=utf-8').send(docsPage(doc)));
  };
}

/** The console's data: sites, outlines, the live stream, a sensor's readings. */
function consoleDataRoutes(ctx: RouteContext) {
  const { deps } = ctx;
  return async (secured: FastifyInstance): Promise<void> => {
    secured.get(R.sites.path, async () => ({ ...deps.city(), mapTiles: deps.mapTiles ?? null }));
    secured.get(R.districts.path, async (_req, reply) => reply.type('application/geo+json').send(deps.districtsGeoJson()));

    // Live updates for the console: the whole state once, then numbered batches of changes (live.ts).
    secured.get(R.stream.path, { schema: routeSchema(R.stream) }, async (req, reply) => {
      reply.hijack();
      const header = req.headers['last-event-id'];
      // Hijacked: a failure here cannot be answered by fastify; the console reconnects and resumes.
      await deps.live.attach(req.raw, reply.raw, typeof header === 'string' ? header : (req.query as { lastEventId?: string }).lastEventId).catch((err: unknown) => {
        req.log.error({ err }, 'console stream could not start');
        reply.raw.destroy();
      });
    });

    secured.get(R.readings.path, { schema: routeSchema(R.readings) }, async (req, reply) => {
      const { id } = req.params as { id: string };
      const q = req.query as { range: Range; to?: string };
      const view = await deps.readings?.(id, q.range, q.to ? Date.parse(q.to) : deps.clock.now());
      if (!view) return apiError(reply, 404, 'NOT_FOUND', `no sensor ${id}`);
      return { ...view, from: isoWithOffset(view.from), to: isoWithOffset(view.to) };
    });

    secured.get(R.images.path, { schema: routeSchema(R.images) }, async (req, reply) => {
      const { id } = req.params as { id: string };
      const images = await deps.images?.list(id);
      if (!images) return apiError(reply, 404, 'NOT_FOUND', `no SL 651 station's sensor ${id}`);
      return { sensorId: id, images };
    });
    secured.get(R.image.path, { schema: routeSchema(R.image) }, async (req, reply) => {
      const { id, file } = req.params as { id: string; file: string };
      const image = await deps.images?.read(id, file);
      if (!image) return apiError(reply, 404, 'NOT_FOUND', `no image ${file} of ${id}`);
      return reply.type('image/jpeg').header('cache-control', 'private, max-age=86400').send(image);
    });
  };
}

/** Silences / maintenance windows: every route behind a token, changes for officers. */
function silenceRoutes(ctx: RouteContext) {
  const { deps, need, changed } = ctx;
  return async (secured: FastifyInstance): Promise<void> => {
    // Silences / maintenance windows by sensor, site or district (optionally one rule), with an expiry.
    secured.get(R.silences.path, async () => ({ active: (await deps.store.activeSilences(deps.clock.now())).map(silenceView), recent: (await deps.store.recentSilences(50)).map(silenceView) }));
    const notFiring = async (list: SilenceRequest[]) => {
      for (const b of list) if (b.alertId !== undefined && (await deps.store.getAlert(b.alertId))?.state !== 'firing') return b.alertId;
      return undefined;
    };
    const silenceViews = async (ids: number[]) => {
      const recent = new Map((await deps.store.recentSilences(ids.length + 50)).map((s) => [s.id, s]));
      return ids.map((id) => silenceView(recent.get(id)!));
    };
    secured.post(R.silence.path, { preHandler: need('officer'), schema: routeSchema(R.silence) }, async (req, reply) => {
      const b = req.body as SilenceRequest;
      const stale = await notFiring([b]);
      if (stale !== undefined) return apiError(reply, 409, 'NOT_FIRING', `alert ${stale} is not firing: a silence until it resolves would never end early`);
      const id = (await deps.store.addSilence(newSilence(b, req.principal!.name, deps.clock.now())));
      changed({ silences: true });
      return reply.code(201).send({ silence: (await silenceViews([id]))[0] });
    });
    secured.post(R.bulkSilence.path, { preHandler: need('officer'), schema: routeSchema(R.bulkSilence) }, async (req, reply) => {
      const { silences } = req.body as { silences: SilenceRequest[] };
      const stale = await notFiring(silences);
      if (stale !== undefined) return apiError(reply, 409, 'NOT_FIRING', `alert ${stale} is not firing: a silence until it resolves would never end early (none was created)`);
      const now = deps.clock.now();
      const ids = (await deps.store.addSilences(silences.map((b) => newSilence(b, req.principal!.name, now))));
      changed({ silences: true });
      return reply.code(201).send({ silences: await silenceViews(ids) });
    });
    secured.delete(R.unsilence.path, { preHandler: need('officer'), schema: routeSchema(R.unsilence) }, async (req, reply) => {
      const { sid } = req.params as { sid: number };
      if (!(await deps.store.endSilence(sid, deps.clock.now()))) return apiError(reply, 404, 'NOT_FOUND', `no active silence ${sid}`);
      changed({ silences: true });
      return { ended: sid };
    });
  };
}

/** The alerts, notices and sensors: every route behind a token. */
function alertRoutes(ctx: RouteContext) {
  const { deps, need, changed } = ctx;
  return async (secured: FastifyInstance): Promise<void> => {
    secured.get(R.alerts.path, { schema: routeSchema(R.alerts) }, async (req) => {
      const q = req.query as { state?: 'firing' | 'resolved'; rule?: string; subject?: string; district?: string; severity?: string; acked?: 'true' | 'false'; limit: number };
      return { alerts: (await deps.store.listAlerts({ ...q, acked: q.acked === undefined ? undefined : q.acked === 'true' })) };
    });

    secured.get(R.alert.path, { schema: routeSchema(R.alert) }, async (req, reply) => {
      const { id } = req.params as { id: string };
      const alert = (await deps.store.getAlert(id));
      if (!alert) return apiError(reply, 404, 'NOT_FOUND', `no alert ${id}`);
      const now = deps.clock.now();
      return { alert: { ...alert, silenced: silenceFor(alert, (await deps.store.activeSilences(now)), now) !== undefined }, audit: (await deps.store.auditOf(id)) };
    });

    secured.get(R.me.path, async (req) => req.principal);

    secured.get(R.overview.path, async () => await overviewOf(deps.store));

    secured.post(R.ack.path, { preHandler: need('officer'), schema: routeSchema(R.ack) }, async (req, reply) => {
      const { id } = req.params as { id: string };
      const body = (req.body ?? {}) as { by?: string; note?: string };
      if (!(await deps.store.getAlert(id))) return apiError(reply, 404, 'NOT_FOUND', `no alert ${id}`);
      // Who acknowledged is who is logged in; only the admin token may name someone (a phone call logged by an admin).
      const by = req.principal!.role === 'admin' && body.by ? body.by : req.principal!.name;
      const acked = (await deps.store.ack(id, isoWithOffset(deps.clock.now()), by, body.note ?? null));
      if (acked) changed({ alerts: [id] });
      // Idempotent: acknowledging twice keeps the first acknowledgement and says so.
      return { alert: (await deps.store.getAlert(id)), alreadyAcknowledged: !acked };
    });

    // A group at once: one transaction, one change batch, the same note and officer on each.
    secured.post(R.bulkAck.path, { preHandler: need('officer'), schema: routeSchema(R.bulkAck) }, async (req) => {
      const { ids, note } = req.body as { ids: string[]; note?: string };
      const r = (await deps.store.ackMany([...new Set(ids)], isoWithOffset(deps.clock.now()), req.principal!.name, note ?? null));
      if (r.acknowledged.length) changed({ alerts: r.acknowledged });
      return { acknowledged: r.acknowledged.length, alreadyAcknowledged: r.already.length, unknown: r.unknown };
    });

    secured.get(R.sensors.path, { schema: routeSchema(R.sensors) }, async (req) => {
      const q = req.query as { q?: string; kind?: 'water-level' | 'rain' | 'ponding'; district?: string; limit: number };
      return { sensors: (deps.sensors?.(q) ?? []).map((s) => ({ ...s, ts: s.ts === null ? null : isoWithOffset(s.ts), lastSeen: s.lastSeen === null ? null : isoWithOffset(s.lastSeen) })) };
    });

    secured.get(R.notices.path, { schema: routeSchema(R.notices) }, async (req) => {
      const q = req.query as { status?: 'pending' | 'delivered' | 'failed'; subject?: string; alert?: string; limit: number };
      return { notices: (await deps.store.listNotices(q)).map(noticeView) };
    });

    secured.post(R.note.path, { preHandler: need('officer'), schema: routeSchema(R.note) }, async (req, reply) => {
      const { id } = req.params as { id: string };
      if (!(await deps.store.getAlert(id))) return apiError(reply, 404, 'NOT_FOUND', `no alert ${id}`);
      (await deps.store.addNote(id, isoWithOffset(deps.clock.now()), req.principal!.name, (req.body as { note: string }).note));
      changed({ alerts: [id] });
      return { audit: (await deps.store.auditOf(id)) };
    });

    secured.post(R.resolve.path, { preHandler: need('officer'), schema: routeSchema(R.resolve) }, async (req, reply) => {
      const { id } = req.params as { id: string };
      const a = (await deps.store.getAlert(id));
      if (!a) return apiError(reply, 404, 'NOT_FOUND', `no alert ${id}`);
      const resolved = a.state === 'firing' && (await deps.resolveManually?.(id, req.principal!.name, (req.body as { reason: string }).reason).catch((err: unknown) => {
        if ((err as { code?: string }).code === 'LEASE_LOST') return 'standby' as const;
        throw err;
      }));
      if (resolved === 'standby') return apiError(reply, 503, 'NOT_ACTIVE', 'this alerts instance is a standby: resolve through the load balancer (the active instance)');
      if (!resolved) return apiError(reply, 409, 'NOT_FIRING', `alert ${id} is ${a.state}`);
      return { alert: (await deps.store.getAlert(id)), audit: (await deps.store.auditOf(id)) };
    });

    // Trust a suspect sensor's readings: the rules apply it and resolve the alert (issue 22).
    secured.post(R.trust.path, { preHandler: need('officer'), schema: routeSchema(R.trust) }, async (req, reply) => {
      const { id } = req.params as { id: string };
      const a = await deps.store.getAlert(id);
      if (!a) return apiError(reply, 404, 'NOT_FOUND', `no alert ${id}`);
      const kind = deps.city().sensors.find((x) => x.id === a.sensorId)?.kind;
      if (a.ruleId !== 'sensor-data-quality' || a.state !== 'firing' || kind !== 'ponding') return apiError(reply, 409, 'NOT_SUSPECT', `alert ${id} is not a firing data-quality alert of a ponding sensor`);
      const note = (req.body as { note: string }).note;
      const sent = await deps.trustReadings?.({ alertId: id, sensorId: a.sensorId }, req.principal!.name, note);
      if (sent !== true) return apiError(reply, 503, 'NOT_ACTIVE', 'this alerts instance is a standby: send it through the load balancer (the active instance)');
      await deps.store.addNote(id, isoWithOffset(deps.clock.now()), req.principal!.name, `readings trusted: ${note}`);
      changed({ alerts: [id] });
      return reply.code(202).send({ audit: await deps.store.auditOf(id) });
    });

    // One notice to one recipient, with its delivery history (attempt, time, status, latency).
    secured.get(R.notice.path, { schema: routeSchema(R.notice) }, async (req, reply) => {
      const { seq } = req.params as { seq: number };
      const n = (await deps.store.getNotice(seq));
      if (!n) return apiError(reply, 404, 'NOT_FOUND', `no notice ${seq}`);
      const attempts = (await deps.store.attempts(seq)).map((a) => ({ ...a, at: isoWithOffset(a.at) }));
      return { notice: noticeView(n), attempts };
    });

    // Send a failed notice again (and the failed ones behind it for that underpass and recipient).
    secured.post(R.resend.path, { preHandler: need('officer'), schema: routeSchema(R.resend) }, async (req, reply) => {
      const { seq } = req.params as { seq: number };
      const n = (await deps.store.getNotice(seq));
      if (!n) return apiError(reply, 404, 'NOT_FOUND', `no notice ${seq}`);
      if (n.status !== 'failed') return apiError(reply, 409, 'NOT_FAILED', `notice ${seq} is ${n.status}: only a failed notice can be resent`);
      const resent = (await deps.store.resend(seq, deps.clock.now()));
      deps.wakeOutbox?.();
      changed({ notices: resent });
      return { resent };
    });
  };
}

export async function apiPlugin(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  // Set before the routes so every scope inherits it: errors always have {error: {code, message}}.
  app.setErrorHandler((err: { statusCode?: number; code?: string; message: string; validation?: unknown }, _req, reply) => {
    if (err.validation) return apiError(reply, 400, 'BAD_REQUEST', err.message);
    // fastify's own errors in the API's catalogue: its FST_ codes are not ours to promise.
    const known = err.code ? FASTIFY_ERRORS[err.code] : undefined;
    if (known) return apiError(reply, known[0], known[1], known[2] ?? err.message);
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) app.log.error({ err }, 'request failed');
    return apiError(reply, status, status === 500 ? 'INTERNAL' : codeFor(status, err.code), status === 500 ? 'internal error' : err.message);
  });

  /** 403 unless the caller's role is at least `role`. */
  const need = (role: Role) => async (req: { principal?: Principal }, reply: FastifyReply) => {
    if (!req.principal || !roleAtLeast(req.principal.role as Role, role)) return apiError(reply, 403, 'FORBIDDEN', `needs the ${role} role (you are ${req.principal?.role ?? 'nobody'})`);
  };
  const changed = (hint: ChangeHint) => deps.live.hint(hint);
  // Bodies are JSON: another type is a 415, not a string for the schema to refuse.
  app.removeContentTypeParser('text/plain');
  zodBodies(app);

  const sessions = createSessions({ clock: deps.clock, ttlMs: deps.sessionTtlMs ?? 12 * 3600_000, max: 10_000 });
  /** A bearer token as such; a session cookie through its session (revoked on logout, expired after the TTL). */
  const authenticate = (c: Credential | undefined) => (c?.kind === 'bearer' ? deps.authenticate(c.token) : c?.kind === 'session' ? deps.authenticate(sessions.tokenOf(c.id)) : null);

  // Cookies (the console's session) and the login limiter come from fastify's own plugins. The
  // limiter counts per client address in a bounded LRU: a spray of addresses evicts the oldest
  // counts, where the hand-written one had cleared every address's count at once.
  await app.register(fastifyCookie);
  await app.register(fastifyRateLimit, {
    global: false,
    // Thrown as an error: the error handler gives it the API's shape (RATE_LIMITED); Retry-After is the plugin's.
    errorResponseBuilder: (_req, ctx) => ({ statusCode: 429, code: 'RATE_LIMITED', message: `too many login attempts; wait ${Math.ceil(ctx.ttl / 1000)} s` }),
  });
  // /healthz, the console page and the login open; /metrics, these routes and other services'
  // routes behind a token (header, or the console's HttpOnly session cookie).
  const ctx: RouteContext = { deps, sessions, need, changed };
  await serviceHttp(app, { authenticate, metrics: deps.metrics, health: deps.health, routes: [alertRoutes(ctx), silenceRoutes(ctx), consoleDataRoutes(ctx), ...(deps.extraRoutes ?? [])], open: [consoleRoutes(ctx)] });


  /** What the console reads besides the alerts: the city, its outlines, the live stream, the charts. */

}

/** /docs: the OpenAPI document as a readable page (no external viewer, no CDN). */
function docsPage(doc: Record<string, unknown>): string {
  type Op = { summary: string; 'x-floodgate-role'?: string; parameters: Array<{ name: string; in: string }>; requestBody?: { content: { 'application/json': { schema: { examples?: unknown[] } } } }; responses: Record<string, { description: string }> };
  const rows: string[] = [];
  for (const [path, ops] of Object.entries(doc['paths'] as Record<string, Record<string, Op>>)) {
    for (const [method, op] of Object.entries(ops)) {
      const params = op.parameters.map((p) => `${p.name} (${p.in})`).join(', ');
      const example = op.requestBody?.content['application/json'].schema.examples?.[0];
      const answers = Object.entries(op.responses).map(([status, r]) => `<b>${status}</b> ${escapeHtml(r.description)}`).join('<br>');
      rows.push(
        `<tr id="${escapeHtml(method + path)}"><td><code>${method.toUpperCase()} ${escapeHtml(path)}</code></td><td>${escapeHtml(op['x-floodgate-role'] ?? 'open')}</td><td>${escapeHtml(op.summary)}${params ? `<br><small>${escapeHtml(params)}</small>` : ''}${example !== undefined ? `<br><small>body, e.g.</small> <code>${escapeHtml(JSON.stringify(example))}</code>` : op.requestBody ? '<br><small>JSON body</small>' : ''}</td><td><small>${answers}</small></td></tr>`,
      );
    }
  }
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>floodgate API</title><link rel="stylesheet" href="/console.css"></head><body><main><h1>floodgate alerts API</h1><p>Machine-readable: <a href="/docs/openapi.json">/docs/openapi.json</a> (OpenAPI 3.1). Errors are <code>{"error":{"code","message"}}</code> with a stable code; a method a path does not declare answers 405 with <code>Allow</code>.</p><table><thead><tr><th>route</th><th>role</th><th>what</th><th>answers</th></tr></thead><tbody>${rows.join('')}</tbody></table></main></body></html>`;
}
