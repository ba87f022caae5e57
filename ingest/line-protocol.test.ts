/** lineOf writes what the official client's Point writes, for any tags and fields (property test). */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Point } from '@influxdata/influxdb-client';
import { lineOf, linesBody, type LinePoint, type PointTags } from './line-protocol.ts';
import { MEASUREMENT, type Reading } from '../contracts/index.ts';

/** The oracle: the official client's Point, as ingest wrote every reading before lineOf. */
function toLine(reading: Reading, tags: PointTags): string | undefined {
  const p = new Point(MEASUREMENT[reading.kind]).tag('sensor', tags.sensor).timestamp(reading.ts);
  if (tags.site) p.tag('site', tags.site);
  if (tags.district) p.tag('district', tags.district);
  for (const [name, value] of Object.entries(reading.fields)) p.floatField(name, value);
  if (reading.seq !== undefined) p.intField('seq', reading.seq);
  return p.toLineProtocol();
}

const T0 = Date.parse('2026-07-01T10:00:00+08:00');

describe('lineOf', () => {
  it('matches Point for the cases InfluxDB was tested with', () => {
    const r: Reading = { kind: 'ponding', sensorId: 'PD-001', ts: T0, seq: 1, fields: { depth_cm: 27.5, battery_v: 3.61 } };
    const tags = { sensor: 'PD-001', site: '中山北路 共和新路,下立交=1', district: 'jingan' };
    expect(lineOf('ponding', tags, r.fields, r.seq, r.ts)).toBe(toLine(r, tags));
    expect(lineOf('ponding', tags, r.fields, r.seq, r.ts)).toBe(`ponding,district=jingan,sensor=PD-001,site=中山北路\\ 共和新路\\,下立交\\=1 battery_v=3.61,depth_cm=27.5,seq=1i ${T0}`);
  });

  it('a renamed site or district gets a new series prefix (the prefix is cached per sensor)', () => {
    const fields = { depth_cm: 1 };
    expect(lineOf('ponding', { sensor: 'PD-9', site: 'old', district: 'd1' }, fields, undefined, T0)).toBe(`ponding,district=d1,sensor=PD-9,site=old depth_cm=1 ${T0}`);
    expect(lineOf('ponding', { sensor: 'PD-9', site: 'new', district: 'd1' }, fields, undefined, T0)).toBe(`ponding,district=d1,sensor=PD-9,site=new depth_cm=1 ${T0}`);
    expect(lineOf('ponding', { sensor: 'PD-9', site: 'new', district: 'd2' }, fields, undefined, T0)).toBe(`ponding,district=d2,sensor=PD-9,site=new depth_cm=1 ${T0}`);
    expect(lineOf('rainfall', { sensor: 'PD-9', site: 'new', district: 'd2' }, fields, undefined, T0)).toBe(`rainfall,district=d2,sensor=PD-9,site=new depth_cm=1 ${T0}`);
  });

  it('matches Point for any tag text, field names, values, seq and timestamp', () => {
    const text = fc.string({ unit: fc.oneof(fc.constantFrom(' ', ',', '=', '"', "'", '\\', '\n', '\t', '浦', 'a', 'Z', '_'), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 })), maxLength: 12 });
    fc.assert(
      fc.property(
        fc.constantFrom('ponding', 'water_level', 'rainfall'),
        fc.record({ sensor: text.filter((s) => s.length > 0), site: text, district: text }),
        fc.dictionary(text.filter((s) => s.length > 0 && s !== 'seq'), fc.double({ noNaN: true, noDefaultInfinity: true }), { minKeys: 1, maxKeys: 4 }),
        fc.option(fc.integer({ min: 0, max: 2 ** 40 }), { nil: undefined }),
        fc.integer({ min: 0, max: 4_102_444_800_000 }),
        (measurement, tags, fields, seq, ts) => {
          const kind = ({ ponding: 'ponding', water_level: 'water-level', rainfall: 'rain' } as const)[measurement];
          const reading = { kind, sensorId: tags.sensor, ts, seq, fields } as Reading;
          expect(lineOf(measurement, tags, fields, seq, ts)).toBe(toLine(reading, tags));
        },
      ),
      { seed: 20261201, numRuns: 2000 },
    );
  });

  it.each([
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
  ])('refuses a %s field, as Point does', (_name, v) => {
    expect(() => lineOf('ponding', { sensor: 'PD-1', site: '', district: '' }, { depth_cm: v }, undefined, T0)).toThrow(/invalid float value/);
  });
});

describe('linesBody', () => {
  const joined = (points: LinePoint[]) => Buffer.from(points.map((p) => lineOf(p.measurement, p, p.values, p.seq ?? undefined, p.ts)).join('\n'));
  const text = fc.string({ unit: fc.oneof(fc.constantFrom(' ', ',', '=', '\\', '浦', '下立交', 'a', '_', '😀'), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 })), maxLength: 10 });
  const point = fc.record({
    measurement: fc.constantFrom('ponding', 'water_level', 'rainfall'),
    sensor: text.filter((s) => s.length > 0),
    site: text,
    district: text,
    values: fc.dictionary(text.filter((s) => s.length > 0 && s !== 'seq'), fc.double({ noNaN: true, noDefaultInfinity: true }), { minKeys: 1, maxKeys: 3 }),
    seq: fc.option(fc.integer({ min: 0, max: 2 ** 40 }), { nil: null }),
    ts: fc.integer({ min: 0, max: 4_102_444_800_000 }),
  });

  it('is the UTF-8 of the lines joined by newlines, for any tags (Chinese, emoji, escapes) and fields', () => {
    fc.assert(
      fc.property(fc.array(point, { maxLength: 20 }), (points) => {
        expect(linesBody(points).toString()).toBe(joined(points).toString());
        expect(linesBody(points).equals(joined(points))).toBe(true);
      }),
      { seed: 20261202, numRuns: 1000 },
    );
  });

  it('grows past its scratch buffer, and a body stays as it was when the next one is made', () => {
    const big = Array.from({ length: 20_000 }, (_, i): LinePoint => ({ measurement: 'ponding', sensor: `PD-${i % 50}`, site: `龙阳路${i % 50}号下立交`, district: 'pudong', values: { depth_cm: i / 10 }, seq: i, ts: T0 + i }));
    const first = linesBody(big);
    expect(first.length).toBeGreaterThan(1 << 20);
    expect(first.equals(joined(big))).toBe(true);
    const copy = Buffer.from(first);
    linesBody(big.slice(0, 10).map((p) => ({ ...p, site: 'other' })));
    expect(first.equals(copy)).toBe(true);
  });

  it('is empty for no points, and refuses what lineOf refuses', () => {
    expect(linesBody([]).length).toBe(0);
    expect(() => linesBody([{ measurement: 'ponding', sensor: 'PD-1', site: '', district: '', values: { depth_cm: Number.NaN }, seq: null, ts: T0 }])).toThrow(/invalid float value/);
  });
});
