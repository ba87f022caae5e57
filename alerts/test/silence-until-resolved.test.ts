/**
 * A silence "until resolved" ends when its alert resolves, in the same transaction; it needs a
 * firing alert. A group is silenced in one request, all or none.
 */
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
    await expect.poll(async () => (await stack.alerts.store.getAlert('underpass-warning:UP-001:1'))?.state).toBe('firing');
    const res = await stack.alerts.app.inject({ method: 'POST', url: '/api/silences', headers: auth(), payload: { sensor: 'PD-001', ruleId: 'underpass-warning', minutes: 10080, reason: 'crew on site', alertId: 'underpass-warning:UP-001:1' } });
    expect(res.statusCode).toBe(201);
    expect(res.json().silence).toMatchObject({ alertId: 'underpass-warning:UP-001:1', endedAt: null });
    expect(await stack.alerts.store.activeSilences(Date.now())).toHaveLength(1);
    await event('resolved');
    await expect.poll(async () => (await stack.alerts.store.activeSilences(Date.now())).length).toBe(0);
    expect((await stack.alerts.store.recentSilences(1))[0]!.endedAt).not.toBeNull();
  });

  it('silences a group in one request, all or none', async () => {
    const [a, b] = stack.registry.districts;
    const scope = (district: string) => ({ ruleId: 'sensor-offline', district, minutes: 120, reason: '通信中断，已报修' });
    const before = (await stack.alerts.store.activeSilences(Date.now())).length;
    // One scope names an alert that is not firing: nothing is created.
    const refused = await stack.alerts.app.inject({ method: 'POST', url: '/api/silences/bulk', headers: auth(), payload: { silences: [scope(a!.id), { ...scope(b!.id), alertId: 'sensor-offline:PD-009:1' }] } });
    expect(refused.statusCode).toBe(409);
    expect(refused.json().error.code).toBe('NOT_FIRING');
    expect(await stack.alerts.store.activeSilences(Date.now())).toHaveLength(before);
    const res = await stack.alerts.app.inject({ method: 'POST', url: '/api/silences/bulk', headers: auth(), payload: { silences: [scope(a!.id), scope(b!.id)] } });
    expect(res.statusCode).toBe(201);
    expect(res.json().silences.map((s: { district: string; ruleId: string }) => `${s.ruleId}@${s.district}`)).toEqual([`sensor-offline@${a!.id}`, `sensor-offline@${b!.id}`]);
    expect(await stack.alerts.store.activeSilences(Date.now())).toHaveLength(before + 2);
    // A scope without sensor, site or district is refused like a single silence.
    const city = await stack.alerts.app.inject({ method: 'POST', url: '/api/silences/bulk', headers: auth(), payload: { silences: [{ minutes: 10, reason: 'everything' }] } });
    expect(city.statusCode).toBe(400);
  });
});
