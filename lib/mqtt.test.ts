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

describe('a CONNACK processed after end()', () => {
  it('does not throw out of the client (mqtt.js would read sessionPresent of an unrecorded CONNACK)', async () => {
    const { connectService } = await import('./mqtt.ts');
    const { createLogger } = await import('./logger.ts');
    // The client is ended as a standby ends a connection that still waits for its CONNACK; then
    // the CONNACK, already read from the socket, is handled (handlers/connack.ts calls _onConnect).
    const client = await connectService({ url: 'mqtt://127.0.0.1:1', service: 'rules', secret: 's', clientId: 'x', clean: false, logger: createLogger({ name: 't', level: 'silent' }) });
    const c = client as unknown as { _firstConnection: boolean; _resubscribeTopics: object; _onConnect(p: object): void };
    c._firstConnection = false; // a reconnect, as after the first session
    c._resubscribeTopics = { 'sensors/+/+/reading': { qos: 1 } };
    client.connect(); // to a closed port: a socket, never a CONNACK
    await new Promise<void>((r) => client.end(true, () => r()));
    expect(() => c._onConnect({ cmd: 'connack', sessionPresent: false, returnCode: 0 })).not.toThrow();
    await new Promise((r) => setImmediate(r)); // the queue's deliver runs its course
  });
});
