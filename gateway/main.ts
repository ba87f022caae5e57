import { createLogger } from '../lib/logger.ts';
import { createMetricsRegistry } from '../lib/metrics.ts';
import { loadSharedDeps } from '../lib/shared-config.ts';
import { closeOnSignal } from '../cli/process.ts';
import { gatewayConfigFromEnv } from './config.ts';
import { createGateway } from './gateway.ts';

export async function main(): Promise<void> {
  const logger = createLogger({ name: 'gateway' });
  const { gateway, shared } = gatewayConfigFromEnv(process.env);
  const { registry, serviceSecret } = loadSharedDeps(shared);
  const handle = await createGateway(gateway, { logger, metrics: createMetricsRegistry({ defaults: true }), registry, serviceSecret });
  await closeOnSignal([handle], logger);
}
