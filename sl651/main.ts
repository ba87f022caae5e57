import { createLogger } from '../lib/logger.ts';
import { createMetricsRegistry } from '../lib/metrics.ts';
import { loadSharedDeps } from '../config/shared-config.ts';
import { systemClock } from '../lib/clock.ts';
import { watchRegistry } from '../config/watch-registry.ts';
import { FloodgateError } from '../lib/errors.ts';
import { closeOnSignal, opsServerFromEnv } from '../lib/process.ts';
import { sl651ConfigFromEnv } from './config.ts';
import { createSl651 } from './sl651.ts';

export async function main(): Promise<void> {
  const { sl651, shared, metricsPort } = sl651ConfigFromEnv(process.env);
  if (!sl651) throw new FloodgateError('CONFIG_INVALID', 'floodgate sl651: set FLOODGATE_SL651_PORT, the TCP port stations report to (5005, say)');
  const logger = createLogger({ name: 'sl651' });
  const { registry, serviceSecret } = loadSharedDeps(shared);
  const metrics = createMetricsRegistry({ defaults: true });
  const handle = await createSl651(sl651, { logger, metrics, registry, serviceSecret, clock: systemClock });
  const watch = watchRegistry(shared.registryPath, (r) => handle.updateRegistry(r), logger);
  const ops = await opsServerFromEnv(metricsPort, { metrics, health: () => handle.health() });
  await closeOnSignal([...ops, watch, handle], logger);
}
