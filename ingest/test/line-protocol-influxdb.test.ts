/**
 * The line protocol our writer produces, parsed by real InfluxDB 1.x (the same parser as
 * InfluxDB): tags with spaces, commas, '=', quotes, backslashes and Chinese site names must come
 * back exactly as they went in.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startInfluxDB1, type InfluxDB1 } from '../../test/helpers/servers.ts';
import { lineOf, tagValue } from '../line-protocol.ts';
import { MEASUREMENT, type Reading } from '../../contracts/index.ts';

const T0 = Date.parse('2026-07-01T10:00:00+08:00');

const cases: Array<{ site: string; district: string; reading: Reading }> = [
  { site: '中山北路共和新路下立交', district: 'jingan', reading: { kind: 'ponding', sensorId: 'PD-001', ts: T0, seq: 1, fields: { depth_cm: 27.5, battery_v: 3.61 } } },
  { site: 'Huangpu Park, north gate', district: 'huangpu', reading: { kind: 'water-level', sensorId: 'WL-002', ts: T0 + 1, seq: 2, fields: { level_m: 4.55 } } },
  { site: 'a=b c,d', district: 'x y', reading: { kind: 'rain', sensorId: 'RG-003', ts: T0 + 2, seq: undefined, fields: { rain_mm: 0.5, interval_s: 300 } } },
  { site: 'back\\slash "quoted" \'single\'', district: 'x', reading: { kind: 'ponding', sensorId: 'PD-004', ts: T0 + 3, seq: 7, fields: { depth_cm: 0 } } },
  { site: '  leading and  double  spaces', district: '浦东新区', reading: { kind: 'ponding', sensorId: 'PD-005', ts: T0 + 4, seq: 8, fields: { depth_cm: 12.25 } } },
];

describe('tagValue', () => {
  it.each([
    ['plain', 'plain'],
    ['trailing\\', 'trailing'],
    ['trailing\\\\', 'trailing'],
    ['in\\side', 'in\\side'],
    ['new\nline\ttab', 'new line tab'],
  ])('%j → %j', (input, expected) => {
    expect(tagValue(input)).toBe(expected);
  });
});

describe('line protocol in real InfluxDB 1.x', () => {
  let influx: InfluxDB1;
  beforeAll(async () => {
    influx = await startInfluxDB1();
    await influx.query('', 'CREATE DATABASE floodgate');
  });
  afterAll(() => influx?.stop());

  it('accepts every line we write (HTTP 204)', async () => {
    // The drain sends linesBody, the same bytes as these lines joined (line-protocol.test.ts); dead letters keep lineOf's text.
    const body = cases.map((c) => lineOf(MEASUREMENT[c.reading.kind], { sensor: c.reading.sensorId, site: tagValue(c.site), district: c.district }, c.reading.fields, c.reading.seq, c.reading.ts)).join('\n');
    const res = await influx.write('floodgate', body);
    expect(res.status, await res.text()).toBe(204);
  });

  it.each(cases.map((c) => [c.site, c] as const))('reads back site %j with the same tags, fields and timestamp', async (_site, c) => {
    const measurement = { ponding: 'ponding', 'water-level': 'water_level', rain: 'rainfall' }[c.reading.kind];
    const res = (await influx.query('floodgate', `SELECT * FROM "${measurement}" WHERE sensor = '${c.reading.sensorId}'`)) as {
      results: Array<{ series?: Array<{ columns: string[]; values: unknown[][] }> }>;
    };
    const series = res.results[0]!.series!;
    expect(series).toHaveLength(1);
    const [s] = series as [{ columns: string[]; values: unknown[][] }];
    expect(s.values).toHaveLength(1);
    const row = Object.fromEntries(s.columns.map((col, i) => [col, s.values[0]![i]]));
    const expected: Record<string, unknown> = { time: c.reading.ts, sensor: c.reading.sensorId, site: c.site, district: c.district, ...c.reading.fields };
    if (c.reading.seq !== undefined) expected['seq'] = c.reading.seq;
    // Columns of other points in the same measurement come back as null.
    const present = Object.fromEntries(Object.entries(row).filter(([, v]) => v !== null));
    expect(present).toEqual(expected);
  });
});
