/**
 * While the InfluxDB endpoint is down, ingest keeps accepting readings into its spool and retries
 * the store; every one of them arrives once the endpoint is back (a real VictoriaMetrics started
 * late on the configured port), and the spool empties.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, startVictoriaMetrics, type VictoriaMetrics } from '../../test/helpers/servers.ts';
import { eventually, startStack, type Stack, RECENT_HOUR } from '../../test/helpers/stack.ts';

describe('ingest during an InfluxDB outage', () => {
  let stack: Stack | undefined;
  let vm: VictoriaMetrics | undefined;
  afterAll(async () => {
    await stack?.close();
    await vm?.stop();
  });

  it('loses nothing: readings published while the store is down are written when it returns', { timeout: 90_000 }, async () => {
    const port = await freePort();
    stack = await startStack({ influx: { url: `http://127.0.0.1:${port}`, token: 't', org: 'o', bucket: 'b', timeoutMs: 2000 } });
    const dev = await stack.device('PD-001');
    const t0 = RECENT_HOUR;
    for (let i = 0; i < 20; i++) {
      await dev.publishAsync('sensors/ponding/PD-001/reading', JSON.stringify({ ts: t0 + i * 60_000, seq: i, depth_cm: i }), { qos: 1 });
    }
    // The store is down: ingest keeps accepting into its spool and retries the store.
    await eventually(async () => /floodgate_ingest_write_retries_total\{sink="influxdb",reason="network"\} ([3-9]|\d\d+)/.test(await stack!.metrics.metrics()), 'three failed writes');
    // (the device's publish resolves at the gateway's PUBACK; ingest admits right after)
    await eventually(() => stack!.ingest.spool.stats(Date.now()).rows === 20, 'all 20 readings in the spool');
    expect(await stack.metrics.metrics()).toMatch(/floodgate_ingest_readings_total\{kind="ponding",result="accepted"\} 20/);
    expect(await stack.metrics.metrics()).toMatch(/floodgate_ingest_store_up\{sink="influxdb"\} 0/);

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
    await eventually(() => stack!.ingest.spool.stats(Date.now()).rows === 0, 'an empty spool');
  });
});
