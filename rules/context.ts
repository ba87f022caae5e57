/**
 * What the engine sees of the registry and the rules file (the engine context), and an engine
 * transition as the alert event the rules service publishes. Pure; shared by the service, the
 * backtest, `sim --predict` and the benchmarks.
 */
import { AlertEvent } from '../contracts/index.ts';
import { indexRegistry, type Registry } from '../config/registry.ts';
import { isoWithOffset } from '../lib/time.ts';
import type { EngineContext, SensorInfo, Transition } from './engine.ts';
import type { LoadedRules } from './load.ts';
import { nearOf, NOBODY, type Near } from './corroboration.ts';

export function engineContext(registry: Registry, rules: LoadedRules): EngineContext {
  const index = indexRegistry(registry);
  const sensors = new Map<string, SensorInfo>();
  for (const s of registry.sensors) {
    const site = index.site(s.site);
    // Load-test devices (floodgate sim load) exercise the gateway and ingest, never the alerts.
    if (site && !s.loadTest) sensors.set(s.id, { id: s.id, kind: s.kind, siteId: site.id, district: site.district });
  }
  // Rain gauges and ponding sensors per site, for corroboration (the alerting ones only).
  const bySite = new Map<string, { rain: string[]; ponding: string[] }>();
  for (const s of sensors.values()) {
    if (s.kind !== 'rain' && s.kind !== 'ponding') continue;
    const at = bySite.get(s.siteId) ?? { rain: [], ponding: [] };
    bySite.set(s.siteId, at);
    at[s.kind].push(s.id);
  }
  const sensorsAt = (siteId: string, kind: 'rain' | 'ponding') => bySite.get(siteId)?.[kind] ?? [];
  const placed = registry.sites.filter((s) => bySite.has(s.id));
  // Worked out on a site's first reading that needs it, then kept: a city's 1,200 sites against
  // each other is a million distances, not worth paying at every rules reload.
  const near = new Map<string, Near>();
  return {
    sensor: (id) => sensors.get(id),
    rules: (id) => rules.sites.get(id),
    districtMinGauges: rules.file.defaults.rain.districtMinGauges,
    near(siteId) {
      let n = near.get(siteId);
      if (!n) {
        const site = index.site(siteId);
        const r = rules.sites.get(siteId);
        n = site && r ? nearOf(site, placed, sensorsAt, r.corroboration) : NOBODY;
        near.set(siteId, n);
      }
      return n;
    },
  };
}

export function toAlertEvent(t: Transition, now: number): AlertEvent {
  return AlertEvent.parse({
    alertId: t.alertId,
    ruleId: t.ruleId,
    subjectId: t.subjectId,
    sensorId: t.sensorId,
    state: t.state,
    severity: t.severity,
    ...(t.level ? { level: t.level } : {}),
    value: t.value,
    threshold: t.threshold,
    unit: t.unit,
    observedAt: isoWithOffset(t.ts),
    changedAt: isoWithOffset(now),
    reason: t.reason,
    ...(t.why ? { why: t.why } : {}),
  });
}
