import { describe, expect, it } from 'vitest';
import { Readable } from 'node:stream';
import { lastAssignedPacketId, nextPacketId, PACKET_ID_MARGIN } from './packet-ids.ts';

describe('nextPacketId', () => {
  it.each([
    [undefined, undefined],
    [1, 1 + PACKET_ID_MARGIN + 1],
    [100, 100 + PACKET_ID_MARGIN + 1],
    [65535 - PACKET_ID_MARGIN - 1, 65535],
    [65535 - PACKET_ID_MARGIN, 1], // wraps to 1, never 0
    [65535, PACKET_ID_MARGIN + 1],
  ])('after %s → %s', (last, next) => {
    expect(nextPacketId(last)).toBe(next);
  });
});

describe('lastAssignedPacketId', () => {
  it.each([
    ['empty queue', [], undefined],
    ['nothing sent yet (queued offline)', [{}, {}], undefined],
    ['in flight, then queued offline', [{ messageId: 7 }, { messageId: 8 }, {}], 8],
    ['wrapped around', [{ messageId: 65534 }, { messageId: 65535 }, { messageId: 1 }], 1],
  ] as const)('%s', async (_case, queue, last) => {
    expect(await lastAssignedPacketId(Readable.from([...queue] as Array<{ messageId?: number }>, { objectMode: true }))).toBe(last);
  });
});

describe('lastAssignedPacketId reads a bounded part of a long queue', () => {
  it.each([
    ['sent ones first, then a long unsent tail: stops in the tail', [{ messageId: 9 }, ...Array.from({ length: 5000 }, () => ({}))], 9, 9 + 2 + 1],
    ['a sent one just past the first unsent is still seen', [{ messageId: 9 }, {}, { messageId: 10 }, ...Array.from({ length: 50 }, () => ({}))], 10, 9],
    ['nothing sent, a long queue', Array.from({ length: 5000 }, () => ({})), undefined, 3],
  ] as const)('%s', async (_case, queue, last, maxRead) => {
    let read = 0;
    async function* stream() {
      for (const p of queue) {
        read++;
        yield p as { messageId?: number };
      }
    }
    expect(await lastAssignedPacketId(stream(), 2)).toBe(last);
    expect(read).toBeLessThanOrEqual(maxRead);
  });
});
