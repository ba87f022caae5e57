/**
 * `GET /api/sensors/:id/readings` on real stores: readings sent by a real device through the
 * gateway and ingest into the embedded store come back in buckets; the same readings written to a
 * real InfluxDB 1.x (Debian influxdb) come back the same through InfluxQL on /query, sent by the
 * official client's transport.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../../test/helpers/stack.ts';
import { startInfluxDB1, type InfluxDB1 } from '../../test/helpers/servers.ts';
import { lineOf } from '../../ingest/line-protocol.ts';
import { MEASUREMENT } from '../../contracts/index.ts';
import { influxReadings } from '../readings.ts';

const MIN = 60_000;
// Three hours of readings ending at the top of a minute, as a device sends them.
const END = Math.floor(Date.now() / MIN) * MIN;
const ponding = Array.from({ length: 180 }, (_, i) => ({ ts: END - (180 - i) * MIN, seq: i, depth_cm: Math.round(20 + 10 * Math.sin(i / 20)) }));
const rain = Array.from({ length: 36 }, (_, i) => ({ ts: END - (36 - i) * 5 * MIN, seq: i, rain_mm: i % 3 === 0 ? 1.5 : 0.5, interval_s: 300 }));

describe('readings API', () => {
  let stack: Stack;
  let influx: InfluxDB1;
  let auth: Record<string, string>;
  beforeAll(async () => {
    [stack, influx] = await Promise.all([startStack(), startInfluxDB1()]);
    auth = { authorization: `Bearer ${stack.apiToken}` };
    for (const [id, kind, list] of [['PD-001', 'ponding', ponding], ['RG-001', 'rain', rain]] as const) {
      const dev = await stack.device(id);
      // Store-and-forward batches (a JSON array): under the gateway's per-device rate limit.
      for (let i = 0; i < list.length; i += 30) await dev.publishAsync(`sensors/${kind}/${id}/reading`, JSON.stringify(list.slice(i, i + 30)), { qos: 1 });
      await dev.endAsync();
    }
    await influx.query('', 'CREATE DATABASE floodgate');
    const lines = [
      ...ponding.map((r) => lineOf(MEASUREMENT.ponding, { sensor: 'PD-001', site: 'UP-001', district: 'huangpu' }, { depth_cm: r.depth_cm }, r.seq, r.ts)),
      ...rain.map((r) => lineOf(MEASUREMENT.rain, { sensor: 'RG-001', site: 'RS-001', district: 'huangpu' }, { rain_mm: r.rain_mm, interval_s: 300 }, r.seq, r.ts)),
    ];
    const w = await influx.write('floodgate', lines.join('\n'), 'ms');
    expect(w.status).toBe(204);
  });
  afterAll(async () => {
    await stack?.close();
    await influx?.stop();
  });

  const get = (url: string) => stack.alerts.app.inject({ url, headers: auth });

  it('a ponding sensor: 6 h in minute buckets from the embedded store, with its reference levels', async () => {
    // ingest writes asynchronously: wait until every reading is in the store.
    await expect.poll(async () => (await get('/api/sensors/PD-001/readings?range=6h')).json().points.length, { timeout: 30_000 }).toBe(180);
    const body = (await get('/api/sensors/PD-001/readings?range=6h')).json();
    expect(body).toMatchObject({ sensor: { id: 'PD-001', kind: 'ponding', unit: 'cm', field: 'depth_cm' }, stepS: 60, aggregate: 'max' });
    expect(body.points[0]).toEqual([ponding[0]!.ts, ponding[0]!.depth_cm]);
    expect(body.thresholds.map((t: { name: string }) => t.name)).toEqual(['warn', 'close', 'reopen']);
    expect(body.from).toMatch(/\+08:00$/);
    // 24 h: 4-minute buckets, each the highest of its readings.
    const day = (await get('/api/sensors/PD-001/readings?range=24h')).json();
    expect(day.stepS).toBe(240);
    expect(Math.max(...day.points.map((p: number[]) => p[1]))).toBe(Math.max(...ponding.map((r) => r.depth_cm)));
  });

  it('a rain gauge: summed buckets and the 1 h / 6 h totals', async () => {
    const url = `/api/sensors/RG-001/readings?to=${encodeURIComponent(new Date(END + MIN).toISOString())}`;
    await expect.poll(async () => (await get(url)).json().points.length, { timeout: 30_000 }).toBe(36);
    const body = (await get(url)).json();
    const sum = (ms: number) => Math.round(rain.filter((r) => r.ts > END - ms).reduce((a, r) => a + r.rain_mm, 0) * 10) / 10;
    expect(body.totals).toEqual({ h1: sum(3600_000), h6: sum(6 * 3600_000) });
  });

  it('InfluxDB 1.x gives the same series as the embedded store', async () => {
    const src = influxReadings({ url: influx.url, token: 'unused-by-1.x', bucket: 'floodgate', timeoutMs: 5000 });
    for (const [id, kind] of [['PD-001', 'ponding'], ['RG-001', 'rain']] as const) {
      for (const range of ['6h', '24h'] as const) {
        const embedded = (await get(`/api/sensors/${id}/readings?range=${range}&to=${encodeURIComponent(new Date(END + MIN).toISOString())}`)).json();
        const fromInflux = await src.series({ sensorId: id, kind, fromMs: Date.parse(embedded.from), toMs: Date.parse(embedded.to), stepMs: embedded.stepS * 1000 });
        expect(fromInflux, `${id} ${range}`).toEqual(embedded.points);
      }
    }
    const missing = await influxReadings({ url: influx.url, token: 'x', bucket: 'no-such-db', timeoutMs: 5000 }).series({ sensorId: 'PD-001', kind: 'ponding', fromMs: 0, toMs: 1, stepMs: 60_000 }).catch((e: Error) => e.message);
    expect(missing).toContain('database not found');
  });

  it('an unknown sensor is a 404; a bad range a 400', async () => {
    expect((await get('/api/sensors/NOPE/readings')).json()).toMatchObject({ error: { code: 'NOT_FOUND' } });
    expect((await get('/api/sensors/PD-001/readings?range=1y')).statusCode).toBe(400);
  });
});
