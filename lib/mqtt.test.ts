import { describe, expect, it } from 'vitest';
import mqttPacket from 'mqtt-packet';
import { pubackFrames } from './mqtt.ts';

describe('pubackFrames', () => {
  it.each([[[1]], [[255]], [[256]], [[65535]], [[7, 1, 300, 65535, 42]]])('%j: the bytes mqtt-packet writes for each PUBACK, in order', (ids) => {
    const expected = Buffer.concat(ids.map((messageId) => mqttPacket.generate({ cmd: 'puback', messageId })));
    expect(pubackFrames(ids).equals(expected)).toBe(true);
  });

  it.each([4, 5] as const)('MQTT %i: a broker parses each frame as a PUBACK of its id', (protocolVersion) => {
    const ids = [1, 2, 513, 65535];
    const parser = mqttPacket.parser({ protocolVersion });
    const seen: Array<{ cmd: string; messageId?: number; reasonCode?: number }> = [];
    parser.on('packet', (p) => seen.push(p as (typeof seen)[number]));
    parser.on('error', (err) => seen.push({ cmd: `error: ${err.message}` }));
    parser.parse(pubackFrames(ids));
    expect(seen.map((p) => [p.cmd, p.messageId])).toEqual(ids.map((id) => ['puback', id]));
    // MQTT 5: a PUBACK without a reason code means 0x00, Success [MQTT-3.4.2.1].
    for (const p of seen) expect(p.reasonCode ?? 0).toBe(0);
  });

  it('no ids, no bytes', () => {
    expect(pubackFrames([]).length).toBe(0);
  });
});
