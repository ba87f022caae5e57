/**
 * The SL 651 centre against real TCP links and a real aedes gateway: a real station's capture
 * answered as the real centre answered it, readings on the MQTT topics a device would use, retries
 * stored once, refusals, noise, multi-packet image reports and presence.
 */
import { readFileSync, readdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import { createGateway, type GatewayHandle } from '../../gateway/gateway.ts';
import { gatewayConfig } from '../../gateway/config.ts';
import { createSl651, type Sl651Handle } from '../sl651.ts';
import { sl651Config } from '../config.ts';
import { systemClock } from '../../lib/clock.ts';
import { createMetricsRegistry } from '../../lib/metrics.ts';
import { smallCity, testLogger, eventually } from '../../test/helpers/stack.ts';
import { hashSecretSync, type Provisioning, type Registry } from '../../config/registry.ts';
import { encodeFrame, readFrame, type Frame } from '../../contracts/sl651-frame.ts';
import { encodeReport } from '../../contracts/sl651-report.ts';
import { encodeAsciiFrame } from '../../contracts/sl651-ascii.ts';
import { openRtuLink } from '../../simulators/sl651-rtu.ts';

const FIXTURES = new URL('../../test/fixtures/sl651/', import.meta.url);
const CAPTURE_STATION = '1090330853';
const FENCED_STATION = '3120000002';

/** A report as the demo city's stations send it: a 32 timed report with level (39) or rain (22) and voltage. */
function report(o: { station: string; password: string; serial: number; at: Date; elements: Array<[string, number | null]>; func?: number; claimed?: string }): Buffer {
  const wall = (d: Date) => {
    const t = new Date(d.getTime() + 8 * 3_600_000);
    return { y: t.getUTCFullYear(), mo: t.getUTCMonth() + 1, d: t.getUTCDate(), h: t.getUTCHours(), mi: t.getUTCMinutes(), s: t.getUTCSeconds() };
  };
  const body = encodeReport({ serial: o.serial, sent: wall(o.at), station: o.claimed ?? o.station, category: '48', at: wall(o.at), elements: o.elements });
  return encodeFrame({ direction: 'up', centre: '01', station: o.station, password: o.password, func: o.func ?? 0x32, body, end: 'ETX' });
}

describe('the SL 651 centre', () => {
  let gw: GatewayHandle;
  let centre: Sl651Handle;
  let city: { registry: Registry; provisioning: Provisioning };
  let watcher: mqtt.MqttClient;
  const seen: Array<{ topic: string; payload: unknown; retain: boolean }> = [];
  const metrics = createMetricsRegistry();
  const imageDir = mkdtempSync(join(tmpdir(), 'sl651-images-'));
  const link = () => openRtuLink('127.0.0.1', centre.port);
  const password = (station: string) => city.provisioning.sl651![station]!;
  const metric = async (name: string) => (await metrics.getSingleMetricAsString(name)) ?? '';

  beforeAll(async () => {
    // The real station of the capture, with its real password (A000), carrying a rain and a level gauge.
    const captureHash = hashSecretSync('A000');
    city = await smallCity(2, (c) => {
      c.sites.push({ id: 'CAP-WS', kind: 'water-level-station', name: 'capture station', road: '', district: c.districts[0]!.id, lat: 31.2, lon: 121.4 });
      c.sites.push({ id: 'CAP-RS', kind: 'rain-station', name: 'capture station', road: '', district: c.districts[0]!.id, lat: 31.2, lon: 121.4 });
      c.sensors.push({ id: 'WL-CAP', kind: 'water-level', site: 'CAP-WS', sl651: { station: CAPTURE_STATION, passwordHash: captureHash } });
      c.sensors.push({ id: 'RG-CAP', kind: 'rain', site: 'CAP-RS', sl651: { station: CAPTURE_STATION, passwordHash: captureHash } });
      // A station that may report only from 10.9.0.0/16.
      c.sensors.find((s) => s.sl651?.station === FENCED_STATION)!.sl651!.networks = ['10.9.0.0/16'];
    });
    gw = await createGateway(gatewayConfig(), { logger: testLogger, metrics: createMetricsRegistry(), registry: city.registry, serviceSecret: city.provisioning.serviceSecret, clock: systemClock });
    const mqttUrl = `mqtt://127.0.0.1:${gw.port}`;
    watcher = await mqtt.connectAsync(mqttUrl, { protocolVersion: 4, clientId: 'watcher', username: 'svc-ingest', password: city.provisioning.serviceSecret, reconnectPeriod: 0 });
    watcher.on('message', (topic, payload, packet) => seen.push({ topic, payload: JSON.parse(payload.toString()), retain: packet.retain }));
    await watcher.subscribeAsync(['sensors/+/+/reading', 'sensors/+/+/status'], { qos: 1 });
    centre = await createSl651(sl651Config({ mqttUrl, stationBurst: 10_000, imageDir }), { logger: testLogger, metrics, registry: city.registry, serviceSecret: city.provisioning.serviceSecret, clock: systemClock });
  });
  afterAll(async () => {
    await watcher?.endAsync();
    await centre?.close();
    await gw?.close();
  });

  it('answers a real station\'s 34-hour capture as the real centre did, in every field but the time; keep-alives get no reply', async () => {
    const rows = readFileSync(new URL('comger_testdata_excerpt.csv', FIXTURES), 'utf8')
      .split('\n')
      .map((l) => l.split(','))
      .filter((c) => c[4]?.startsWith('7e7e'));
    const frame = (hex: string) => (readFrame(Buffer.from(hex, 'hex')) as { frame: Frame }).frame;
    const ups = rows.filter((c) => c[1] === '上行').map((c) => frame(c[4]!));
    const downs = rows.filter((c) => c[1] === '下行').map((c) => frame(c[4]!));
    const rtu = await link();
    let replies = 0;
    for (const up of ups) {
      rtu.send(up.raw);
      if (up.func === 0x2f) continue;
      const reply = await rtu.reply();
      replies++;
      const real = downs.find((d) => d.func === up.func && d.body.readUInt16BE(0) === up.body.readUInt16BE(0));
      const fields = (f: Frame) => ({ dir: f.direction, station: f.station, centre: f.centre, password: f.password, func: f.func, serial: f.body.readUInt16BE(0), end: f.end, length: f.body.length });
      expect(fields(reply)).toEqual({ ...fields(up), dir: 'down', end: 'ESC', length: 8 });
      if (real) expect(fields(reply)).toEqual(fields(real));
    }
    expect(replies).toBe(ups.filter((u) => u.func !== 0x2f).length);
    // The last keep-alive is answered by nothing: a report sent after it gets the next reply.
    const probe = report({ station: CAPTURE_STATION, password: 'A000', serial: 9999, at: new Date(Date.now() - 60_000), elements: [['39', 1.5]] });
    rtu.send(probe);
    expect((await rtu.reply()).body.readUInt16BE(0)).toBe(9999);
    rtu.close();
    // The capture's levels are readings of WL-CAP at their observation times (+08:00), rain of RG-CAP.
    const first = ups.find((u) => u.func === 0x32)!;
    await eventually(() => seen.some((s) => s.topic === 'sensors/water-level/WL-CAP/reading'), 'the capture\'s levels');
    const levels = seen.filter((s) => s.topic === 'sensors/water-level/WL-CAP/reading').flatMap((s) => (Array.isArray(s.payload) ? s.payload : [s.payload])) as Array<{ ts: number; level_m: number }>;
    const obs = first.body.subarray(first.body.indexOf(Buffer.from('F0F0', 'hex')) + 2, first.body.indexOf(Buffer.from('F0F0', 'hex')) + 7).toString('hex');
    const at = Date.parse(`20${obs.slice(0, 2)}-${obs.slice(2, 4)}-${obs.slice(4, 6)}T${obs.slice(6, 8)}:${obs.slice(8, 10)}:00+08:00`);
    expect(levels.find((l) => l.ts === at)).toMatchObject({ level_m: expect.any(Number) });
    expect(seen.some((s) => s.topic === 'sensors/rain/RG-CAP/reading')).toBe(true);
  });

  it('answers a station\'s retry again and stores its readings once', async () => {
    const at = new Date(Date.now() - 5 * 60_000);
    const frame = report({ station: '3110000001', password: password('3110000001'), serial: 7, at, elements: [['39', 3.215], ['38', 12.5]] });
    const rtu = await link();
    rtu.send(frame);
    expect((await rtu.reply()).body.readUInt16BE(0)).toBe(7);
    rtu.send(frame);
    expect((await rtu.reply()).body.readUInt16BE(0)).toBe(7);
    const topic = 'sensors/water-level/WL-001/reading';
    await eventually(() => seen.some((s) => s.topic === topic), 'the reading');
    expect(seen.filter((s) => s.topic === topic).map((s) => s.payload)).toEqual([{ ts: Math.floor(at.getTime() / 60_000) * 60_000, level_m: 3.215, battery_v: 12.5 }]);
    expect(await metric('floodgate_sl651_duplicates_total')).toContain('what="report"} 1');
    rtu.close();
  });

  it.each([
    ['an unknown station', { station: '9999999999', password: '1234' }, 'unknown_station'],
    ['a wrong password', { station: '3110000002', password: 'FFFF' }, 'wrong_password'],
    ['a station outside its allowed networks', { station: FENCED_STATION, password: '' }, 'network'],
    ['a station reporting for another', { station: '3120000001', password: '', claimed: '3120000002' }, 'other_station'],
  ] as const)('refuses %s: no reply, nothing stored, the link closed, counted by reason', async (_name, who, reason) => {
    const before = seen.length;
    const rtu = await link();
    rtu.send(report({ station: who.station, password: who.password || password(who.station), serial: 1, at: new Date(), elements: [['20', 1.5]], ...('claimed' in who ? { claimed: who.claimed } : {}) }));
    // (For the last, the header is the station's own and admitted; the report's F1F1 names another.)
    await rtu.closed;
    expect(rtu.pending()).toBe(0);
    expect(await metric('floodgate_sl651_refused_total')).toContain(`reason="${reason}"`);
    expect(seen.slice(before).filter((s) => s.topic.endsWith('/reading'))).toEqual([]);
    rtu.close();
  });

  it('takes a station in ASCII mode: the reading stored, the reply in ASCII', async () => {
    const station = '3120000001';
    const at = new Date(Math.floor((Date.now() - 10 * 60_000) / 60_000) * 60_000);
    const t = new Date(at.getTime() + 8 * 3_600_000).toISOString();
    const tt = `${t.slice(2, 4)}${t.slice(5, 7)}${t.slice(8, 10)}${t.slice(11, 13)}${t.slice(14, 16)}`;
    const rtu = await link();
    rtu.send(encodeAsciiFrame({ direction: 'up', centre: '01', station, password: password(station), func: 0x32, body: `0033${tt}00ST ${station} 50 TT ${tt} PN05 0.5 VT 12.1`, end: 'ETX' }));
    const reply = await rtu.reply();
    expect({ mode: reply.mode, func: reply.func, end: reply.end, serial: reply.body.toString('latin1').slice(0, 4) }).toEqual({ mode: 'ascii', func: 0x32, end: 'ESC', serial: '0033' });
    await eventually(() => seen.some((x) => x.topic === 'sensors/rain/RG-001/reading' && (x.payload as { ts: number }).ts === at.getTime()), 'the ASCII station\'s rain');
    expect(seen.find((x) => x.topic === 'sensors/rain/RG-001/reading' && (x.payload as { ts: number }).ts === at.getTime())!.payload).toEqual({ ts: at.getTime(), rain_mm: 0.5, interval_s: 300, battery_v: 12.1 });
    rtu.close();
  });

  it('survives noise: stray bytes and a bad CRC are skipped, the next good frame answered; a link of nothing but noise is closed', async () => {
    const good = report({ station: '3120000001', password: password('3120000001'), serial: 21, at: new Date(Date.now() - 120_000), elements: [['22', 0.5]] });
    const bad = Buffer.from(good);
    bad[bad.length - 4]! ^= 0xff;
    const rtu = await link();
    rtu.send(Buffer.concat([Buffer.from('41542b43534d0d0a', 'hex'), bad, Buffer.from([0x7e, 0x00]), good]));
    expect((await rtu.reply()).body.readUInt16BE(0)).toBe(21);
    expect(await metric('floodgate_sl651_bad_frames_total')).toContain('code="SL651_BAD_CRC"');
    for (let i = 0; i < 20 && !rtu.isClosed(); i++) rtu.send(bad);
    await rtu.closed;
    expect(await metric('floodgate_sl651_limit_hits_total')).toContain('limit="garbage"');
    // The listener goes on serving.
    const next = await link();
    next.send(report({ station: '3120000001', password: password('3120000001'), serial: 22, at: new Date(Date.now() - 60_000), elements: [['22', 0.0]] }));
    expect((await next.reply()).body.readUInt16BE(0)).toBe(22);
    next.close();
  });

  it('reassembles a multi-packet image report: ACK for each packet, ESC for the last, the image written to a file', async () => {
    const jpeg = Buffer.concat([Buffer.from('FFD8FFE0', 'hex'), Buffer.alloc(3000, 0x5a), Buffer.from('FFD9', 'hex')]);
    const open = '3120000001';
    const openHead = encodeReport({ serial: 31, sent: { y: 2026, mo: 12, d: 7, h: 10, mi: 0, s: 5 }, station: open, category: '50', at: { y: 2026, mo: 12, d: 7, h: 10, mi: 0, s: 0 }, elements: [] });
    const openBody = Buffer.concat([openHead, Buffer.from('F3F3', 'hex'), jpeg]);
    const parts = [openBody.subarray(0, 1200), openBody.subarray(1200, 2400), openBody.subarray(2400)];
    const img = await link();
    const ends: string[] = [];
    for (let i = 0; i < parts.length; i++) {
      img.send(encodeFrame({ direction: 'up', centre: '01', station: open, password: password(open), func: 0x36, packet: { total: 3, seq: i + 1 }, body: parts[i]!, end: i < 2 ? 'ETB' : 'ETX' }));
      const r = await img.reply();
      ends.push(r.end);
      expect(r.body.readUInt16BE(0)).toBe(31);
    }
    expect(ends).toEqual(['ACK', 'ACK', 'ESC']);
    const files = readdirSync(join(imageDir, open));
    expect(files).toEqual(['20261207T100000-31.jpg']);
    expect(readFileSync(join(imageDir, open, files[0]!)).equals(jpeg)).toBe(true);
    img.close();
  });

  it('publishes presence for the station\'s sensors: online at its first frame, offline when it hangs up, lost when the link drops', async () => {
    const station = '3110000002';
    const statuses = () => seen.filter((s) => s.topic === 'sensors/water-level/WL-002/status').map((s) => (s.payload as { state: string; source: string }).state + ' ' + (s.payload as { source: string }).source);
    const rtu = await link();
    rtu.send(encodeFrame({ direction: 'up', centre: '01', station, password: password(station), func: 0x2f, body: Buffer.from('0001261207100000', 'hex'), end: 'ETX' }));
    await eventually(() => statuses().includes('online sl651'), 'online');
    rtu.socket.end();
    await eventually(() => statuses().includes('offline sl651'), 'offline');
    const again = await link();
    again.send(encodeFrame({ direction: 'up', centre: '01', station, password: password(station), func: 0x2f, body: Buffer.from('0002261207100100', 'hex'), end: 'ETX' }));
    await eventually(() => statuses().filter((s) => s === 'online sl651').length === 2, 'online again');
    again.socket.resetAndDestroy();
    await eventually(() => statuses().includes('lost sl651'), 'lost');
    expect(statuses()).toEqual(['online sl651', 'offline sl651', 'online sl651', 'lost sl651']);
  });
});
