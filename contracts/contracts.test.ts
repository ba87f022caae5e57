import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { parseAlertTopic, parseSensorTopic, topics } from './topics.ts';
import { checkTimestamp, parseReadingPayload } from './index.ts';
import { FAST_RULES, fastReading, fieldRules, parseReadingPayload as parse, READING_SCHEMAS } from './readings.ts';
import fc from 'fast-check';
import { signNotice, verifyNotice } from './notice.ts';

describe('topics', () => {
  it.each([
    ['sensors/ponding/PD-001/reading', { kind: 'ponding', sensorId: 'PD-001', leaf: 'reading' }],
    ['sensors/water-level/WL-157/status', { kind: 'water-level', sensorId: 'WL-157', leaf: 'status' }],
    ['sensors/rain/RG-001/config', { kind: 'rain', sensorId: 'RG-001', leaf: 'config' }],
    ['sensors/snow/SN-001/reading', null], // unknown kind
    ['sensors/ponding/PD-001/reading/x', null],
    ['sensors/ponding//reading', null],
    ['floodgate/alerts/x/y', null],
  ])('parseSensorTopic(%s)', (topic, expected) => {
    expect(parseSensorTopic(topic)).toEqual(expected);
    // Asked again (from the cache of parsed topics): the same answer, and one no caller can change.
    const again = parseSensorTopic(`${topic}`);
    expect(again).toEqual(expected);
    if (again) expect(Object.isFrozen(again)).toBe(true);
  });

  it('round-trips builders and parsers', () => {
    expect(parseSensorTopic(topics.reading('ponding', 'PD-042'))).toEqual({ kind: 'ponding', sensorId: 'PD-042', leaf: 'reading' });
    expect(parseAlertTopic(topics.alert('underpass-closure', 'UP-042'))).toEqual({ ruleId: 'underpass-closure', subjectId: 'UP-042' });
    expect(topics.alertsOf('underpass-closure')).toBe('floodgate/alerts/underpass-closure/+');
  });

  it.each(['PD/001', 'PD+', '#', '', 'a'.repeat(65)])('refuses to build a topic for sensor id %j', (id) => {
    expect(() => topics.reading('ponding', id)).toThrow(/invalid sensor id/);
  });
});

describe('parseReadingPayload', () => {
  const ok = { ts: '2026-04-12T18:03:00+08:00', seq: 1234, depth_cm: 27.5, battery_v: 3.61 };
  it('accepts the DESIGN.md example and normalises ts to epoch ms', () => {
    expect(parse('ponding', 'PD-001', JSON.stringify(ok))).toEqual({
      readings: [{ kind: 'ponding', sensorId: 'PD-001', ts: Date.parse('2026-04-12T10:03:00Z'), seq: 1234, fields: { depth_cm: 27.5, battery_v: 3.61 } }],
      errors: [],
    });
  });

  it.each<[string, string, unknown, Array<{ index: number; path: string }>, number]>([
    ['ponding', 'one good', ok, [], 1],
    ['ponding', 'array with one bad element', [ok, { ...ok, depth_cm: -3 }, ok], [{ index: 1, path: 'depth_cm' }], 2],
    ['ponding', 'string depth', { ...ok, depth_cm: '27' }, [{ index: 0, path: 'depth_cm' }], 0],
    ['ponding', 'no ts', { depth_cm: 1 }, [{ index: 0, path: 'ts' }], 0],
    ['ponding', 'negative seq', { ...ok, seq: -1 }, [{ index: 0, path: 'seq' }], 0],
    ['rain', 'rain without interval', { ts: 1_782_871_200_000, rain_mm: 2 }, [{ index: 0, path: 'interval_s' }], 0],
    ['rain', 'rain ok', { ts: 1_782_871_200_000, rain_mm: 2, interval_s: 300 }, [], 1],
    ['water-level', 'level ok', { ts: 1_782_871_200_000, level_m: 4.8 }, [], 1],
    ['water-level', 'null item', [null], [{ index: 0, path: '' }], 0],
    ['water-level', 'extra values', { ts: 1_782_871_200_000, level_m: 4.8, extra: { '20': 1.5, FF09: 7 } }, [], 1],
    ['water-level', 'an extra value that is not a number', [{ ts: 1_782_871_200_000, level_m: 4.8, extra: { t: '7' } }, { ts: 1_782_871_200_000, level_m: 4.8 }], [{ index: 0, path: 'extra.t' }], 1],
    ['water-level', 'an extra name with a space', { ts: 1_782_871_200_000, level_m: 4.8, extra: { 'a b': 1 } }, [{ index: 0, path: 'extra.a b' }], 0],
    ['water-level', '33 extra values', { ts: 1_782_871_200_000, level_m: 4.8, extra: Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`v${i}`, i])) }, [{ index: 0, path: 'extra' }], 0],
  ])('%s: %s', (kind, _name, payload, errors, accepted) => {
    const r = parse(kind as 'ponding', 'X-1', JSON.stringify(payload));
    expect(r.fatal).toBeUndefined();
    expect(r.readings).toHaveLength(accepted);
    expect(r.errors.map((e) => ({ index: e.index, path: e.path }))).toEqual(errors);
    for (const e of r.errors) expect(e.message.length).toBeGreaterThan(3);
  });

  it('keeps extra values as fields x_<name>', () => {
    const r = parse('water-level', 'WL-1', JSON.stringify({ ts: 1_782_871_200_000, level_m: 4.8, battery_v: 12.5, extra: { '20': 1.5, FF09: 7 } }));
    expect(r.readings[0]!.fields).toEqual({ level_m: 4.8, battery_v: 12.5, x_20: 1.5, x_FF09: 7 });
  });

  it.each([
    ['not json', 'PAYLOAD_NOT_JSON'],
    ['[]', 'PAYLOAD_INVALID'],
    [JSON.stringify(Array(1001).fill(ok)), 'PAYLOAD_INVALID'],
  ])('refuses %s as a whole', (raw, code) => {
    expect(parse('ponding', 'PD-001', raw).fatal?.code).toBe(code);
  });

  it('is re-exported from the topics module’s package index', () => {
    expect(parseReadingPayload).toBe(parse);
  });
});

describe('checkTimestamp', () => {
  const now = Date.parse('2026-07-01T00:00:00Z');
  it.each([
    ['now', now, null],
    ['9 min ahead (clock drift)', now + 9 * 60_000, null],
    ['11 min ahead', now + 11 * 60_000, 'future'],
    ['3 days late (store-and-forward)', now - 3 * 86_400_000, null],
    ['31 days old', now - 31 * 86_400_000, 'days old'],
  ] as const)('%s', (_n, ts, problem) => {
    const r = checkTimestamp(ts, now);
    if (problem === null) expect(r).toBeNull();
    else expect(r).toContain(problem);
  });
  it('takes a configured maximum age', () => {
    expect(checkTimestamp(now - 2 * 86_400_000, now, 86_400_000)).toContain('1 days old');
  });
});

describe('notice signatures', () => {
  const body = '{"noticeId":"n1"}';
  const now = Date.parse('2026-07-01T00:00:00Z');
  const ts = now / 1000;
  const sig = signNotice('s3cret', ts, body);

  it('is HMAC-SHA256 over "timestamp.body", hex, prefixed sha256=', async () => {
    const { createHmac } = await import('node:crypto');
    expect(sig).toBe('sha256=' + createHmac('sha256', 's3cret').update(`${ts}.${body}`).digest('hex'));
  });

  it.each<[string, Partial<Parameters<typeof verifyNotice>[0]>, string | null]>([
    ['valid', {}, null],
    ['wrong secret', { secret: 'other' }, 'signature mismatch'],
    ['tampered body', { body: '{"noticeId":"n2"}' }, 'signature mismatch'],
    ['old timestamp (replay)', { nowMs: now + 301_000 }, 'outside'],
    ['missing signature', { signatureHeader: undefined }, 'X-Floodgate-Signature'],
    ['malformed timestamp', { timestampHeader: '12abc' }, 'X-Floodgate-Timestamp'],
  ])('%s', (_n, override, reason) => {
    const r = verifyNotice({ secret: 's3cret', timestampHeader: String(ts), signatureHeader: sig, body, nowMs: now, ...override });
    if (reason === null) expect(r).toEqual({ ok: true });
    else expect(r.ok === false && r.reason).toContain(reason);
  });
});

describe('the fast path of reading validation', () => {
  // Whatever fastReading accepts, the zod schema must accept with the same reading — key order
  // included — and the fast path must take the common shapes (or it is no fast path).
  const T = 1_780_000_000_000;
  const value = fc.oneof(
    fc.constantFrom(0, -0, 1, 3.61, 25, 60, 60.0001, 120, 150, 150.5, 500, 500.01, 86_400, 86_401, -1, -20, 30, 30.5, 2 ** 53, Number.POSITIVE_INFINITY, 0.5),
    fc.double({ min: -1000, max: 100_000, noNaN: true }),
    fc.integer({ min: -10, max: 100_000 }),
    fc.constantFrom(null, '5', true, [], {}),
  );
  const ts = fc.oneof(
    fc.constantFrom(T, 946_684_800_000, 946_684_799_999, 1_780_000_000, T + 0.5, '2026-07-01T10:00:00+08:00', '2026-07-01T10:00:00', null),
    fc.integer({ min: 900_000_000_000, max: 2_000_000_000_000 }),
  );

  it.each(['ponding', 'water-level', 'rain'] as const)('%s: agrees with zod on random input', (kind) => {
    // Mostly well-formed readings with a few things wrong, so both answers are exercised.
    const fieldKeys = Object.keys(READING_SCHEMAS[kind].shape).filter((k) => k !== 'ts' && k !== 'extra');
    const inRange = (k: string) => {
      const r = FAST_RULES[kind]!.find((x) => x.key === k)!;
      return r.int ? fc.integer({ min: r.min, max: Math.min(r.max, 2 ** 40) }) : fc.double({ min: r.min, max: r.max, noNaN: true });
    };
    const item = fc.record(
      Object.fromEntries([
        ['ts', fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 946_684_800_000, max: 2_000_000_000_000 }) }, ts)],
        ...fieldKeys.map((k) => [k, fc.option(fc.oneof({ weight: 6, arbitrary: inRange(k) }, value), { freq: 4, nil: undefined })]),
        ['extra', fc.option(value, { freq: 1, nil: undefined })],
      ]),
    );
    let fastTaken = 0;
    let fastRefused = 0;
    fc.assert(
      fc.property(item, (raw) => {
        const input = Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== undefined));
        const fast = fastReading(FAST_RULES[kind], kind, 'S-1', input);
        const zod = READING_SCHEMAS[kind].safeParse(input);
        if (fast === undefined) return void fastRefused++;
        fastTaken++;
        expect(zod.success, JSON.stringify(input)).toBe(true);
        const { ts: zts, seq, ...rest } = zod.data as unknown as { ts: number; seq?: number } & Record<string, number>;
        expect(JSON.stringify(fast)).toBe(JSON.stringify({ kind, sensorId: 'S-1', ts: zts, seq, fields: rest }));
      }),
      { seed: 20261201, numRuns: 5000 },
    );
    expect(fastTaken).toBeGreaterThan(500);
    expect(fastRefused).toBeGreaterThan(500);
  });

  it.each([
    ['ponding', { ts: T, seq: 3, depth_cm: 12.5, battery_v: 3.6 }],
    ['water-level', { ts: T, level_m: 4.1 }],
    ['rain', { ts: T, seq: 1, rain_mm: 0.5, interval_s: 300, wind_ms: 4, gust_ms: 9 }],
  ] as const)('%s: takes a device’s usual reading', (kind, item) => {
    expect(fastReading(FAST_RULES[kind], kind, 'S-1', item)).toBeDefined();
  });

  it.each([
    ['an exclusive lower bound (.positive(): minValue reads 0)', z.number().positive().max(5)],
    ['an exclusive upper bound', z.number().min(0).lt(5)],
    ['a string', z.string()],
  ])('leaves a schema with %s to zod', (_what, field) => {
    expect(fieldRules(z.object({ ts: z.number(), x: field }))).toBeNull();
  });
});
