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
