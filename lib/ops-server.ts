/**
 * /healthz and /metrics for a service running on its own (docker-compose): the same contract as
 * the alerts API — health open, metrics behind the bearer token.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import type { AddressInfo } from 'node:net';
import type { Registry as Metrics } from './metrics.ts';
import { bearerAuth } from './http-auth.ts';

export async function startOpsServer(opts: {
  host: string;
  port: number;
  token: string;
  metrics: Metrics;
  health: () => { ok: boolean; checks: Record<string, boolean> };
  routes?: Array<(app: FastifyInstance) => Promise<void>>;
}): Promise<{ port: number; close(): Promise<void> }> {
  const app = Fastify({ logger: false });
  app.get('/healthz', async (_req, reply) => {
    const h = opts.health();
    return reply.code(h.ok ? 200 : 503).send({ status: h.ok ? 'ok' : 'degraded', checks: h.checks });
  });
  await app.register(async (secured) => {
    secured.addHook('onRequest', bearerAuth(opts.token));
    for (const routes of opts.routes ?? []) await secured.register(routes);
    secured.get('/metrics', async (_req, reply) => reply.header('content-type', opts.metrics.contentType).send(await opts.metrics.metrics()));
  });
  await app.listen({ host: opts.host, port: opts.port });
  return { port: (app.server.address() as AddressInfo).port, close: () => app.close() };
}
