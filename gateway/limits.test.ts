import { describe, expect, it } from 'vitest';
import mqttPacket from 'mqtt-packet';
import { keepaliveProblem, PacketSizeReader, takeToken, unsupportedProtocolLevel, type Bucket } from './limits.ts';

describe('takeToken', () => {
  it('allows a burst, then the sustained rate', () => {
    let b: Bucket | undefined;
    const allowed: boolean[] = [];
    // 3-message burst at t=0, then one attempt every 100 ms at 2/s.
    for (const t of [0, 0, 0, 0, 100, 200, 300, 400, 500, 1000]) {
      const r = takeToken(b, t, 2, 3);
      b = r.bucket;
      allowed.push(r.allowed);
    }
    expect(allowed).toEqual([true, true, true, false, false, false, false, false, true, true]);
  });

  it('never refills above the burst', () => {
    const r = takeToken({ tokens: 0, atMs: 0 }, 3_600_000, 5, 10);
    expect(r.bucket.tokens).toBe(9);
  });

  it('tolerates a clock that goes backwards', () => {
    const r = takeToken({ tokens: 1, atMs: 1000 }, 500, 5, 10);
    expect(r).toEqual({ allowed: true, bucket: { tokens: 0, atMs: 500 } });
  });
});

describe('keepaliveProblem', () => {
  const L = { keepaliveMinS: 5, keepaliveMaxS: 1800 };
  it.each([
    [60, null],
    [5, null],
    [1800, null],
    [0, null],
    [4, 'below'],
    [1801, 'above'],
  ] as const)('%i s → %s', (k, problem) => {
    const p = keepaliveProblem(k, L);
    if (problem === null) expect(p).toBeNull();
    else expect(p).toContain(problem);
  });
});

describe('PacketSizeReader', () => {
  const publish = (bytes: number) =>
    mqttPacket.generate({ cmd: 'publish', topic: 't', payload: Buffer.alloc(bytes), qos: 0, retain: false, dup: false, messageId: 0 } as mqttPacket.IPublishPacket);
  const ping = mqttPacket.generate({ cmd: 'pingreq' } as mqttPacket.IPingreqPacket);

  it.each([
    ['a small packet', [publish(10)], 100, null],
    ['an exactly-max packet', [publish(100 - 5)], 100, null],
    ['one byte over', [publish(100 - 4)], 100, 101],
    ['a large one after small ones', [publish(1), ping, publish(1), publish(70_000)], 65_536, 70_000 + 1 + 3 + 2 + 1],
    ['zero-length packets', [ping, ping, ping], 10, null],
  ])('%s', (_n, packets, max, expected) => {
    const stream = Buffer.concat(packets as Buffer[]);
    expect(new PacketSizeReader().push(stream, max)).toBe(expected);
  });

  it('works across any chunk boundary', () => {
    const stream = Buffer.concat([publish(300), ping, publish(5000), publish(2)]);
    for (let size = 1; size <= 7; size++) {
      const r = new PacketSizeReader();
      let found: number | 'malformed' | null = null;
      for (let i = 0; i < stream.length && found === null; i += size) found = r.push(stream.subarray(i, i + size), 1000);
      expect(found).toBe(1 + 2 + 3 + 5000); // fixed header byte + 2-byte remaining length + topic (2+1) + payload
    }
  });

  it('flags a remaining length longer than four bytes', () => {
    expect(new PacketSizeReader().push(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]), 1e9)).toBe('malformed');
  });
});

describe('unsupportedProtocolLevel', () => {
  // CONNECT: 10, remaining length, 00 04 "MQTT", level, flags, keepalive, client id.
  const connect = (level: number, name = 'MQTT') => Buffer.concat([Buffer.from([0x10, 10 + name.length]), Buffer.from([0, name.length]), Buffer.from(name), Buffer.from([level, 0x02, 0, 60, 0, 0])]);
  it.each([
    ['MQTT 3.1.1', connect(4), null],
    ['MQTT 3.1 (MQIsdp)', connect(3, 'MQIsdp'), null],
    ['MQTT 5 (aedes answers it)', connect(5), null],
    ['level 6', connect(6), 6],
    ['level 0', connect(0), 0],
    ['not a CONNECT', Buffer.from([0x30, 0x02, 0, 0]), null],
    ['too short to tell', connect(6).subarray(0, 5), null],
  ] as const)('%s → %s', (_name, chunk, level) => expect(unsupportedProtocolLevel(chunk)).toBe(level));
});
