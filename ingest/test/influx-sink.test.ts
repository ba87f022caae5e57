/**
 * The InfluxDB sink against a real VictoriaMetrics (v2 write API): the same rows arrive whether the
 * bodies go plain (the default) or gzip-compressed (`INFLUX_GZIP=1`), and a refused write comes
 * back as a classified SinkError.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startVictoriaMetrics, type VictoriaMetrics } from '../../test/helpers/servers.ts';
import { createInfluxSink } from '../influx-sink.ts';
import { SinkError, type SpoolRow } from '../sink.ts';

const T0 = Date.parse('2026-07-01T10:00:00+08:00');

function rows(sensor: string, n: number): SpoolRow[] {
  return Array.from({ length: n }, (_, i) => ({
    id: i + 1,
    measurement: 'ponding',
    sensor,
    ts: T0 + i * 1000,
    site: '中山北路 下立交',
    district: 'jingan',
    values: { depth_cm: i / 4 },
    seq: i,
    receivedAt: T0,
  }));
}

describe('InfluxDB sink', () => {
  let vm: VictoriaMetrics;
  beforeAll(async () => {
    vm = await startVictoriaMetrics();
  });
  afterAll(() => vm?.stop());

  it.each([
    ['plain', false, 'PD-PLAIN'],
    ['gzip', true, 'PD-GZIP'],
  ])('writes every row with %s bodies', async (_name, gzip, sensor) => {
    const sink = createInfluxSink({ url: vm.url, token: 't', org: 'o', bucket: 'b', timeoutMs: 5000, gzip });
    // 2,000 rows: far past the client's 1,000-byte gzip threshold, so gzip really is used when on.
    await sink.write(rows(sensor, 2000));
    await sink.close();
    const series = (await vm.export('ponding_depth_cm')).filter((s) => s.metric['sensor'] === sensor);
    expect(series).toHaveLength(1);
    expect(series[0]!.metric['site']).toBe('中山北路 下立交');
    expect(series[0]!.values).toEqual(rows(sensor, 2000).map((r) => r.values['depth_cm']));
    expect(series[0]!.timestamps).toEqual(rows(sensor, 2000).map((r) => r.ts));
  });

  it('reports a refused endpoint as a network SinkError', async () => {
    const sink = createInfluxSink({ url: 'http://127.0.0.1:1', token: 't', org: 'o', bucket: 'b', timeoutMs: 2000 });
    const err = await sink.write(rows('PD-X', 1)).catch((e: unknown) => e);
    await sink.close();
    expect(err).toBeInstanceOf(SinkError);
    expect((err as SinkError).failure).toMatchObject({ kind: 'network' });
  });

  // 429 and 503 cannot be had from a real store on demand: a real HTTP server answers as InfluxDB
  // does (JSON `message`, Retry-After) and records what it was sent.
  it.each([
    ['204', 204, {}, '', undefined],
    ['400 with the server message', 400, { 'content-type': 'application/json' }, '{"code":"invalid","message":"partial write: field type conflict"}', { kind: 'http', status: 400, message: 'partial write: field type conflict' }],
    ['429 with Retry-After in seconds', 429, { 'retry-after': '2' }, '', { kind: 'http', status: 429, retryAfterMs: 2000 }],
    ['503 with Retry-After as a date', 503, { 'retry-after': new Date(T0 + 3000).toUTCString() }, '', { kind: 'http', status: 503, retryAfterMs: 3000 }],
    ['503', 503, {}, 'busy', { kind: 'http', status: 503, message: 'busy' }],
    ['an unexpected 200', 200, {}, 'ok', { kind: 'http', status: 200, message: '204 HTTP response status code expected, but 200 returned' }],
  ] as const)('answer %s', async (_name, status, headers, body, failure) => {
    const seen: Array<{ url: string; headers: IncomingHttpHeaders; body: string }> = [];
    const server = createServer((req, res) => {
      let b = '';
      req.on('data', (c: Buffer) => (b += c.toString()));
      req.on('end', () => {
        seen.push({ url: req.url!, headers: req.headers, body: b });
        res.writeHead(status, headers).end(body);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const sink = createInfluxSink({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, token: 'tok', org: 'city org', bucket: 'readings', timeoutMs: 2000 }, { now: () => T0 });
      const err = await sink.write(rows('PD-H', 2)).then(
        () => undefined,
        (e: unknown) => e,
      );
      if (failure) {
        expect(err).toBeInstanceOf(SinkError);
        expect((err as SinkError).failure).toMatchObject(failure);
      } else expect(err).toBeUndefined();
      expect(seen).toHaveLength(1);
      expect(seen[0]!.url).toBe('/api/v2/write?org=city%20org&bucket=readings&precision=ms');
      expect(seen[0]!.headers['authorization']).toBe('Token tok');
      expect(seen[0]!.headers['content-type']).toBe('text/plain; charset=utf-8');
      expect(seen[0]!.body.split('\n')).toEqual([`ponding,district=jingan,sensor=PD-H,site=中山北路\\ 下立交 depth_cm=0,seq=0i ${T0}`, `ponding,district=jingan,sensor=PD-H,site=中山北路\\ 下立交 depth_cm=0.25,seq=1i ${T0 + 1000}`]);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});
