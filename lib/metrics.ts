import { Registry, Counter, Gauge, collectDefaultMetrics } from 'prom-client';

export { Registry, Counter, Gauge };

/**
 * One Prometheus registry per process. Services register their counters on the registry passed in
 * their deps, so `floodgate up` exposes every service's counters on one `/metrics`.
 */
export function createMetricsRegistry(opts: { defaults?: boolean } = {}): Registry {
  const registry = new Registry();
  if (opts.defaults) collectDefaultMetrics({ register: registry, prefix: 'floodgate_process_' });
  return registry;
}

/** Get-or-create, so two services sharing a registry can ask for the same metric safely. */
export function counter(registry: Registry, name: string, help: string, labelNames: string[] = []): Counter<string> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Counter<string>;
  return new Counter({ name, help, labelNames, registers: [registry] });
}

export function gauge(registry: Registry, name: string, help: string, labelNames: string[] = []): Gauge<string> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Gauge<string>;
  return new Gauge({ name, help, labelNames, registers: [registry] });
}
