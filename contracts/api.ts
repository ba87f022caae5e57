/**
 * The alerts HTTP API as data: every route's inputs as zod schemas, its role and its purpose. The
 * routes validate with JSON Schemas generated from these (`routeSchema`), and the OpenAPI document
 * served at /docs is generated from the same table (`openApi`), so the two cannot drift apart
 * (alerts/test/openapi.test.ts compares it with the routes fastify actually registered).
 */
import { z } from 'zod';
import { describeIssues } from '../lib/zod-issues.ts';

const Id = z.string().min(1).max(300);
const Limit = z.coerce.number().int().min(1).max(1000).default(200);
const Text = (max: number) => z.string().min(1).max(max);

export const LoginBody = z.strictObject({ token: Text(200) }).meta({ examples: [{ token: 'the token floodgate users add printed' }] });
export const AlertListQuery = z.strictObject({
  state: z.enum(['firing', 'resolved']).optional(),
  rule: z.string().max(64).optional(),
  subject: z.string().max(64).optional(),
  district: z.string().max(64).optional(),
  severity: z.enum(['info', 'warning', 'critical']).optional(),
  acked: z.enum(['true', 'false']).optional(),
  limit: Limit,
});
export const AlertIdParams = z.object({ id: Id });
export const AckBody = z.strictObject({ by: Text(100).optional(), note: z.string().max(1000).optional() }).nullable().meta({ examples: [{ note: '已电话通知交警 police informed by phone' }] });
/** Acknowledge a group at once (500 silent sensors are one action, not 500). */
export const BulkAckBody = z.strictObject({ ids: z.array(Id).min(1).max(5000), note: z.string().max(1000).optional() }).meta({ examples: [{ ids: ['sensor-offline:PD-001:1796593920000', 'sensor-offline:PD-002:1796593920000'], note: '通信中断，已报修' }] });
export const NoteBody = z.strictObject({ note: Text(1000) }).meta({ examples: [{ note: '现场积水已抽排 pumps running' }] });
export const ResolveBody = z.strictObject({ reason: Text(1000) }).meta({ examples: [{ reason: '现场确认无积水，传感器故障 sensor fault, road inspected dry' }] });
export const TrustBody = z.strictObject({ note: Text(500) }).meta({ examples: [{ note: '现场确认积水 16 cm，水管爆裂 burst main, water is real' }] });
export const SilenceBody = z
  .strictObject({
    ruleId: Text(64).optional(),
    sensor: Text(64).optional(),
    site: Text(64).optional(),
    district: Text(64).optional(),
    minutes: z.number().int().min(1).max(7 * 24 * 60),
    reason: Text(500),
    /** "Until resolved": the silence ends when this (firing) alert resolves, or after `minutes` at the latest. */
    alertId: Id.optional(),
  })
  // A whole city is never silenced: the schema says so too (JSON Schema anyOf), not only the handler.
  .refine((b) => b.sensor !== undefined || b.site !== undefined || b.district !== undefined, { message: 'a silence names a sensor, a site or a district (a whole city is never silenced)' })
  .meta({ anyOf: [{ required: ['sensor'] }, { required: ['site'] }, { required: ['district'] }], examples: [{ site: 'UP-003', minutes: 120, reason: '泵站检修 pump maintenance' }] });
/** Silence a group at once: every scope in one transaction, all or none (a group of alerts in several districts). */
export const BulkSilenceBody = z
  .strictObject({ silences: z.array(SilenceBody).min(1).max(100) })
  .meta({ examples: [{ silences: [{ ruleId: 'sensor-offline', district: 'pudong', minutes: 120, reason: '通信中断，已报修' }, { ruleId: 'sensor-offline', district: 'huangpu', minutes: 120, reason: '通信中断，已报修' }] }] });
export const StreamQuery = z.strictObject({ lastEventId: z.string().regex(/^\d{1,15}$/).optional() });
export const SilenceIdParams = z.object({ sid: z.coerce.number().int().min(1) });
export const NoticeListQuery = z.strictObject({
  status: z.enum(['pending', 'delivered', 'failed']).optional(),
  /** An underpass (or other subject) id: its notices. */
  subject: z.string().max(64).optional(),
  alert: z.string().max(300).optional(),
  limit: Limit,
});
export const NoticeSeqParams = z.object({ seq: z.coerce.number().int().min(1) });
export const SensorListQuery = z.strictObject({ q: z.string().max(64).optional(), kind: z.enum(['water-level', 'rain', 'ponding']).optional(), district: z.string().max(64).optional(), limit: Limit });
export const SensorIdParams = z.object({ id: z.string().min(1).max(64) });
export const SensorImageParams = z.object({ id: z.string().min(1).max(64), file: z.string().regex(/^\d{8}T\d{6}-\d{1,5}\.jpg$/, 'an image file name as the list gives it') });
export const ReadingsQuery = z.strictObject({
  range: z.enum(['6h', '24h', '3d', '7d']).default('6h'),
  /** The end of the range (default now); a replayed storm is stamped in its own time. */
  to: z.iso.datetime({ offset: true }).optional(),
});
export const RejectListQuery = z.strictObject({ sensor: z.string().max(64).optional(), reason: z.string().max(64).optional(), limit: Limit });

export interface ApiRoute {
  method: 'GET' | 'POST' | 'DELETE';
  /** fastify path syntax (`:id`); OpenAPI gets `{id}`. */
  path: string;
  summary: string;
  /** null: open; otherwise the least role that may call it. */
  role: null | 'viewer' | 'officer' | 'admin';
  /** Answers besides 200 and the common errors: status → when. */
  answers?: Record<number, string>;
  params?: z.ZodType;
  query?: z.ZodType;
  body?: z.ZodType;
}

export const API_ROUTES = {
  health: { method: 'GET', path: '/healthz', summary: 'Health: 200, or 503 with the failing checks', role: null, answers: { 503: 'degraded: {status, checks} names what is failing' } },
  login: { method: 'POST', path: '/api/login', summary: 'Log in with a token: sets the console session cookie (10 attempts a minute per address)', role: null, body: LoginBody, answers: { 401: 'UNAUTHORIZED: unknown token', 429: 'RATE_LIMITED: more than 10 attempts a minute from this address (Retry-After)' } },
  logout: { method: 'POST', path: '/api/logout', summary: 'Log out: clears the session cookie', role: null },
  me: { method: 'GET', path: '/api/me', summary: 'Who you are: name and role', role: 'viewer' },
  overview: { method: 'GET', path: '/api/overview', summary: 'The city on one screen: underpasses closed, rivers above warning, districts in rainstorm, sensors offline, notices failed', role: 'viewer' },
  stream: { method: 'GET', path: '/api/stream', summary: 'Server-sent events: `reset` (the whole state) once, then numbered `batch` events of what changed; reconnecting with Last-Event-ID resumes', role: 'viewer', query: StreamQuery },
  sites: { method: 'GET', path: '/api/sites', summary: 'The city: districts, sites (name, road, lat/lon) and their sensors, for the map and the boards', role: 'viewer' },
  districts: { method: 'GET', path: '/api/districts.geojson', summary: 'District outlines (GeoJSON FeatureCollection, properties.id = district id)', role: 'viewer' },
  bulkAck: { method: 'POST', path: '/api/alerts/ack', summary: 'Acknowledge many alerts at once (a group), with one note', role: 'officer', body: BulkAckBody },
  alerts: { method: 'GET', path: '/api/alerts', summary: 'Alerts, newest first', role: 'viewer', query: AlertListQuery },
  alert: { method: 'GET', path: '/api/alerts/:id', summary: 'One alert, whether a silence covers it, and its audit trail', role: 'viewer', params: AlertIdParams },
  ack: { method: 'POST', path: '/api/alerts/:id/ack', summary: 'Acknowledge as the logged-in user, with a note (idempotent)', role: 'officer', params: AlertIdParams, body: AckBody },
  note: { method: 'POST', path: '/api/alerts/:id/notes', summary: 'Add a note to the audit trail', role: 'officer', params: AlertIdParams, body: NoteBody },
  resolve: { method: 'POST', path: '/api/alerts/:id/resolve', summary: 'Resolve by hand with a reason (a closure sends its reopen)', role: 'officer', params: AlertIdParams, body: ResolveBody, answers: { 409: 'NOT_FIRING: the alert is not firing', 503: 'NOT_ACTIVE: this alerts instance is a standby; the active one resolves' } },
  trust: { method: 'POST', path: '/api/alerts/:id/trust', summary: "Trust a suspect sensor's readings (a firing sensor-data-quality alert of a ponding sensor): the rules take them for water — no vehicle, object or baseline shift — until it reads dry again; the alert resolves when the rules have it", role: 'officer', params: AlertIdParams, body: TrustBody, answers: { 202: 'the override, sent to the rules (the alert resolves when they have applied it)', 409: 'NOT_SUSPECT: not a firing data-quality alert of a ponding sensor', 503: 'NOT_ACTIVE: this alerts instance is a standby; the active one sends it' } },
  silences: { method: 'GET', path: '/api/silences', summary: 'Silences in force and recent ones', role: 'viewer' },
  bulkSilence: { method: 'POST', path: '/api/silences/bulk', summary: 'Silence a group at once: several scopes, one transaction, all or none', role: 'officer', body: BulkSilenceBody, answers: { 201: 'the silences, created', 409: 'NOT_FIRING: an alertId names an alert that is not firing (none is created)' } },
  silence: { method: 'POST', path: '/api/silences', summary: 'Silence a sensor, site or district (optionally one rule) for some minutes', role: 'officer', body: SilenceBody, answers: { 201: 'the silence, created', 409: 'NOT_FIRING: alertId names an alert that is not firing' } },
  unsilence: { method: 'DELETE', path: '/api/silences/:sid', summary: 'End a silence early', role: 'officer', params: SilenceIdParams },
  notices: { method: 'GET', path: '/api/notices', summary: 'Notices (one per recipient) with delivery state', role: 'viewer', query: NoticeListQuery },
  notice: { method: 'GET', path: '/api/notices/:seq', summary: 'One notice with its delivery history (attempt, time, status, latency)', role: 'viewer', params: NoticeSeqParams },
  resend: { method: 'POST', path: '/api/notices/:seq/resend', summary: 'Send a failed notice again (and the failed ones behind it)', role: 'officer', params: NoticeSeqParams, answers: { 409: 'NOT_FAILED: only a failed notice can be resent' } },
  sensors: { method: 'GET', path: '/api/sensors', summary: 'Sensors with their latest value, last seen and a 6-hour sparkline', role: 'viewer', query: SensorListQuery },
  readings: { method: 'GET', path: '/api/sensors/:id/readings', summary: "A sensor's readings over 6 h – 7 d in about 400 buckets (highest depth or level, summed rain), its rain totals and reference levels, from the embedded store or InfluxDB", role: 'viewer', params: SensorIdParams, query: ReadingsQuery },
  images: { method: 'GET', path: '/api/sensors/:id/images', summary: "An SL 651 station's image reports (function 36), newest first: file, observation time (the station's clock), serial, size", role: 'viewer', params: SensorIdParams, answers: { 404: 'NOT_FOUND: no such sensor, or it is no SL 651 station\'s' } },
  image: { method: 'GET', path: '/api/sensors/:id/images/:file', summary: 'One image report, as the station sent it (image/jpeg)', role: 'viewer', params: SensorImageParams, answers: { 404: 'NOT_FOUND: no such image' } },
  rejects: { method: 'GET', path: '/api/rejects', summary: "Ingest's dead letters: refused readings with their reasons", role: 'viewer', query: RejectListQuery },
  metrics: { method: 'GET', path: '/metrics', summary: 'Prometheus text format', role: 'viewer' },
  docs: { method: 'GET', path: '/docs', summary: 'This API, described', role: null },
  openapi: { method: 'GET', path: '/docs/openapi.json', summary: 'OpenAPI 3.1 document of this API', role: null },
} as const satisfies Record<string, ApiRoute>;

/** A zod schema as the JSON Schema fastify validates with (draft 7, the input side of coercions). */
export function jsonSchema(s: z.ZodType): Record<string, unknown> {
  const { $schema: _s, ...rest } = z.toJSONSchema(s, { target: 'draft-7', io: 'input' }) as Record<string, unknown>;
  return rest;
}

/**
 * fastify's `schema` option for a route of the table: the path and the query (whose values are
 * strings, coerced as declared). Bodies are not given to fastify's validator, which coerces types
 * (`"minutes": true` became 1): the route parses them with their zod schema instead (`parseBody`).
 */
export function routeSchema(r: ApiRoute): Record<string, unknown> {
  return {
    ...(r.params ? { params: jsonSchema(r.params) } : {}),
    ...(r.query ? { querystring: jsonSchema(r.query) } : {}),
  };
}

/** A body as its route's zod schema reads it, or the problems (one line, every issue). A missing body is null. */
export function parseBody(r: ApiRoute, body: unknown): { ok: true; value: unknown } | { ok: false; message: string } {
  if (!r.body) return { ok: true, value: body };
  const p = r.body.safeParse(body ?? null);
  if (p.success) return { ok: true, value: p.data };
  return { ok: false, message: describeIssues(p.error.issues, { prefix: 'body' }) };
}

/** The OpenAPI 3.1 document of the API (JSON Schema 2020-12 is OpenAPI 3.1's own dialect). */
export function openApi(title: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  const error = { description: 'Error', content: { 'application/json': { schema: { type: 'object', properties: { error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } }, required: ['code', 'message'] } } } } } };
  for (const r of Object.values(API_ROUTES) as ApiRoute[]) {
    const path = r.path.replace(/:(\w+)/g, '{$1}');
    const params = (where: 'path' | 'query', s: z.ZodType | undefined) => {
      if (!s) return [];
      const js = z.toJSONSchema(s, { io: 'input' }) as { properties?: Record<string, unknown>; required?: string[] };
      return Object.entries(js.properties ?? {}).map(([name, schema]) => ({ name, in: where, required: where === 'path' || (js.required ?? []).includes(name), schema }));
    };
    paths[path] ??= {};
    paths[path]![r.method.toLowerCase()] = {
      summary: r.summary,
      ...(r.role ? { security: [{ bearer: [] }, { session: [] }], 'x-floodgate-role': r.role } : { security: [] }),
      parameters: [...params('path', r.params), ...params('query', r.query)],
      ...(r.body ? { requestBody: { required: true, content: { 'application/json': { schema: z.toJSONSchema(r.body, { io: 'input' }) } } } } : {}),
      responses: {
        ...(r.answers?.[201] ? {} : { '200': { description: 'OK' } }),
        ...Object.fromEntries(Object.entries(r.answers ?? {}).map(([status, when]) => [status, status.startsWith('2') ? { description: when } : { ...error, description: when }])),
        ...(r.role ? { '401': { ...error, description: 'UNAUTHORIZED: no token, or not a valid one' }, '403': { ...error, description: `FORBIDDEN: needs the ${r.role} role` } } : {}),
        '400': { ...error, description: 'BAD_REQUEST: what is wrong with the path, query or body' },
        '404': { ...error, description: 'NOT_FOUND' },
        ...(r.body ? { '413': { ...error, description: 'PAYLOAD_TOO_LARGE: a body over 64 KiB' }, '415': { ...error, description: 'UNSUPPORTED_MEDIA_TYPE: a body that is not application/json' } } : {}),
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: { title, version: '1', description: 'Every error is {"error":{"code","message"}} with a stable code. Writes need the officer role. A method a path does not declare answers 405 METHOD_NOT_ALLOWED with an Allow header.' },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' }, session: { type: 'apiKey', in: 'cookie', name: 'fg_token' } } },
    paths,
  };
}
