import { createLogger } from '../lib/logger.ts';
import { createMetricsRegistry } from '../lib/metrics.ts';
import { loadSharedDeps } from '../lib/shared-config.ts';
import { systemClock } from '../lib/clock.ts';
import { closeOnSignal } from '../cli/process.ts';
import { ingestConfigFromEnv } from './config.ts';
import { createIngest } from './ingest.ts';

export async function main(): Promise<void> {
  const logger = createLogger({ name: 'ingest' });
  const { ingest, shared } = ingestConfigFromEnv(process.env);
  const { registry, serviceSecret } = loadSharedDeps(shared);
  const handle = await createIngest(ingest, { logger, metrics: createMetricsRegistry({ defaults: true }), registry, serviceSecret, clock: systemClock });
  await closeOnSignal([handle], logger);
}
