import { createLogger } from '../lib/logger.ts';
import { createMetricsRegistry } from '../lib/metrics.ts';
import { loadSharedDeps } from '../lib/shared-config.ts';
import { systemClock } from '../lib/clock.ts';
import { watchRegistry } from '../lib/watch-registry.ts';
import { startOpsServer } from '../lib/ops-server.ts';
import { FloodgateError } from '../lib/errors.ts';
import { closeOnSignal, type Closable } from '../cli/process.ts';
import { gatewayConfigFromEnv } from './config.ts';
import { createGateway } from './gateway.ts';

export async function main(): Promise<void> {
  const logger = createLogger({ name: 'gateway' });
  const { gateway, shared, metricsPort } = gatewayConfigFromEnv(process.env);
  const { registry, serviceSecret } = loadSharedDeps(shared);
  const metrics = createMetricsRegistry({ defaults: true });
  const handle = await createGateway(gateway, { logger, metrics, registry, serviceSecret, clock: systemClock });
  const closables: Closable[] = [watchRegistry(shared.registryPath, (r) => handle.updateRegistry(r), logger)];
  if (metricsPort !== undefined) {
    const token = process.env['FLOODGATE_API_TOKEN'];
    if (!token) throw new FloodgateError('CONFIG_INVALID', 'FLOODGATE_METRICS_PORT needs FLOODGATE_API_TOKEN (the bearer token for /metrics)');
    closables.push(await startOpsServer({ host: gateway.host, port: metricsPort, token, metrics, health: () => ({ ok: !handle.broker.closed, checks: { broker: !handle.broker.closed } }) }));
  }
  await closeOnSignal([...closables, handle], logger);
}
