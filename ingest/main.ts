import { createLogger } from '../lib/logger.ts';
import { createMetricsRegistry } from '../lib/metrics.ts';
import { loadSharedDeps } from '../config/shared-config.ts';
import { systemClock } from '../lib/clock.ts';
import { watchRegistry } from '../config/watch-registry.ts';
import { closeOnSignal, opsServerFromEnv } from '../lib/process.ts';
import { ingestConfigFromEnv } from './config.ts';
import { createIngest } from './ingest.ts';
import { ingestRoutes } from './api.ts';

export async function main(): Promise<void> {
  const logger = createLogger({ name: 'ingest' });
  const { ingest, shared, metricsPort } = ingestConfigFromEnv(process.env);
  const { registry, serviceSecret } = loadSharedDeps(shared);
  const metrics = createMetricsRegistry({ defaults: true });
  const handle = await createIngest(ingest, { logger, metrics, registry, serviceSecret, clock: systemClock });
  const ops = await opsServerFromEnv(metricsPort, {
    metrics,
    // A standby (HA) is healthy without a broker connection: it must not have one. Without its
    // lease's database it is not: no instance can take over while that lasts.
    health: () => {
      const c = handle.client();
      const database = handle.databaseUp();
      return { ok: (c ? c.connected : true) && database, checks: { active: c !== undefined, mqtt: c?.connected ?? false, database } };
    },
    routes: [ingestRoutes(handle.spool)],
  });
  const watch = watchRegistry(shared.registryPath, (r) => handle.updateRegistry(r), logger);
  await closeOnSignal([...ops, watch, handle], logger);
}
