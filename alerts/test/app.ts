/**
 * The alerts HTTP app over a real SQLite store in memory, with no broker and no listening socket:
 * for API tests driven by `inject` (fastify's way), a fraction of the cost of the whole stack.
 */
import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { buildAlertsApp } from '../http.ts';
import { openAlertStore } from '../sqlite-store.ts';
import type { AlertStore } from '../store.ts';
import { createLive } from '../live.ts';
import { cityView } from '../city.ts';
import { BUNDLED_DISTRICTS } from '../config.ts';
import { authenticate } from '../users.ts';
import { BUNDLED_CITY, loadRegistry } from '../../config/registry.ts';
import { createMetricsRegistry } from '../../lib/metrics.ts';
import { silentLogger } from '../../lib/logger.ts';
import { systemClock, type Clock } from '../../lib/clock.ts';

export interface TestApp {
  app: FastifyInstance;
  store: AlertStore;
  /** The admin's bearer token. */
  token: string;
  auth(): { authorization: string };
  close(): Promise<void>;
}

export async function buildTestApp(o: { clock?: Clock; extraRoutes?: Array<(app: FastifyInstance) => Promise<void>> } = {}): Promise<TestApp> {
  const token = 'test-admin-token-0123456789';
  const clock = o.clock ?? systemClock;
  const store = openAlertStore(':memory:');
  const metrics = createMetricsRegistry();
  const live = createLive({ store, clock, logger: silentLogger, metrics });
  const registry = loadRegistry(BUNDLED_CITY);
  const districts = readFileSync(BUNDLED_DISTRICTS, 'utf8');
  const app = await buildAlertsApp({
    logger: silentLogger,
    store,
    metrics,
    clock,
    live,
    authenticate: (t) => authenticate(t, [], token),
    city: () => cityView(registry),
    districtsGeoJson: () => districts,
    health: () => ({ ok: store.isOpen(), checks: { store: store.isOpen() } }),
    ...(o.extraRoutes ? { extraRoutes: o.extraRoutes } : {}),
  });
  return {
    app,
    store,
    token,
    auth: () => ({ authorization: `Bearer ${token}` }),
    async close() {
      live.close();
      await app.close();
      await store.close();
    },
  };
}
