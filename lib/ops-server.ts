/**
 * /healthz, /metrics (and a service's own routes) for a service running on its own
 * (docker-compose): the same contract as the alerts API.
 */
import Fastify from 'fastify';
import type { AddressInfo } from 'node:net';
import type { Registry as Metrics } from './metrics.ts';
import { serviceHttp, type Health, type Routes } from './http-auth.ts';

export async function startOpsServer(opts: {
  host: string;
  port: number;
  token: string;
  metrics: Metrics;
  health: Health;
  routes?: Routes[];
}): Promise<{ port: number; close(): Promise<void> }> {
  const app = Fastify({ logger: false });
  await serviceHttp(app, { token: opts.token, metrics: opts.metrics, health: opts.health, routes: opts.routes ?? [] });
  await app.listen({ host: opts.host, port: opts.port });
  return { port: (app.server.address() as AddressInfo).port, close: () => app.close() };
}
