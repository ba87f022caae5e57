import { createLogger } from '../lib/logger.ts';
import { createMetricsRegistry } from '../lib/metrics.ts';
import { loadSharedDeps } from '../lib/shared-config.ts';
import { systemClock } from '../lib/clock.ts';
import { startOpsServer } from '../lib/ops-server.ts';
import { FloodgateError } from '../lib/errors.ts';
import { closeOnSignal, type Closable } from '../cli/process.ts';
import { ingestConfigFromEnv } from './config.ts';
import { createIngest } from './ingest.ts';
import { ingestRoutes } from './api.ts';

export async function main(): Promise<void> {
  const logger = createLogger({ name: 'ingest' });
  const { ingest, shared, metricsPort } = ingestConfigFromEnv(process.env);
  const { registry, serviceSecret } = loadSharedDeps(shared);
  const metrics = createMetricsRegistry({ defaults: true });
  const handle = await createIngest(ingest, { logger, metrics, registry, serviceSecret, clock: systemClock });
  const closables: Closable[] = [];
  if (metricsPort !== undefined) {
    const token = process.env['FLOODGATE_API_TOKEN'];
    if (!token) throw new FloodgateError('CONFIG_INVALID', 'FLOODGATE_METRICS_PORT needs FLOODGATE_API_TOKEN (the bearer token for /metrics and /api/rejects)');
    closables.push(
      await startOpsServer({
        host: process.env['FLOODGATE_HTTP_HOST'] ?? '0.0.0.0',
        port: metricsPort,
        token,
        metrics,
        health: () => ({ ok: handle.client.connected, checks: { mqtt: handle.client.connected } }),
        routes: [ingestRoutes(handle.spool)],
      }),
    );
  }
  await closeOnSignal([...closables, handle], logger);
}
