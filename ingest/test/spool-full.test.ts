/**
 * A store outage long enough to fill the spool: ingest stops acknowledging (the broker keeps the
 * rest), the duty officers get an alert, and when the store returns everything drains, ingest
 * accepts again and every reading is in the store once. The spool's database file does not shrink
 * after the drain (SQLite reuses pages, it never gives them back): the bound must go by what is
 * waiting, or ingest would stay "full" with nothing left to drain.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, startVictoriaMetrics, type VictoriaMetrics } from '../../test/helpers/servers.ts';
import { eventually, startStack, type Stack, RECENT_HOUR } from '../../test/helpers/stack.ts';

const MAX_BYTES = 64 * 1024;

describe('a full spool', () => {
  let stack: Stack | undefined;
  let vm: VictoriaMetrics | undefined;
  afterAll(async () => {
    await stack?.close();
    await vm?.stop();
  });

  it('holds delivery at its bound, raises an alert, and drains everything once the store is back', { timeout: 120_000 }, async () => {
    const port = await freePort();
    stack = await startStack({ influx: { url: `http://127.0.0.1:${port}`, token: 't', org: 'o', bucket: 'b', timeoutMs: 1000 }, ingest: { spoolMaxBytes: MAX_BYTES } });
    const s = stack;
    const auth = { authorization: `Bearer ${s.apiToken}` };
    const metric = async (re: RegExp) => Number(re.exec(await s.metrics.metrics())?.[1] ?? NaN);
    const dev = await s.device('PD-001');
    // Messages of 200 readings (~18 KB of spool each): 8 fill the 64 KiB spool, 4 more must wait.
    const batch = (k: number) => JSON.stringify(Array.from({ length: 200 }, (_, i) => ({ ts: RECENT_HOUR + (k * 200 + i) * 1000, seq: k * 200 + i, depth_cm: ((k * 200 + i) % 400) / 8 })));
    for (let k = 0; k < 8; k++) await dev.publishAsync('sensors/ponding/PD-001/reading', batch(k), { qos: 1 });
    await eventually(() => s.ingest.spool.heldBytes() >= MAX_BYTES, 'a full spool');
    const rowsWhenFull = s.ingest.spool.stats(Date.now()).rows;
    for (let k = 8; k < 12; k++) await dev.publishAsync('sensors/ponding/PD-001/reading', batch(k), { qos: 1 });

    // Full: admission waits, the rest stays with the broker, nothing is refused.
    await eventually(async () => (await metric(/floodgate_ingest_spool_full_waits_total (\d+)/)) > 0, 'admission waiting for room');
    expect(s.ingest.spool.stats(Date.now()).rows).toBe(rowsWhenFull);
    expect(await metric(/floodgate_ingest_rejected_total\{[^}]*\} (\d+)/)).toBeNaN(); // no rejects at all
    const alert = await eventually(async () => {
      const res = await s.alerts.app.inject({ url: '/api/alerts?rule=ingest-spool&state=firing', headers: auth });
      return (res.json().alerts as Array<{ alertId: string; severity: string; level: string }>).find((a) => a.level === 'red');
    }, 'the duty officers told the spool is full');
    expect(alert.severity).toBe('critical');

    // The store comes back: everything drains, ingest takes the rest from the broker.
    vm = await startVictoriaMetrics({ port });
    await eventually(async () => (await vm!.export('ponding_depth_cm'))[0]?.values.length === 2400, 'all 2,400 readings in VictoriaMetrics', 90_000);
    await eventually(() => s.ingest.spool.stats(Date.now()).rows === 0, 'an empty spool');
    const after = s.ingest.spool.stats(Date.now());
    expect(after.bytes).toBe(0);
    expect(after.fileBytes).toBeGreaterThanOrEqual(MAX_BYTES); // the file kept its size: the bound must not go by it
    await eventually(async () => {
      const res = await s.alerts.app.inject({ url: `/api/alerts/${encodeURIComponent(alert.alertId)}`, headers: auth });
      return res.json().alert.state === 'resolved';
    }, 'the alert resolved');

    // And ingest accepts again.
    await dev.publishAsync('sensors/ponding/PD-001/reading', JSON.stringify({ ts: RECENT_HOUR + 2_400_000, seq: 2400, depth_cm: 1 }), { qos: 1 });
    const series = await eventually(async () => {
      const x = (await vm!.export('ponding_depth_cm'))[0];
      return x && x.values.length === 2401 ? x : undefined;
    }, 'the reading after the outage');
    // Each reading once, in time order, with its own value.
    expect(series.timestamps).toEqual(Array.from({ length: 2401 }, (_, i) => RECENT_HOUR + i * 1000));
    expect(series.values.slice(0, 2400)).toEqual(Array.from({ length: 2400 }, (_, i) => (i % 400) / 8));
    await dev.endAsync();
  });
});
