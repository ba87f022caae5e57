import { describe, expect, it } from 'vitest';
import { parseAlertTopic, parseSensorTopic, topics } from './topics.ts';
import { checkTimestamp, parseReadingPayload } from './index.ts';
import { parseReadingPayload as parse } from './readings.ts';
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
  ])('%s: %s', (kind, _name, payload, errors, accepted) => {
    const r = parse(kind as 'ponding', 'X-1', JSON.stringify(payload));
    expect(r.fatal).toBeUndefined();
    expect(r.readings).toHaveLength(accepted);
    expect(r.errors.map((e) => ({ index: e.index, path: e.path }))).toEqual(errors);
    for (const e of r.errors) expect(e.message.length).toBeGreaterThan(3);
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
