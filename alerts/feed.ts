/**
 * The console's change feed: numbered batches of changes in a bounded ring, so a console that
 * lost its connection resumes from the last batch it saw (SSE `Last-Event-ID`, WHATWG HTML
 * §9.2 "server-sent events") instead of downloading the whole state again. Pure data structure:
 * no I/O, no clock.
 */

export interface FeedBatch {
  /** Monotonic, starts at 1; the SSE event id. */
  id: number;
  /** The batch as it goes on the wire (serialized once for every console). */
  text: string;
}

export interface Feed {
  /** Append a batch; returns its id. */
  push(text: string): number;
  /** The id of the newest batch (0 before any). */
  lastId(): number;
  /**
   * The batches after `lastId`, or null when the feed can no longer say (the id is older than
   * the ring, or from another process: ids restart at 1) and the caller must start over.
   */
  since(lastId: number): FeedBatch[] | null;
}

/** `maxBatches` and `maxBytes` bound the ring; the oldest batches go first. */
export function createFeed(opts: { maxBatches: number; maxBytes: number }): Feed {
  const ring: FeedBatch[] = [];
  let bytes = 0;
  let next = 1;
  return {
    push(text) {
      const b = { id: next++, text };
      ring.push(b);
      bytes += text.length;
      while (ring.length > 1 && (ring.length > opts.maxBatches || bytes > opts.maxBytes)) bytes -= ring.shift()!.text.length;
      return b.id;
    },
    lastId: () => next - 1,
    since(lastId) {
      if (!Number.isInteger(lastId) || lastId < 0 || lastId > next - 1) return null;
      if (lastId === next - 1) return [];
      const first = ring[0];
      // The batch right after lastId must still be in the ring, or something was dropped.
      if (!first || first.id > lastId + 1) return null;
      return ring.slice(lastId + 1 - first.id);
    },
  };
}
