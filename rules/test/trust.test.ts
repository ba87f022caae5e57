/**
 * Issue 22, end to end: a ponding sensor whose baseline moved while no rain fell near it is judged
 * suspect (a data-quality alert; its readings close nothing), and an officer who knows the water
 * is real (a burst main) trusts its readings through the API — the override travels to the rules
 * (retained on floodgate/overrides/{sensor}), the alert resolves, and the next rise closes the road.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { eventually, RECENT_HOUR, smallCity, startStack, type Stack } from '../../test/helpers/stack.ts';

const MIN = 60_000;

describe('an officer trusts a suspect sensor\'s readings', { timeout: 90_000 }, () => {
  let stack: Stack | undefined;
  afterEach(async () => {
    await stack?.close();
    stack = undefined;
  });

  async function publish(dev: MqttClient, topic: string, readings: object[]) {
    for (let i = 0; i < readings.length; i += 200) await dev.publishAsync(topic, JSON.stringify(readings.slice(i, i + 200)), { qos: 1 });
  }

  it('baseline shift → suspect, no closure; trusted → the alert resolves and the rise closes the road', async () => {
    let gauge = '';
    const city = await smallCity(5, (c) => {
      // A rain gauge at the underpass itself: it speaks for its rain.
      const up = c.sites.find((s) => s.id === 'UP-001')!;
      const rg = c.sensors.find((s) => s.kind === 'rain')!;
      gauge = rg.id;
      Object.assign(c.sites.find((s) => s.id === rg.site)!, { lat: up.lat, lon: up.lon, district: up.district });
    });
    stack = await startStack({ city });
    const s = stack;
    const pd = await s.device('PD-001');
    const rg = await s.device(gauge);

    // Seven dry hours at the gauge, then the underpass: dry, and from minute 10 on 16–17 cm.
    await publish(rg, `sensors/rain/${gauge}/reading`, Array.from({ length: 110 }, (_, i) => ({ ts: RECENT_HOUR + (i * 5 - 420) * MIN, rain_mm: 0, interval_s: 300 })));
    const shifted = (m: number) => Math.round((16 + Math.sin(m / 9)) * 10) / 10;
    await publish(pd, 'sensors/ponding/PD-001/reading', Array.from({ length: 45 }, (_, m) => ({ ts: RECENT_HOUR + m * MIN, seq: m, depth_cm: m < 10 ? 1 : shifted(m) })));
    const suspect = await eventually(async () => (await s.alerts.store.listAlerts({ limit: 50 })).find((a) => a.ruleId === 'sensor-data-quality' && a.sensorId === 'PD-001' && a.state === 'firing' && a.why?.key === 'quality.baseline-shift'), 'the baseline-shift alert');
    expect(suspect.reason).toMatch(/^sensor suspect, baseline shift: .* while the rain gauges near measured 0 mm in 6 h/);

    // Suspect: readings above 25 cm close nothing.
    await publish(pd, 'sensors/ponding/PD-001/reading', [45, 46, 47, 48, 49].map((m) => ({ ts: RECENT_HOUR + m * MIN, seq: m, depth_cm: 26 + (m % 2) * 0.3 })));
    await eventually(async () => s.rules.state('PD-001')?.lastTs === RECENT_HOUR + 49 * MIN, 'the readings evaluated');
    expect(s.rules.state('PD-001')?.closure?.phase ?? 'normal').toBe('normal');

    const api = (path: string, body: object) => s.alerts.app.inject({ method: 'POST', url: path, headers: { authorization: `Bearer ${s.apiToken}` }, payload: body });
    const wrong = await api(`/api/alerts/${encodeURIComponent('underpass-warning:UP-001:1')}/trust`, { note: 'x' });
    expect(wrong.statusCode).toBe(404);
    const trusted = await api(`/api/alerts/${encodeURIComponent(suspect.alertId)}/trust`, { note: '现场确认：水管爆裂 burst main, the water is real' });
    expect(trusted.statusCode, trusted.body).toBe(202);
    const resolved = await eventually(async () => {
      const a = await s.alerts.store.getAlert(suspect.alertId);
      return a?.state === 'resolved' ? a : undefined;
    }, 'the alert resolved by the rules');
    expect(resolved.reason).toBe('readings trusted by admin: 现场确认：水管爆裂 burst main, the water is real'); // the API token's user
    expect(resolved.why?.key).toBe('quality.trusted');
    // A second request for the same alert: it is not suspect any more.
    expect((await api(`/api/alerts/${encodeURIComponent(suspect.alertId)}/trust`, { note: 'again' })).statusCode).toBe(409);

    // Trusted: the water rises and the road closes.
    await publish(pd, 'sensors/ponding/PD-001/reading', [50, 51, 52, 53, 54].map((m) => ({ ts: RECENT_HOUR + m * MIN, seq: m, depth_cm: 27 + m - 50 })));
    await eventually(async () => s.receiver.received.some((r) => r.notice.underpass.id === 'UP-001' && r.notice.action === 'close'), 'the close notice');
  });
});
