/** A silence "until resolved" ends when its alert resolves, in the same transaction; it needs a firing alert. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { startStack, type Stack } from '../../test/helpers/stack.ts';

describe('silence until resolved', () => {
  let stack: Stack;
  let rules: MqttClient;
  beforeAll(async () => {
    stack = await startStack();
    rules = await stack.asRules();
  });
  afterAll(() => stack?.close());
  const auth = () => ({ authorization: `Bearer ${stack.apiToken}` });
  const event = (state: 'firing' | 'resolved') =>
    rules.publishAsync('floodgate/alerts/underpass-warning/UP-001', JSON.stringify({ alertId: 'underpass-warning:UP-001:1', ruleId: 'underpass-warning', subjectId: 'UP-001', sensorId: 'PD-001', state, severity: 'warning', value: 16, threshold: 15, unit: 'cm', observedAt: '2026-07-01T18:03:00+08:00', changedAt: '2026-07-01T18:03:01+08:00', reason: 'x' }), { qos: 1, retain: true });

  it('ends with the alert, not at its 7-day bound; an alert that is not firing is a 409', async () => {
    const early = await stack.alerts.app.inject({ method: 'POST', url: '/api/silences', headers: auth(), payload: { sensor: 'PD-001', ruleId: 'underpass-warning', minutes: 10080, reason: 'crew on site', alertId: 'underpass-warning:UP-001:1' } });
    expect(early.statusCode).toBe(409);
    expect(early.json().error.code).toBe('NOT_FIRING');
    await event('firing');
    await expect.poll(() => stack.alerts.store.getAlert('underpass-warning:UP-001:1')?.state).toBe('firing');
    const res = await stack.alerts.app.inject({ method: 'POST', url: '/api/silences', headers: auth(), payload: { sensor: 'PD-001', ruleId: 'underpass-warning', minutes: 10080, reason: 'crew on site', alertId: 'underpass-warning:UP-001:1' } });
    expect(res.statusCode).toBe(201);
    expect(res.json().silence).toMatchObject({ alertId: 'underpass-warning:UP-001:1', endedAt: null });
    expect(stack.alerts.store.activeSilences(Date.now())).toHaveLength(1);
    await event('resolved');
    await expect.poll(() => stack.alerts.store.activeSilences(Date.now()).length).toBe(0);
    expect(stack.alerts.store.recentSilences(1)[0]!.endedAt).not.toBeNull();
  });
});
