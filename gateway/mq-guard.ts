/**
 * mqemitter 7.1 (aedes' in-process message bus) holds at most `concurrency` messages in flight and
 * queues the rest; when a slot frees it takes the next queued message synchronously, inside the
 * callback that freed the slot. Subscribers that finish synchronously (QoS 0 deliveries, a
 * subscriber whose socket buffer has room) therefore recurse one level per queued message: a
 * backlog of some thousands — a reconnect storm, 10,000 load-test devices — overflows the stack
 * and the broker process dies ("Maximum call stack size exceeded" in Qlobber._match2; upstream:
 * mcollina/mqemitter#204, open). Reproduced in gateway/mq-guard.test.ts.
 *
 * The guard counts the synchronous depth of `_do` and, past `maxDepth`, continues the chain on the
 * next turn of the event loop (setImmediate); and it swaps the two queue arrays for O(1) FIFOs
 * (see Fifo). The deferred message keeps its slot meanwhile
 * (`current` stays counted), so later messages still queue behind it: delivery order is the
 * broker's order, as before.
 */
interface MqInternals {
  _do(message: unknown, callback: unknown): unknown;
  current: number;
  _doing: boolean;
  _messageQueue: unknown;
  _messageCallbacks: unknown;
}

/**
 * A FIFO with O(1) shift, for mqemitter's two queues. Array#shift copies the array once it is
 * large (50 µs per shift at 500,000 entries here): a backlog built at 20,000 readings/s then
 * drained at a few hundred a second, the broker's CPU all in mqemitter's `released`.
 */
export class Fifo<T> {
  private items: Array<T | undefined> = [];
  private head = 0;
  push(x: T): number {
    this.items.push(x);
    return this.items.length - this.head;
  }
  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const x = this.items[this.head];
    this.items[this.head++] = undefined;
    // Compact once the consumed prefix is most of the array (amortised O(1)).
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return x;
  }
  get length(): number {
    return this.items.length - this.head;
  }
}

export function guardMq(mq: unknown, maxDepth = 256): boolean {
  const m = mq as Partial<MqInternals>;
  if (typeof m._do !== 'function' || typeof m.current !== 'number' || !Array.isArray(m._messageQueue) || !Array.isArray(m._messageCallbacks)) return false; // another emitter (e.g. Redis): nothing to guard
  const queued = new Fifo<unknown>();
  const callbacks = new Fifo<unknown>();
  for (const x of m._messageQueue as unknown[]) queued.push(x);
  for (const x of m._messageCallbacks as unknown[]) callbacks.push(x);
  m._messageQueue = queued;
  m._messageCallbacks = callbacks;
  const inner = m._do.bind(mq);
  let depth = 0;
  m._do = function guardedDo(this: MqInternals, message: unknown, callback: unknown) {
    if (depth >= maxDepth) {
      this.current++; // hold the slot: nothing overtakes this message
      this._doing = true;
      setImmediate(() => {
        this.current--;
        inner(message, callback);
      });
      return this;
    }
    depth++;
    try {
      return inner(message, callback);
    } finally {
      depth--;
    }
  };
  return true;
}
