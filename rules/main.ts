import { createLogger } from '../lib/logger.ts';
import { createMetricsRegistry } from '../lib/metrics.ts';
import { loadSharedDeps } from '../config/shared-config.ts';
import { systemClock } from '../lib/clock.ts';
import { watchRegistry } from '../config/watch-registry.ts';
import { closeOnSignal } from '../lib/process.ts';
import { rulesConfigFromEnv } from './config.ts';
import { createRules } from './rules.ts';

export async function main(): Promise<void> {
  const logger = createLogger({ name: 'rules' });
  const { rules, shared } = rulesConfigFromEnv(process.env);
  const { registry, serviceSecret } = loadSharedDeps(shared);
  const handle = await createRules(rules, { logger, metrics: createMetricsRegistry({ defaults: true }), registry, serviceSecret, clock: systemClock });
  const watch = watchRegistry(shared.registryPath, (r) => handle.updateRegistry(r), logger);
  await closeOnSignal([watch, handle], logger);
}
