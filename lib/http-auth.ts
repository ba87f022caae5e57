import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Registry as Metrics } from './metrics.ts';

const sha256 = (s: string) => createHash('sha256').update(s).digest();

/** An onRequest hook requiring `Authorization: Bearer <token>` (compared in constant time). */
export function bearerAuth(token: string) {
  const digest = sha256(token);
  return async (req: FastifyRequest, reply: FastifyReply) => {
    const m = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '');
    if (!m || !timingSafeEqual(sha256(m[1]!), digest)) {
      reply.header('www-authenticate', 'Bearer realm="floodgate"');
      return reply.code(401).send({ error: { code: 'UNAUTHORIZED', message: 'missing or invalid bearer token' } });
    }
  };
}

export type Health = () => { ok: boolean; checks: Record<string, boolean> };
export type Routes = (app: FastifyInstance) => Promise<void>;

/**
 * The HTTP contract every floodgate service shares: `GET /healthz` open (200 or 503 with the
 * failing checks), everything else — `/metrics` and the given routes — behind the bearer token.
 */
export async function serviceHttp(app: FastifyInstance, opts: { token: string; metrics: Metrics; health: Health; routes: Routes[] }): Promise<void> {
  app.get('/healthz', async (_req, reply) => {
    const h = opts.health();
    return reply.code(h.ok ? 200 : 503).send({ status: h.ok ? 'ok' : 'degraded', checks: h.checks });
  });
  await app.register(async (secured) => {
    secured.addHook('onRequest', bearerAuth(opts.token));
    for (const routes of opts.routes) await secured.register(routes);
    secured.get('/metrics', async (_req, reply) => reply.header('content-type', opts.metrics.contentType).send(await opts.metrics.metrics()));
  });
}
