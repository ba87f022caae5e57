import { Registry, Counter, Gauge, Histogram } from 'prom-client';

export { Registry, Counter, Gauge, Histogram };

/**
 * One Prometheus registry per process. Services register their counters on the registry passed in
 * their deps, so `floodgate up` exposes every service's counters on one `/metrics`.
 */
export function createMetricsRegistry(opts: { defaults?: boolean } = {}): Registry {
  const registry = new Registry();
  if (opts.defaults) registerProcessMetrics(registry);
  return registry;
}

/**
 * A few process gauges read at scrape time. prom-client's collectDefaultMetrics is not used: its
 * GC observer cost half the gateway's QoS 0 throughput under load (benchmarks/README.md).
 */
function registerProcessMetrics(registry: Registry): void {
  const started = Date.now();
  const g = (name: string, help: string, read: () => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(read());
      },
    });
  g('floodgate_process_resident_memory_bytes', 'Resident set size', () => process.memoryUsage.rss());
  g('floodgate_process_heap_used_bytes', 'V8 heap used', () => process.memoryUsage().heapUsed);
  // A counter, as Prometheus' own process_cpu_seconds_total is (rate() needs the counter type):
  // at each scrape it goes up by the CPU time used since the last one.
  let counted = 0;
  new Counter({
    name: 'process_cpu_seconds_total',
    help: 'User + system CPU time of this process, seconds',
    registers: [registry],
    collect() {
      const u = process.cpuUsage();
      const total = (u.user + u.system) / 1e6;
      if (total > counted) this.inc(total - counted);
      counted = total;
    },
  });
  g('floodgate_process_uptime_seconds', 'Seconds since start', () => (Date.now() - started) / 1000);
}

/** Get-or-create, so two services sharing a registry can ask for the same metric safely. */
export function counter(registry: Registry, name: string, help: string, labelNames: string[] = []): Counter<string> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Counter<string>;
  return new Counter({ name, help, labelNames, registers: [registry] });
}

/** `collect` runs at each scrape (a gauge read from a store rather than kept up to date). */
export function gauge(registry: Registry, name: string, help: string, labelNames: string[] = [], collect?: (this: Gauge<string>) => void | Promise<void>): Gauge<string> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Gauge<string>;
  return new Gauge({ name, help, labelNames, registers: [registry], ...(collect ? { collect } : {}) });
}

export function histogram(registry: Registry, name: string, help: string, buckets: number[], labelNames: string[] = []): Histogram<string> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Histogram<string>;
  return new Histogram({ name, help, buckets, labelNames, registers: [registry] });
}
