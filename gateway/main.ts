import { createLogger } from '../lib/logger.ts';
import { createMetricsRegistry } from '../lib/metrics.ts';
import { loadSharedDeps } from '../config/shared-config.ts';
import { systemClock } from '../lib/clock.ts';
import { watchRegistry } from '../config/watch-registry.ts';
import { closeOnSignal, opsServerFromEnv } from '../lib/process.ts';
import { gatewayConfigFromEnv } from './config.ts';
import { createGateway } from './gateway.ts';

export async function main(): Promise<void> {
  const logger = createLogger({ name: 'gateway' });
  const { gateway, shared, metricsPort } = gatewayConfigFromEnv(process.env);
  const { registry, serviceSecret } = loadSharedDeps(shared);
  const metrics = createMetricsRegistry({ defaults: true });
  const handle = await createGateway(gateway, { logger, metrics, registry, serviceSecret, clock: systemClock });
  const watch = watchRegistry(shared.registryPath, (r) => handle.updateRegistry(r), logger);
  const ops = await opsServerFromEnv(metricsPort, { metrics, health: () => handle.health() });
  await closeOnSignal([...ops, watch, handle], logger);
}
