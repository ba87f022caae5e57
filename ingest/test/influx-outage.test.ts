/**
 * Durable before acknowledged: while the InfluxDB endpoint is down, ingest does not PUBACK, the
 * broker keeps the readings in ingest's persistent session, and every one of them arrives once
 * the endpoint is back (a real VictoriaMetrics started late on the configured port).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, startVictoriaMetrics, type VictoriaMetrics } from '../../test/helpers/servers.ts';
import { eventually, startStack, type Stack } from '../../test/helpers/stack.ts';

describe('ingest during an InfluxDB outage', () => {
  let stack: Stack | undefined;
  let vm: VictoriaMetrics | undefined;
  afterAll(async () => {
    await stack?.close();
    await vm?.stop();
  });

  it('loses nothing: readings published while the store is down are written when it returns', { timeout: 90_000 }, async () => {
    const port = await freePort();
    // Three attempts per message, then ingest drops the connection unacknowledged: the outage
    // below outlasts several such rounds, so the broker's redelivery is what saves the readings.
    stack = await startStack({ influx: { url: `http://127.0.0.1:${port}`, token: 't', org: 'o', bucket: 'b', timeoutMs: 2000 }, writeAttempts: 3 });
    const dev = await stack.device('PD-001');
    const t0 = Date.parse('2026-07-01T10:00:00+08:00');
    for (let i = 0; i < 20; i++) {
      await dev.publishAsync('sensors/ponding/PD-001/reading', JSON.stringify({ ts: t0 + i * 60_000, seq: i, depth_cm: i }), { qos: 1 });
    }
    // The store is down: ingest is retrying and has acknowledged nothing.
    await eventually(async () => /floodgate_ingest_write_errors_total\{sink="influxdb"\} (\d\d+|[7-9])/.test(await stack!.metrics.metrics()), 'three rounds of failed writes');
    expect(await stack.metrics.metrics()).not.toMatch(/floodgate_ingest_readings_total\{kind="ponding",result="accepted"\}/);

    vm = await startVictoriaMetrics({ port });
    const series = await eventually(
      async () => {
        const s = await vm!.export('ponding_depth_cm');
        return s[0] && s[0].values.length === 20 ? s[0] : undefined;
      },
      'all 20 readings in VictoriaMetrics',
      60_000,
    );
    expect(series.timestamps).toEqual(Array.from({ length: 20 }, (_, i) => t0 + i * 60_000));
    expect(series.values).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });
});
