/**
 * An SL 651 station's image report, end to end: sent in three packets to the centre, written as a
 * file, listed and served by the alerts API for the console (GET /api/sensors/:id/images[/:file]).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, eventually, testLogger, type Stack } from '../../test/helpers/stack.ts';
import { createSl651, type Sl651Handle } from '../sl651.ts';
import { sl651Config } from '../config.ts';
import { systemClock } from '../../lib/clock.ts';
import { encodeFrame } from '../../contracts/sl651-frame.ts';
import { encodeReport } from '../../contracts/sl651-report.ts';
import { openRtuLink } from '../../simulators/sl651-rtu.ts';

describe('SL 651 image reports in the API', () => {
  let stack: Stack;
  let centre: Sl651Handle;
  const imageDir = mkdtempSync(join(tmpdir(), 'sl651-api-images-'));
  const get = (url: string) => stack.alerts.app.inject({ url, headers: { authorization: `Bearer ${stack.apiToken}` } });

  beforeAll(async () => {
    stack = await startStack({ alerts: { imageDir } });
    centre = await createSl651(sl651Config({ mqttUrl: stack.mqttUrl, imageDir }), { logger: testLogger, metrics: stack.metrics, registry: stack.registry, serviceSecret: stack.provisioning.serviceSecret, clock: systemClock });
  });
  afterAll(async () => {
    await centre?.close();
    await stack?.close();
  });

  it('lists a station\'s images newest first and serves each as image/jpeg; other sensors and names are 404 or 400', async () => {
    const station = '3110000001'; // WL-001
    const password = stack.provisioning.sl651![station]!;
    const jpeg = Buffer.concat([Buffer.from('FFD8FFE0', 'hex'), Buffer.alloc(2500, 0x33), Buffer.from('FFD9', 'hex')]);
    const t = { y: 2026, mo: 12, d: 7, h: 10, mi: 0, s: 0 };
    const body = Buffer.concat([encodeReport({ serial: 77, sent: t, station, category: '48', at: t, elements: [] }), Buffer.from('F3F3', 'hex'), jpeg]);
    const parts = [body.subarray(0, 1000), body.subarray(1000, 2000), body.subarray(2000)];
    const rtu = await openRtuLink('127.0.0.1', centre.port);
    for (let i = 0; i < 3; i++) {
      rtu.send(encodeFrame({ direction: 'up', centre: '01', station, password, func: 0x36, packet: { total: 3, seq: i + 1 }, body: parts[i]!, end: i < 2 ? 'ETB' : 'ETX' }));
      expect((await rtu.reply()).end).toBe(i < 2 ? 'ACK' : 'ESC');
    }
    rtu.close();
    const list = await eventually(async () => {
      const r = await get('/api/sensors/WL-001/images');
      return r.statusCode === 200 && (r.json() as { images: unknown[] }).images.length === 1 ? r.json() : undefined;
    }, 'the image in the list');
    expect(list).toMatchObject({ sensorId: 'WL-001', images: [{ file: '20261207T100000-77.jpg', observed: '2026-12-07T10:00:00', serial: 77, bytes: jpeg.length }] });
    const image = await get('/api/sensors/WL-001/images/20261207T100000-77.jpg');
    expect(image.statusCode).toBe(200);
    expect(image.headers['content-type']).toBe('image/jpeg');
    expect(image.rawPayload.equals(jpeg)).toBe(true);
    expect((await get('/api/sensors/PD-001/images')).statusCode).toBe(404); // not a station's sensor
    expect((await get('/api/sensors/WL-001/images/20261207T100000-78.jpg')).statusCode).toBe(404);
    expect((await get('/api/sensors/WL-001/images/..%2F..%2Fapi.token')).statusCode).toBe(400);
    expect((await stack.alerts.app.inject({ url: '/api/sensors/WL-001/images' })).statusCode).toBe(401);
  });
});
