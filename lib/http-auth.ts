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

/** Who is calling (the alerts API has roles; the other services one admin token). */
export interface Principal {
  name: string;
  role: string;
}
declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

/** What a request presents: `Authorization: Bearer …`, or the console's session cookie (a session id, never a token). */
export type Credential = { kind: 'bearer'; token: string } | { kind: 'session'; id: string };

/** The console's session cookie name. */
export const SESSION_COOKIE = 'fg_session';

export function requestCredential(req: FastifyRequest): Credential | undefined {
  const bearer = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '');
  if (bearer) return { kind: 'bearer', token: bearer[1]! };
  // req.cookies: @fastify/cookie, registered where sessions exist (the alerts API); elsewhere none.
  const id = (req as FastifyRequest & { cookies?: Record<string, string | undefined> }).cookies?.[SESSION_COOKIE];
  return id ? { kind: 'session', id } : undefined;
}

/** An onRequest hook that resolves the caller (401 when nobody) and keeps it on the request. */
export function principalAuth(authenticate: (credential: Credential | undefined) => Principal | null) {
  return async (req: FastifyRequest, reply: FastifyReply) => {
    const p = authenticate(requestCredential(req));
    if (!p) {
      reply.header('www-authenticate', 'Bearer realm="floodgate"');
      return reply.code(401).send({ error: { code: 'UNAUTHORIZED', message: 'missing or invalid token' } });
    }
    req.principal = p;
  };
}

/**
 * The HTTP contract every floodgate service shares: `GET /healthz` open (200 or 503 with the
 * failing checks), `open` routes (a login, a static page) open, everything else — `/metrics` and
 * the given routes — behind the bearer token or, with `authenticate`, a principal.
 */
export async function serviceHttp(
  app: FastifyInstance,
  opts: { token?: string; authenticate?: (credential: Credential | undefined) => Principal | null; metrics: Metrics; health: Health; routes: Routes[]; open?: Routes[] },
): Promise<void> {
  app.get('/healthz', async (_req, reply) => {
    const h = opts.health();
    return reply.code(h.ok ? 200 : 503).send({ status: h.ok ? 'ok' : 'degraded', checks: h.checks });
  });
  for (const routes of opts.open ?? []) await app.register(routes);
  await app.register(async (secured) => {
    if (opts.authenticate) secured.addHook('onRequest', principalAuth(opts.authenticate));
    else if (opts.token) secured.addHook('onRequest', bearerAuth(opts.token));
    else throw new Error('serviceHttp needs a token or an authenticate function');
    for (const routes of opts.routes) await secured.register(routes);
    secured.get('/metrics', async (_req, reply) => reply.header('content-type', opts.metrics.contentType).send(await opts.metrics.metrics()));
  });
}
