/**
 * The HTTP API as an encapsulated fastify plugin: schema-first routes, bearer auth on everything
 * but the health check.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { serviceHttp } from '../lib/http-auth.ts';
import type { Registry as Metrics } from '../lib/metrics.ts';
import type { Clock } from '../lib/clock.ts';
import { isoWithOffset } from '../lib/time.ts';
import type { AlertStore, NoticeRecord } from './store.ts';

export interface ApiDeps {
  store: AlertStore;
  metrics: Metrics;
  clock: Clock;
  apiToken: string;
  health(): { ok: boolean; checks: Record<string, boolean> };
  /** Deliver re-queued notices now rather than at the next poll. */
  wakeOutbox?(): void;
  /** More authenticated routes from other services in the same process (floodgate up). */
  extraRoutes?: Array<(app: FastifyInstance) => Promise<void>>;
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

  // /healthz open; /metrics, these routes and other services' routes behind the bearer token.
  await serviceHttp(app, { token: deps.apiToken, metrics: deps.metrics, health: deps.health, routes: [alertRoutes, ...(deps.extraRoutes ?? [])] });

  async function alertRoutes(secured: FastifyInstance): Promise<void> {
    secured.get(
      '/api/alerts',
      {
        schema: {
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: {
              state: { type: 'string', enum: ['firing', 'resolved'] },
              limit: { type: 'integer', minimum: 1, maximum: 1000, default: 200 },
            },
          },
        },
      },
      async (req) => {
        const q = req.query as { state?: 'firing' | 'resolved'; limit: number };
        return { alerts: deps.store.listAlerts(q) };
      },
    );

    secured.get('/api/alerts/:id', { schema: { params: { type: 'object', properties: { id: { type: 'string', maxLength: 300 } } } } }, async (req, reply) => {
      const { id } = req.params as { id: string };
      const alert = deps.store.getAlert(id);
      if (!alert) return apiError(reply, 404, 'NOT_FOUND', `no alert ${id}`);
      return { alert };
    });

    secured.post(
      '/api/alerts/:id/ack',
      {
        schema: {
          params: { type: 'object', properties: { id: { type: 'string', maxLength: 300 } } },
          body: {
            type: ['object', 'null'],
            additionalProperties: false,
            properties: { by: { type: 'string', minLength: 1, maxLength: 100 }, note: { type: 'string', maxLength: 1000 } },
          },
        },
      },
      async (req, reply) => {
        const { id } = req.params as { id: string };
        const body = (req.body ?? {}) as { by?: string; note?: string };
        if (!deps.store.getAlert(id)) return apiError(reply, 404, 'NOT_FOUND', `no alert ${id}`);
        const acked = deps.store.ack(id, isoWithOffset(deps.clock.now()), body.by ?? 'admin', body.note ?? null);
        // Idempotent: acknowledging twice keeps the first acknowledgement and says so.
        return { alert: deps.store.getAlert(id), alreadyAcknowledged: !acked };
      },
    );

    secured.get(
      '/api/notices',
      {
        schema: {
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: {
              status: { type: 'string', enum: ['pending', 'delivered', 'failed'] },
              limit: { type: 'integer', minimum: 1, maximum: 1000, default: 200 },
            },
          },
        },
      },
      async (req) => {
        const q = req.query as { status?: 'pending' | 'delivered' | 'failed'; limit: number };
        return { notices: deps.store.listNotices(q).map(noticeView) };
      },
    );

    const seqParams = { type: 'object', properties: { seq: { type: 'integer', minimum: 1 } } };

    // One notice to one recipient, with its delivery history (attempt, time, status, latency).
    secured.get('/api/notices/:seq', { schema: { params: seqParams } }, async (req, reply) => {
      const { seq } = req.params as { seq: number };
      const n = deps.store.getNotice(seq);
      if (!n) return apiError(reply, 404, 'NOT_FOUND', `no notice ${seq}`);
      const attempts = deps.store.attempts(seq).map((a) => ({ ...a, at: isoWithOffset(a.at) }));
      return { notice: noticeView(n), attempts };
    });

    // Send a failed notice again (and the failed ones behind it for that underpass and recipient).
    secured.post('/api/notices/:seq/resend', { schema: { params: seqParams } }, async (req, reply) => {
      const { seq } = req.params as { seq: number };
      const n = deps.store.getNotice(seq);
      if (!n) return apiError(reply, 404, 'NOT_FOUND', `no notice ${seq}`);
      if (n.status !== 'failed') return apiError(reply, 409, 'NOT_FAILED', `notice ${seq} is ${n.status}: only a failed notice can be resent`);
      const resent = deps.store.resend(seq, deps.clock.now());
      deps.wakeOutbox?.();
      return { resent };
    });
  }
}
