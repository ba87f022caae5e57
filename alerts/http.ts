/**
 * The alerts service's HTTP side as one fastify instance, built from its dependencies and not yet
 * listening: the API, the console, /docs and /metrics. Tests build it over a store with no broker
 * and drive it with `inject`; the service listens on it.
 */
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify';
import type { Logger } from '../lib/logger.ts';
import { allowedMethods, apiPlugin, type ApiDeps } from './api.ts';

export async function buildAlertsApp(deps: ApiDeps & { logger: Logger }): Promise<FastifyInstance> {
  const { logger, ...api } = deps;
  const app: FastifyInstance = Fastify({
    // Request lines stay out of the service log (level warn): errors and slow faults still show.
    loggerInstance: logger.child({ component: 'alerts-http' }, { level: 'warn' }) as FastifyBaseLogger,
    bodyLimit: 64 * 1024,
    // Open consoles hold a server-sent-events stream: closing must not wait for them.
    forceCloseConnections: true,
    // Unknown fields are refused with a 400, not silently dropped (fastify's default strips them).
    ajv: { customOptions: { removeAdditional: false } },
    // Errors fastify raises before any route (a malformed URL, say) keep the API's error shape.
    frameworkErrors: (err, _req, reply) => void (reply as unknown as FastifyReply).code(400).send({ error: { code: 'BAD_REQUEST', message: err.message } }),
  });
  app.setNotFoundHandler((req, reply) => {
    // A known path asked with a method it does not declare: 405 and what it does declare [RFC 9110 §15.5.6].
    const allow = allowedMethods(req.url);
    if (allow && !allow.includes(req.method)) return void reply.code(405).header('allow', [...allow, ...(allow.includes('GET') ? ['HEAD'] : [])].join(', ')).send({ error: { code: 'METHOD_NOT_ALLOWED', message: `${req.method} is not allowed on ${req.url.split('?')[0]}; allowed: ${allow.join(', ')}` } });
    return void reply.code(404).send({ error: { code: 'NOT_FOUND', message: `no route ${req.method} ${req.url.split('?')[0]}` } });
  });
  await app.register(apiPlugin, api);
  await app.ready();
  return app;
}
