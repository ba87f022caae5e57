/**
 * What operators graph, on a real stack: firing alerts by rule and district, closed underpasses,
 * the outbox backlog and its oldest age, notice delivery latency, reading → alert lag.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { startStack, type Stack } from '../../test/helpers/stack.ts';
import { isoWithOffset } from '../../lib/time.ts';
import { createMetricsRegistry } from '../../lib/metrics.ts';

describe('alerts metrics', () => {
  let stack: Stack;
  let rules: MqttClient;
  beforeAll(async () => {
    stack = await startStack();
    rules = await stack.asRules();
  });
  afterAll(async () => {
    await rules?.endAsync();
    await stack?.close();
  });
  const scrape = async () => (await stack.alerts.app.inject({ url: '/metrics', headers: { authorization: `Bearer ${stack.apiToken}` } })).body;

  it('counts what is firing where, what waits in the outbox, and how long things took', async () => {
    const observed = Date.now() - 2000;
    for (const [id, subject] of [['underpass-closure:UP-001:1', 'UP-001'], ['underpass-closure:UP-002:1', 'UP-002']] as const) {
      await rules.publishAsync(`floodgate/alerts/underpass-closure/${subject}`, JSON.stringify({ alertId: id, ruleId: 'underpass-closure', subjectId: subject, sensorId: subject.replace('UP', 'PD'), state: 'firing', severity: 'critical', value: 31, threshold: 25, unit: 'cm', observedAt: isoWithOffset(observed), changedAt: isoWithOffset(observed), reason: 'x' }), { qos: 1 });
    }
    await expect.poll(() => stack.receiver.received.length, { timeout: 30_000 }).toBe(2);
    await expect.poll(scrape, { timeout: 10_000 }).toContain('floodgate_outbox_backlog 0');
    const text = await scrape();
    const district = stack.registry.sites.find((s) => s.id === 'UP-001')!.district;
    const same = stack.registry.sites.find((s) => s.id === 'UP-002')!.district === district;
    expect(text).toContain(`floodgate_alerts_firing{rule="underpass-closure",district="${district}"} ${same ? 2 : 1}`);
    expect(text).toContain('floodgate_underpasses_closed 2');
    expect(text).toContain('floodgate_outbox_oldest_age_seconds 0');
    expect(text).toContain('floodgate_notice_delivery_seconds_count{recipient="police"} 2');
    expect(text).toMatch(/floodgate_reading_to_alert_seconds_bucket\{le="1",rule="underpass-closure"\} 0\n/); // 2 s late by their sensor time
    expect(text).toContain('floodgate_reading_to_alert_seconds_count{rule="underpass-closure"} 2');
  });

  it('process CPU time is a counter, as Prometheus names it', async () => {
    const text = await createMetricsRegistry({ defaults: true }).metrics();
    expect(text).toContain('# TYPE process_cpu_seconds_total counter');
    expect(Number(/^process_cpu_seconds_total (\S+)$/m.exec(text)?.[1])).toBeGreaterThan(0);
  });
});
