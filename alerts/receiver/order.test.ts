import { describe, expect, it } from 'vitest';
import { judgeNotice, type Accepted } from './order.ts';

const none: Accepted = { seen: false, maxEpoch: undefined, maxSequence: undefined };
const after = (maxEpoch: number, maxSequence: number, seen = false): Accepted => ({ seen, maxEpoch, maxSequence });

describe('judgeNotice', () => {
  it.each([
    ['the first notice for an underpass', none, 0, 1, 'accept'],
    ['the next sequence', after(0, 1), 0, 2, 'accept'],
    ['a gap in the sequence (numbers are never reused, not contiguous)', after(0, 2), 0, 9, 'accept'],
    ['a new leader: higher epoch, next sequence', after(1, 4), 2, 5, 'accept'],
    ['the same noticeId again, even if older', after(0, 9, true), 0, 1, 'duplicate'],
    ['a captured close replayed after its reopen', after(0, 2), 0, 1, 'stale'],
    ['the same sequence under another id', after(0, 2), 0, 2, 'stale'],
    ['a stale leader (lower epoch), even with a higher sequence', after(2, 5), 1, 6, 'stale'],
  ] as const)('%s → %s', (_c, before, epoch, sequence, kind) => {
    expect(judgeNotice(before, { underpassId: 'UP-335', epoch, sequence }).kind).toBe(kind);
  });

  it('says why it refused, naming the underpass and what it had', () => {
    expect(judgeNotice(after(2, 5), { underpassId: 'UP-335', epoch: 1, sequence: 6 })).toEqual({ kind: 'stale', reason: expect.stringMatching(/stale epoch: 1 for UP-335, which has had a notice of epoch 2/) });
    expect(judgeNotice(after(0, 2), { underpassId: 'UP-335', epoch: 0, sequence: 1 })).toEqual({ kind: 'stale', reason: expect.stringMatching(/stale sequence: 1 for UP-335, which has had sequence 2/) });
  });
});
