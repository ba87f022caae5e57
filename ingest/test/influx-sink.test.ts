/**
 * The InfluxDB sink against a real VictoriaMetrics (v2 write API): the same rows arrive whether the
 * bodies go plain (the default) or gzip-compressed (`INFLUX_GZIP=1`), and a refused write comes
 * back as a classified SinkError.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
});
