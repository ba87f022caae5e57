/**
 * The registry changes while the alerts service runs (as `floodgate up` and the alerts process
 * follow the file): a closure the rules raise for an underpass added since reaches its police, and
 * the sensor board shows the new sensor without forgetting what it has heard from the others.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt, { type MqttClient } from 'mqtt';
import { eventually, smallCity, startStack, type Stack } from '../../test/helpers/stack.ts';
import type { AlertEvent } from '../../contracts/index.ts';
import type { Registry } from '../../config/registry.ts';

describe('alerts service: registry reload', () => {
  let stack: Stack;
  let rules: MqttClient;
  let full: Registry;
  let added: { sensor: string; site: string };
  const auth = () => ({ authorization: `Bearer ${stack.apiToken}` });

  beforeAll(async () => {
    const city = await smallCity(5);
    full = city.registry;
    const pd = full.sensors.filter((s) => s.kind === 'ponding').at(-1)!;
    added = { sensor: pd.id, site: pd.site };
    // Started without the last underpass and its sensor: they are "installed" later.
    const before: Registry = { ...full, sites: full.sites.filter((s) => s.id !== pd.site), sensors: full.sensors.filter((s) => s.id !== pd.id) };
    stack = await startStack({ city: { registry: before, provisioning: city.provisioning } });
    rules = await mqtt.connectAsync(stack.mqttUrl, { protocolVersion: 4, clientId: 'test-rules-reload', username: 'svc-rules', password: stack.provisioning.serviceSecret });
  });
  afterAll(async () => {
    await rules?.endAsync();
    await stack?.close();
  });

  const closure = (alertId: string, subjectId: string, sensorId: string): AlertEvent => ({
    alertId,
    ruleId: 'underpass-closure',
    subjectId,
    sensorId,
    state: 'firing',
    severity: 'critical',
    value: 31,
    threshold: 25,
    unit: 'cm',
    observedAt: '2026-07-01T10:00:00+08:00',
    changedAt: new Date().toISOString(),
    reason: 'test',
  });
  const send = (e: AlertEvent) => rules.publishAsync(`floodgate/alerts/${e.ruleId}/${e.subjectId}`, JSON.stringify(e), { qos: 1 });
  const sensors = async (q: string) => ((await stack.alerts.app.inject({ url: `/api/sensors?q=${q}`, headers: auth() })).json() as { sensors: Array<{ id: string; value: number | null }> }).sensors;

  it('addresses notices for an underpass added to the registry, and shows its sensor', async () => {
    const known = full.sensors.find((s) => s.kind === 'ponding')!;
    const dev = await stack.device(known.id);
    await dev.publishAsync(`sensors/ponding/${known.id}/reading`, JSON.stringify({ ts: Date.now(), depth_cm: 7 }), { qos: 1 });
    await eventually(async () => (await sensors(known.id))[0]?.value === 7, 'the board has the reading');
    await dev.endAsync();

    // Before: the alert is kept, but there is no underpass to address a notice to.
    await send(closure('underpass-closure:before:1', added.site, added.sensor));
    await eventually(async () => {
      const res = await stack.alerts.app.inject({ url: '/api/alerts?state=firing', headers: auth() });
      return (res.json().alerts as Array<{ alertId: string }>).some((a) => a.alertId === 'underpass-closure:before:1');
    }, 'the alert stored');
    expect(await sensors(added.sensor)).toEqual([]);

    stack.alerts.updateRegistry(full);

    await send(closure('underpass-closure:after:1', added.site, added.sensor));
    const notice = await eventually(() => stack.receiver.received.find((r) => r.notice.alertId === 'underpass-closure:after:1'), 'the close notice for the new underpass');
    expect(notice.notice).toMatchObject({ action: 'close', underpass: { id: added.site, district: full.sites.find((s) => s.id === added.site)!.district } });
    expect(stack.receiver.received.filter((r) => r.notice.alertId === 'underpass-closure:before:1')).toEqual([]);
    expect((await sensors(added.sensor)).map((s) => s.id)).toEqual([added.sensor]);
    expect((await sensors(known.id))[0]?.value).toBe(7); // what the board had heard is kept
  });
});
