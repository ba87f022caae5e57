/**
 * Hostile SL 651 input (issue 23 §6), property-based (fast-check, fixed seed): real frames with
 * bits flipped, cut short, with lengths beyond the cap, random bytes, headers of nonsense, and
 * downlink frames sent uplink. 100,000 of them go over TCP to a live centre, interleaved with a
 * test report (30: answered, never stored) that proves the link still answers; the listener never
 * crashes and no reading is stored. The codec is also fed 100,000 random bodies under every
 * function code: it never throws, and what it maps to readings is valid for the contract.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import mqtt from 'mqtt';
import { createGateway, type GatewayHandle } from '../../gateway/gateway.ts';
import { gatewayConfig } from '../../gateway/config.ts';
import { createSl651, type Sl651Handle } from '../sl651.ts';
import { sl651Config } from '../config.ts';
import { systemClock } from '../../lib/clock.ts';
import { createMetricsRegistry } from '../../lib/metrics.ts';
import { eventually, smallCity, testLogger } from '../../test/helpers/stack.ts';
import type { Provisioning, Registry } from '../../config/registry.ts';
import { encodeFrame, readFrame } from '../../contracts/sl651-frame.ts';
import { decodeReport, encodeReport } from '../../contracts/sl651-report.ts';
import { READING_SCHEMAS } from '../../contracts/index.ts';
import { parseZone } from '../../lib/zone.ts';
import { mapReport } from '../readings.ts';
import { openRtuLink, type RtuLink } from '../../simulators/sl651-rtu.ts';

const FRAMES = Number(process.env['SL651_FUZZ_FRAMES'] ?? 100_000);
const SEED = Number(process.env['FUZZ_SEED'] ?? 20261207);
/** Hostile frames between two test reports: fewer than the bad frames in a row that close a link. */
const GROUP = 8;

const real: Buffer[] = ['wainshine_fujian_messages.decoded.jsonl', 'wainshine_beijing_messages.decoded.jsonl', 'comger_testdata_excerpt.decoded.jsonl'].flatMap((f) =>
  readFileSync(new URL(`../../test/fixtures/sl651/${f}`, import.meta.url), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => Buffer.from((JSON.parse(l) as { hex: string }).hex, 'hex')),
);
const uplinks = real.filter((b) => (b.readUInt16BE(11) & 0xf000) === 0);
const downlinks = real.filter((b) => (b.readUInt16BE(11) & 0xf000) === 0x8000);

const frameOf = fc.constantFrom(...uplinks);
/** Frames no centre may store: each is invalid at the frame layer, or a downlink. */
const hostile: fc.Arbitrary<Buffer> = fc.oneof(
  // One to eight bits flipped anywhere (CRC-16 catches them all; a flipped length re-frames).
  fc.tuple(frameOf, fc.array(fc.nat(), { minLength: 1, maxLength: 8 })).map(([f, flips]) => {
    const b = Buffer.from(f);
    for (const x of flips) b[x % b.length]! ^= 1 << (x % 8);
    return b.equals(f) ? Buffer.concat([b.subarray(0, -1), Buffer.from([b.at(-1)! ^ 0xff])]) : b;
  }),
  // Cut short, the rest never comes.
  fc.tuple(frameOf, fc.nat()).map(([f, n]) => f.subarray(0, 2 + (n % (f.length - 3)))),
  // A length beyond the cap, the body that follows.
  fc.tuple(frameOf, fc.integer({ min: 1025, max: 4095 })).map(([f, len]) => {
    const b = Buffer.from(f);
    b.writeUInt16BE((b.readUInt16BE(11) & 0xf000) | len, 11);
    return b;
  }),
  // Noise, and 7E7E followed by noise.
  fc.uint8Array({ minLength: 1, maxLength: 300 }).map((u) => Buffer.from(u)),
  fc.uint8Array({ minLength: 11, maxLength: 60 }).map((u) => Buffer.concat([Buffer.from([0x7e, 0x7e]), Buffer.from(u)])),
  // A centre's frame sent by a station.
  fc.constantFrom(...downlinks),
);

describe('SL 651 fuzz', { timeout: 900_000 }, () => {
  let gw: GatewayHandle;
  let centre: Sl651Handle;
  let city: { registry: Registry; provisioning: Provisioning };
  let watcher: mqtt.MqttClient;
  const stored: string[] = [];
  const metrics = createMetricsRegistry();

  beforeAll(async () => {
    city = await smallCity(2);
    gw = await createGateway(gatewayConfig(), { logger: testLogger, metrics: createMetricsRegistry(), registry: city.registry, serviceSecret: city.provisioning.serviceSecret, clock: systemClock });
    const mqttUrl = `mqtt://127.0.0.1:${gw.port}`;
    watcher = await mqtt.connectAsync(mqttUrl, { protocolVersion: 4, clientId: 'watcher', username: 'svc-ingest', password: city.provisioning.serviceSecret, reconnectPeriod: 0 });
    watcher.on('message', (topic) => stored.push(topic));
    await watcher.subscribeAsync('sensors/+/+/reading', { qos: 1 });
    centre = await createSl651(sl651Config({ mqttUrl, maxBody: 1024, stationBurst: 1_000_000, stationRatePerS: 1000 }), { logger: testLogger, metrics, registry: city.registry, serviceSecret: city.provisioning.serviceSecret, clock: systemClock });
  });
  afterAll(async () => {
    await watcher?.endAsync();
    await centre?.close();
    await gw?.close();
  });

  it(`${FRAMES.toLocaleString('en')} hostile frames over TCP: no crash, nothing stored, every link that survives still answers`, async () => {
    const frames = fc.sample(hostile, { numRuns: FRAMES, seed: SEED });
    expect(frames).toHaveLength(FRAMES);
    // One station per link (a station's newer link replaces its older one).
    const stations = ['3110000001', '3110000002', '3120000001', '3120000002'];
    const password = (station: string) => city.provisioning.sl651![station]!;
    const t = { y: 2026, mo: 12, d: 7, h: 10, mi: 0, s: 0 };
    /** A test report (30): the centre answers it and stores nothing. */
    const probe = (station: string, serial: number) => encodeFrame({ direction: 'up', centre: '01', station, password: password(station), func: 0x30, body: encodeReport({ serial, sent: t, station, category: '48', at: t, elements: [['39', 1]] }), end: 'ETX' });
    let answered = 0;
    let reopened = 0;
    // Four links side by side, each its share of the groups; a link closed for noise is opened again.
    const lanes = stations.length;
    await Promise.all(
      Array.from({ length: lanes }, async (_, lane) => {
        let rtu: RtuLink = await openRtuLink('127.0.0.1', centre.port);
        for (let g = lane * GROUP, serial = 1; g < frames.length; g += lanes * GROUP, serial++) {
          // A truncated frame waits for bytes that never come: the probe's bytes complete it (as
          // noise), so the probe goes on a line of its own after a burst of filler the frame's
          // declared length swallows.
          const group = Buffer.concat([...frames.slice(g, g + GROUP), Buffer.alloc(4200, 0x00)]);
          rtu.send(Buffer.concat([group, probe(stations[lane]!, serial)]));
          const ok = await rtu.reply(60_000).then(
            (f) => f.func === 0x30 && f.body.readUInt16BE(0) === serial,
            () => false,
          );
          if (ok) answered++;
          else {
            rtu.close();
            rtu = await openRtuLink('127.0.0.1', centre.port);
            reopened++;
          }
        }
        rtu.close();
      }),
    );
    const groups = Math.ceil(frames.length / GROUP);
    expect(answered + reopened).toBe(groups);
    expect(answered).toBeGreaterThan(groups * 0.9);
    expect(stored).toEqual([]);
    // Still serving: a real report is answered and stored.
    const rtu = await openRtuLink('127.0.0.1', centre.port);
    const station = stations[0]!;
    rtu.send(encodeFrame({ direction: 'up', centre: '01', station, password: password(station), func: 0x32, body: encodeReport({ serial: 9, sent: t, station, category: '48', at: t, elements: [['39', 2]] }), end: 'ETX' }));
    expect((await rtu.reply()).body.readUInt16BE(0)).toBe(9);
    rtu.close();
    await eventually(() => stored.length === 1, 'the real report stored');
    const bad = (await metrics.getSingleMetricAsString('floodgate_sl651_bad_frames_total')) ?? '';
    expect(bad).toContain('SL651_BAD_CRC');
    expect(bad).toContain('SL651_TOO_LONG');
  });

  it('the codec: 100,000 random bodies under every function code never throw, and what becomes a reading is valid', () => {
    const zone = parseZone('+08:00')!;
    const st = { address: '3110000001', sensors: { rain: 'RG-001', 'water-level': 'WL-001' } as const, passwordHash: undefined, networks: undefined };
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 200 }), (func, bytes) => {
        // A valid send time, then anything: the decoder's elements, F0F0 and F4/F5 paths all get noise.
        const body = Buffer.concat([Buffer.from('0001261207100000', 'hex'), Buffer.from(bytes)]);
        const r = decodeReport(func, body);
        if ('problem' in r) return;
        for (const v of r.report.values) expect(v.value === null || Number.isFinite(v.value)).toBe(true);
        for (const out of mapReport(r.report, st, zone).readings) for (const item of out.items) expect(READING_SCHEMAS[out.kind].safeParse(item).success).toBe(true);
        // The frame layer round-trips the body.
        const f = readFrame(encodeFrame({ direction: 'up', centre: '01', station: st.address, password: '1234', func, body, end: 'ETX' }));
        expect('frame' in f && f.frame.body.equals(body)).toBe(true);
      }),
      { numRuns: 100_000, seed: SEED },
    );
  });
});
