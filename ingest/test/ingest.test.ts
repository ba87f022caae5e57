/** Ingest behind a real gateway, with the embedded store: validation, rejects, idempotency. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { eventually, startStack, type Stack, RECENT_HOUR } from '../../test/helpers/stack.ts';
import { RejectMessage } from '../../contracts/index.ts';
import { isoWithOffset } from '../../lib/time.ts';
import type Database from 'better-sqlite3';
import type { SpoolRow } from '../spool.ts';

describe('ingest', () => {
  let stack: Stack;
  let dev: MqttClient;
  const rejects: RejectMessage[] = [];
  let db: Database.Database;

  const rows = (sensor: string) =>
    db.prepare('SELECT measurement, sensor, ts, site, district, fields FROM readings WHERE sensor = ? ORDER BY ts').all(sensor) as Array<
      Pick<SpoolRow, 'measurement' | 'sensor' | 'ts' | 'site' | 'district'> & { fields: string }
    >;

  beforeAll(async () => {
    stack = await startStack();
    db = (stack.ingest.sink as unknown as { db: Database.Database }).db;
    dev = await stack.device('WL-001');
    // The sender sees why its input was refused, on its own rejects topic.
    dev.on('message', (_t, payload) => rejects.push(RejectMessage.parse(JSON.parse(payload.toString()))));
    await dev.subscribeAsync('floodgate/rejects/water-level/WL-001', { qos: 1 });
  });
  afterAll(() => stack.close());

  const publish = (payload: string) => dev.publishAsync('sensors/water-level/WL-001/reading', payload, { qos: 1 });
  const t0 = RECENT_HOUR;

  it('stores a valid reading with the sensor’s site and district as tags', async () => {
    await publish(JSON.stringify({ ts: isoWithOffset(t0), seq: 1, level_m: 4.12, battery_v: 3.6 }));
    const [row] = await eventually(() => (rows('WL-001').length === 1 ? rows('WL-001') : undefined), 'the reading in the store');
    expect({ ...row, fields: JSON.parse(row!.fields) }).toEqual({
      measurement: 'water_level',
      sensor: 'WL-001',
      ts: t0,
      site: '吴淞',
      district: 'baoshan',
      fields: { level_m: 4.12, battery_v: 3.6, seq: 1 },
    });
  });

  it('keeps the good readings of a batch and reports the bad one, with its index and reason', async () => {
    await publish(
      JSON.stringify([
        { ts: t0 + 60_000, seq: 2, level_m: 4.2 },
        { ts: t0 + 120_000, seq: 3, level_m: 'high' },
        { ts: t0 + 180_000, seq: 4, level_m: 4.3 },
      ]),
    );
    const reject = await eventually(() => rejects.find((r) => r.accepted === 2), 'a reject message');
    expect(reject).toMatchObject({ topic: 'sensors/water-level/WL-001/reading', code: 'PAYLOAD_INVALID', accepted: 2, rejected: 1 });
    expect(reject.errors).toEqual([{ index: 1, path: 'level_m', message: expect.stringContaining('number') }]);
    await eventually(() => rows('WL-001').length === 3, '3 readings stored');
    expect(rows('WL-001').map((r) => r.ts)).toEqual([t0, t0 + 60_000, t0 + 180_000]);
  });

  it.each([
    ['not JSON', '{"ts": 1', 'PAYLOAD_NOT_JSON', 'not JSON'],
    ['a missing field', JSON.stringify({ ts: t0 }), 'PAYLOAD_INVALID', 'level_m'],
    ['an ISO time without offset', JSON.stringify({ ts: '2026-07-01T10:00:00', level_m: 1 }), 'PAYLOAD_INVALID', 'offset'],
    ['epoch seconds instead of ms', JSON.stringify({ ts: 1782871200, level_m: 1 }), 'PAYLOAD_INVALID', 'seconds'],
    ['a reading from the future', JSON.stringify({ ts: Date.now() + 3_600_000, level_m: 1 }), 'PAYLOAD_INVALID', 'future'],
    ['an implausible level', JSON.stringify({ ts: t0, level_m: 480 }), 'PAYLOAD_INVALID', '30'],
    ['a reading months old (stale buffer)', JSON.stringify({ ts: t0 - 90 * 86_400_000, level_m: 1 }), 'PAYLOAD_INVALID', 'days old'],
    ['an empty array', '[]', 'PAYLOAD_INVALID', 'empty'],
  ])('rejects %s with a reason and keeps running', async (_name, payload, code, text) => {
    const before = rejects.length;
    await publish(payload);
    const r = await eventually(() => rejects[before], 'the reject message');
    expect(r.code).toBe(code);
    expect(JSON.stringify(r)).toContain(text);
  });

  it('is idempotent: the same reading twice is stored once (same series and timestamp overwrite)', async () => {
    const before = rows('WL-001').length;
    const reading = JSON.stringify({ ts: t0 + 600_000, seq: 10, level_m: 4.5 });
    await publish(reading);
    await publish(reading);
    await eventually(() => rows('WL-001').length === before + 1, 'one more row');
    // A later reading proves both copies were processed before we count.
    await publish(JSON.stringify({ ts: t0 + 660_000, seq: 11, level_m: 4.6 }));
    await eventually(() => rows('WL-001').length === before + 2, 'the next reading');
    expect(rows('WL-001').filter((r) => r.ts === t0 + 600_000)).toHaveLength(1);
  });

  it('stores nothing of a device that publishes to another sensor’s topic', async () => {
    const rogue = await stack.device('WL-002');
    const closed = new Promise<void>((resolve) => rogue.once('close', () => resolve()));
    rogue.publish('sensors/water-level/WL-003/reading', JSON.stringify({ ts: t0, level_m: 9 }), { qos: 1 });
    await closed;
    // Then a legitimate reading, so we know ingest processed everything before it.
    await publish(JSON.stringify({ ts: t0 + 720_000, seq: 12, level_m: 4.7 }));
    await eventually(() => rows('WL-001').some((r) => r.ts === t0 + 720_000), 'the legitimate reading');
    expect(rows('WL-003')).toEqual([]);
    expect(rows('WL-002')).toEqual([]);
  });

  it('keeps every rejected reading queryable on GET /api/rejects, filtered by sensor and reason', async () => {
    const auth = { authorization: `Bearer ${stack.apiToken}` };
    const all = await stack.alerts.app.inject({ url: '/api/rejects?sensor=WL-001', headers: auth });
    expect(all.statusCode).toBe(200);
    const rejects = all.json().rejects as Array<{ sensor: string; code: string; reason: string; data: string; at: string }>;
    expect(rejects.length).toBeGreaterThanOrEqual(8);
    expect(rejects.every((r) => r.sensor === 'WL-001' && r.at.endsWith('+08:00'))).toBe(true);
    const notJson = await stack.alerts.app.inject({ url: '/api/rejects?sensor=WL-001&reason=PAYLOAD_NOT_JSON', headers: auth });
    expect(notJson.json().rejects).toEqual([expect.objectContaining({ code: 'PAYLOAD_NOT_JSON', data: '{"ts": 1', reason: expect.stringContaining('not JSON') })]);
    const batch = rejects.find((r) => r.reason.includes('[1] level_m'));
    expect(batch?.code).toBe('PAYLOAD_INVALID');
    expect((await stack.alerts.app.inject({ url: '/api/rejects' })).statusCode).toBe(401);
    expect((await stack.alerts.app.inject({ url: '/api/rejects?reason=' + 'x'.repeat(100), headers: auth })).statusCode).toBe(400);
  });

  it('counts accepted and rejected readings on /metrics', async () => {
    const res = await stack.alerts.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${stack.apiToken}` } });
    expect(res.statusCode).toBe(200);
    expect(res.body).toMatch(/floodgate_ingest_readings_total\{kind="water-level",result="accepted"\} \d+/);
    expect(res.body).toMatch(/floodgate_ingest_readings_total\{kind="water-level",result="rejected"\} [1-9]/);
  });
});
