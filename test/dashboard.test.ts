/**
 * The Grafana dashboard (deploy/grafana/dashboards/floodgate.json) graphs metrics that exist: every
 * metric a PromQL query names is served by a running floodgate (or by every service's process
 * metrics), and every InfluxQL query names a measurement and field ingest writes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { startStack, type Stack } from './helpers/stack.ts';
import { createMetricsRegistry } from '../lib/metrics.ts';
import { MAIN_FIELD, MEASUREMENT } from '../contracts/index.ts';

const dashboard = JSON.parse(readFileSync(new URL('../deploy/grafana/dashboards/floodgate.json', import.meta.url), 'utf8')) as { uid: string; panels: Array<{ title: string; targets: Array<{ expr?: string; query?: string; datasource: { uid: string } }> }> };
const provisioned = readFileSync(new URL('../deploy/grafana/provisioning/datasources/floodgate.yml', import.meta.url), 'utf8');

describe('Grafana dashboard', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(() => stack?.close());

  it('every PromQL query names a metric floodgate serves', async () => {
    const served = (await stack.alerts.app.inject({ url: '/metrics', headers: { authorization: `Bearer ${stack.apiToken}` } })).body + (await createMetricsRegistry({ defaults: true }).metrics());
    const types = new Set([...served.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!));
    const exprs = dashboard.panels.flatMap((p) => p.targets.flatMap((t) => (t.expr ? [[p.title, t.expr] as const] : [])));
    expect(exprs.length).toBeGreaterThan(10);
    for (const [title, expr] of exprs) {
      for (const name of expr.match(/\b(?:floodgate|process)_[a-z_]+/g) ?? []) expect(types, `${title}: ${name}`).toContain(name.replace(/_(bucket|count|sum)$/, ''));
    }
  });

  it('every InfluxQL query reads what ingest writes, and every datasource is provisioned', () => {
    const fields = new Set(Object.values(MAIN_FIELD).map((f) => f.field));
    const measurements = new Set(Object.values(MEASUREMENT));
    const queries = dashboard.panels.flatMap((p) => p.targets.flatMap((t) => (t.query ? [t.query] : [])));
    expect(queries.length).toBeGreaterThan(0);
    for (const q of queries) {
      const [, field, measurement] = /SELECT \w+\("(\w+)"\) FROM "(\w+)"/.exec(q) ?? [];
      expect(fields, q).toContain(field);
      expect(measurements, q).toContain(measurement);
    }
    for (const uid of new Set(dashboard.panels.flatMap((p) => p.targets.map((t) => t.datasource.uid)))) expect(provisioned).toContain(`uid: ${uid}`);
  });
});
