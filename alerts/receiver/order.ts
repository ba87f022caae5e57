/**
 * What a receiver does with a verified notice, given what it accepted before for the same
 * underpass: the same noticeId again is a duplicate (answered 2xx, not acted on twice); an epoch
 * below the highest accepted is a stale leader's; a sequence at or below the highest accepted is
 * an old notice replayed (a captured close after its reopen). Both are refused, so neither can
 * reopen a closed road or close an open one. Pure: the state is kept by the caller.
 */
export interface Accepted {
  /** This noticeId was accepted before. */
  seen: boolean;
  /** The highest epoch and sequence accepted for the underpass (undefined: nothing yet). */
  maxEpoch: number | undefined;
  maxSequence: number | undefined;
}

export type Verdict = { kind: 'accept' } | { kind: 'duplicate' } | { kind: 'stale'; reason: string };

export function judgeNotice(before: Accepted, n: { underpassId: string; epoch: number; sequence: number }): Verdict {
  if (before.seen) return { kind: 'duplicate' };
  if (before.maxEpoch !== undefined && n.epoch < before.maxEpoch) {
    return { kind: 'stale', reason: `stale epoch: ${n.epoch} for ${n.underpassId}, which has had a notice of epoch ${before.maxEpoch} (an instance that no longer leads)` };
  }
  if (before.maxSequence !== undefined && n.sequence <= before.maxSequence) {
    return { kind: 'stale', reason: `stale sequence: ${n.sequence} for ${n.underpassId}, which has had sequence ${before.maxSequence} (an older notice replayed)` };
  }
  return { kind: 'accept' };
}
