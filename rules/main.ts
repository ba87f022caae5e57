import { createLogger } from '../lib/logger.ts';
import { createMetricsRegistry } from '../lib/metrics.ts';
import { loadSharedDeps } from '../config/shared-config.ts';
import { systemClock } from '../lib/clock.ts';
import { watchRegistry } from '../config/watch-registry.ts';
import { closeOnSignal, opsServerFromEnv } from '../lib/process.ts';
import { rulesConfigFromEnv } from './config.ts';
import { createRules } from './rules.ts';

export async function main(): Promise<void> {
  const logger = createLogger({ name: 'rules' });
  const { rules, shared, metricsPort } = rulesConfigFromEnv(process.env);
  const { registry, serviceSecret } = loadSharedDeps(shared);
  const metrics = createMetricsRegistry({ defaults: true });
  const handle = await createRules(rules, { logger, metrics, registry, serviceSecret, clock: systemClock });
  // A standby (HA) is healthy: it waits for the lease (floodgate_lease_leader says which one
  // leads). Without the database none can lead: 503.
  const ops = await opsServerFromEnv(metricsPort, { metrics, health: () => ({ ok: handle.databaseUp(), checks: { active: handle.active(), database: handle.databaseUp() } }) });
  const watch = watchRegistry(shared.registryPath, (r) => handle.updateRegistry(r), logger);
  await closeOnSignal([...ops, watch, handle], logger);
}
