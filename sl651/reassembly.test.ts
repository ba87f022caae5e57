import { describe, expect, it } from 'vitest';
import { addPacket, type Assembly } from './reassembly.ts';

const packet = (seq: number, total = 3, extra: Partial<Parameters<typeof addPacket>[1]> = {}) => ({ func: 0x36, total, seq, body: Buffer.from(`p${seq}`), nowMs: 1000, timeoutMs: 60_000, maxBytes: 100, ...extra });

describe('addPacket', () => {
  it('ACKs each packet and gives the body in sequence order when the last one is in, whatever the order they came in', () => {
    let s: Assembly | undefined;
    const kinds: string[] = [];
    for (const seq of [2, 1, 3]) {
      const o = addPacket(s, packet(seq));
      kinds.push(o.kind);
      s = o.state;
      if (o.kind === 'complete') expect(o.body.toString()).toBe('p1p2p3');
    }
    expect(kinds).toEqual(['ack', 'ack', 'complete']);
    expect(s).toBeUndefined();
  });

  it.each([
    ['a sequence number beyond the count', packet(4), 'nak'],
    ['sequence 0', packet(0), 'nak'],
    ['a report over the size cap', packet(1, 3, { body: Buffer.alloc(101) }), 'nak'],
  ] as const)('NAKs %s', (_name, p, kind) => expect(addPacket(undefined, p).kind).toBe(kind));

  it('starts afresh when the packets stopped coming for longer than the timeout, or another report begins', () => {
    const one = addPacket(undefined, packet(1)).state;
    expect(addPacket(one, packet(2, 3, { nowMs: 1000 + 60_001 })).state!.parts.size).toBe(1);
    expect(addPacket(one, packet(2, 3, { func: 0x34 })).state!.parts.size).toBe(1);
    expect(addPacket(one, packet(2)).state!.parts.size).toBe(2);
  });

  it('a packet sent again replaces the copy it had (a NAK answered)', () => {
    const one = addPacket(undefined, packet(1)).state;
    const again = addPacket(one, { ...packet(1), body: Buffer.from('P1') }).state!;
    expect(again.parts.get(1)!.toString()).toBe('P1');
    expect(again.bytes).toBe(2);
  });
});
