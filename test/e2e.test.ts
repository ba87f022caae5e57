/**
 * Acceptance of the walking skeleton: one storm, end to end, on real parts. Gateway, ingest
 * (writing through @influxdata/influxdb-client to a real VictoriaMetrics), rules, alerts and a
 * police receiver on free ports; the underpass-storm scenario as real MQTT devices.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startVictoriaMetrics, type VictoriaMetrics } from './helpers/servers.ts';
import { eventually, smallCity, startStack, testLogger, type Stack } from './helpers/stack.ts';
import { runUnderpassStorm, type StormSummary } from '../simulators/underpass-storm.ts';
import { systemClock } from '../lib/clock.ts';
import { verifyNotice } from '../contracts/index.ts';

describe('underpass storm, end to end', () => {
  let vm: VictoriaMetrics;
  let stack: Stack;
  let summary: StormSummary;

  beforeAll(async () => {
    vm = await startVictoriaMetrics();
    // A site name with a space, a comma, '=' and Chinese, to travel the whole path.
    const city = await smallCity(4, (c) => {
      const up = c.sites.find((s) => s.id === 'UP-002')!;
      up.name = '中山北路, 共和新路 =下立交';
    });
    stack = await startStack({ city, influx: { url: vm.url, token: 'vm-ignores-it', org: 'floodgate', bucket: 'readings', timeoutMs: 5000 } });
    summary = await runUnderpassStorm(
      { mqttUrl: stack.mqttUrl, sensors: 4, stepMs: 0, seed: 11 },
      { registry: stack.registry, provisioning: stack.provisioning, clock: systemClock, logger: testLogger },
    );
  });
  afterAll(async () => {
    await stack?.close();
    await vm?.stop();
  });

  it('drove every sensor across 25 cm', () => {
    expect(summary.sensors).toEqual(['PD-001', 'PD-002', 'PD-003', 'PD-004']);
    expect(summary.crossed).toBe(4);
    expect(summary.published).toBe(4 * 90);
  });

  it('stored every published reading in VictoriaMetrics with the right tags and timestamps', async () => {
    const series = await eventually(async () => {
      const s = await vm.export('ponding_depth_cm');
      const n = s.reduce((a, x) => a + x.values.length, 0);
      return n >= summary.published ? s : undefined;
    }, 'all readings in VictoriaMetrics');
    expect(series).toHaveLength(4);
    for (const s of series) {
      const sensorId = s.metric['sensor']!;
      const site = stack.registry.sites.find((x) => x.id === stack.registry.sensors.find((y) => y.id === sensorId)!.site)!;
      expect(s.metric).toEqual({ __name__: 'ponding_depth_cm', sensor: sensorId, site: site.name, district: site.district });
      const published = summary.readings.filter((r) => r.sensorId === sensorId);
      const stored = s.timestamps.map((ts, i) => ({ ts, depth: s.values[i] }));
      expect(stored).toEqual(published.map((r) => ({ ts: r.ts, depth: r.depth_cm })));
    }
    expect(series.find((s) => s.metric['sensor'] === 'PD-002')!.metric['site']).toBe('中山北路, 共和新路 =下立交');
    expect(await vm.metric('vm_rows_invalid_total')).toBe(0);
  });

  it('delivered exactly one close and one reopen per underpass, signed, close first', async () => {
    await eventually(() => stack.receiver.received.length >= 8, '8 notices at the receiver');
    // Give a duplicate (if the system sent one) the chance to show up before counting.
    await new Promise((r) => setTimeout(r, 500));
    const received = stack.receiver.received;
    expect(received.filter((r) => r.duplicate)).toEqual([]);
    expect(stack.receiver.refused).toEqual([]);
    for (const up of ['UP-001', 'UP-002', 'UP-003', 'UP-004']) {
      const mine = received.filter((r) => r.notice.underpass.id === up);
      expect(mine.map((r) => r.notice.action)).toEqual(['close', 'reopen']);
      const [close, reopen] = mine as [(typeof mine)[0], (typeof mine)[0]];
      expect(close.notice.alertId).toBe(reopen.notice.alertId);
      // Closed above 25 cm, or on the forecast of the rise before the water got there (issue 22).
      if (close.notice.depthCm <= 25) expect(close.notice.reason).toMatch(/^forecast to reach 25 cm in [\d.]+ min/);
      expect(close.notice.depthCm).toBeGreaterThanOrEqual(15);
      expect(close.notice.thresholdCm).toBe(25);
      expect(reopen.notice.depthCm).toBeLessThan(15);
      expect(Date.parse(close.notice.observedAt)).toBeLessThan(Date.parse(reopen.notice.observedAt));
      for (const r of mine) expect(r.headers.idempotencyKey).toBe(r.notice.noticeId);
    }
  });

  it('signed each notice so that the receiver verifies it with the shared secret, and only with it', () => {
    for (const r of stack.receiver.received) {
      const args = { timestampHeader: r.headers.timestamp, signatureHeader: r.headers.signature, body: r.body, nowMs: Date.parse(r.receivedAt) };
      expect(verifyNotice({ ...args, secret: stack.policeSecret })).toEqual({ ok: true });
      expect(verifyNotice({ ...args, secret: 'not-the-secret' })).toEqual({ ok: false, reason: 'signature mismatch' });
    }
  });

  it('lists the alerts and notices over the API, and lets a duty officer acknowledge', async () => {
    const auth = { authorization: `Bearer ${stack.apiToken}` };
    const list = await stack.alerts.app.inject({ method: 'GET', url: '/api/alerts', headers: auth });
    expect(list.statusCode).toBe(200);
    const all = list.json().alerts as Array<{ alertId: string; ruleId: string; subjectId: string; state: string; ackedAt: string | null }>;
    // Each underpass went through the warning stage, then closed; the storm's vehicle spikes on a
    // dry road were flagged, never alerted.
    const byRule = (rule: string) => all.filter((a) => a.ruleId === rule).map((a) => a.subjectId).sort();
    expect(byRule('underpass-closure')).toEqual(['UP-001', 'UP-002', 'UP-003', 'UP-004']);
    expect(byRule('underpass-warning')).toEqual(['UP-001', 'UP-002', 'UP-003', 'UP-004']);
    expect(all.filter((a) => !['underpass-closure', 'underpass-warning'].includes(a.ruleId))).toEqual([]);
    const alerts = all.filter((a) => a.ruleId === 'underpass-closure');
    expect(all.every((a) => a.state === 'resolved' && a.ackedAt === null)).toBe(true);

    const id = alerts[0]!.alertId;
    const ack = await stack.alerts.app.inject({ method: 'POST', url: `/api/alerts/${encodeURIComponent(id)}/ack`, headers: auth, payload: { by: 'duty officer Wang', note: 'police confirmed' } });
    expect(ack.statusCode).toBe(200);
    expect(ack.json()).toMatchObject({ alreadyAcknowledged: false, alert: { alertId: id, ackedBy: 'duty officer Wang', ackNote: 'police confirmed' } });
    const again = await stack.alerts.app.inject({ method: 'POST', url: `/api/alerts/${encodeURIComponent(id)}/ack`, headers: auth, payload: { by: 'someone else' } });
    expect(again.json()).toMatchObject({ alreadyAcknowledged: true, alert: { ackedBy: 'duty officer Wang' } });

    const notices = await stack.alerts.app.inject({ method: 'GET', url: '/api/notices?status=delivered', headers: auth });
    expect(notices.json().notices).toHaveLength(8);
  });
});
