/**
 * A LevelDB database whose writes are group-committed: what aedes-persistence-level writes in one
 * turn of the event loop (and while a batch is being written) goes to disk as one batch.
 *
 * Why: aedes-persistence-level makes about six LevelDB calls per QoS 1 message and subscriber
 * (queue the message, get and put it twice with its packet id on delivery, get and delete both
 * keys on PUBACK), each a round trip to libuv's thread pool. With ingest and the rules as
 * persistent subscribers that is a dozen calls per reading, and the broker carried ~3,000
 * readings/s: in the whole-city storm the rules' alert events waited behind readings for their
 * PUBACK, and police notices came seconds to tens of seconds late (benchmarks/README.md,
 * "Console"). Here a call lands in an in-memory overlay at once, reads see the overlay first, and
 * the overlay goes to disk as one `batch` per window; a message queued and acknowledged within one
 * window is written as a single delete. What was written stays readable from memory (the newest
 * `cacheEntries` keys) so that a delivery's reads of the message just queued, and a PUBACK's of
 * the packet id just given, do not go to the disk (they were 5% of the process's time).
 *
 * Order is kept: windows and `clear`s are written in the order they were asked for, one at a
 * time, each window as one atomic batch, so what is on disk after a crash is always the store as
 * it was at some earlier moment. By default a write's promise settles when the batch holding it is
 * written. With `{ settle: 'visible' }` it settles at once (every read sees it) and `durable()`
 * says when everything written so far is on disk: the caller decides which writes must wait
 * (gateway/level-session-store.ts).
 */

/** The part of a `Level<string, Buffer>` that aedes-persistence-level uses. */
export interface KeyValueStore {
  get(key: string, options?: object): Promise<Buffer | undefined>;
  put(key: string, value: Buffer, options?: object): Promise<void>;
  del(key: string, options?: object): Promise<void>;
  batch(ops: BatchOp[], options?: object): Promise<void>;
  clear(range: Range): Promise<void>;
  values(options: Range & object): AsyncIterable<Buffer>;
  close(): Promise<void>;
}

export type BatchOp = { type: 'put'; key: string; value: Buffer } | { type: 'del'; key: string };
export interface Range {
  gt?: string;
  gte?: string;
  lt?: string;
  lte?: string;
}

/** What a group-committed store adds: a chained batch, as `Level#batch()` gives. */
export interface GroupCommitStore extends Omit<KeyValueStore, 'batch'> {
  batch(ops: BatchOp[], options?: object): Promise<void>;
  batch(): ChainedBatch;
  /** Resolves when every write asked for so far is on disk; rejects if its batch failed. */
  durable(): Promise<void>;
  /** Windows written, operations in them, batches that failed, and reads that went to the disk. */
  stats(): { batches: number; ops: number; failed: number; diskReads: number };
}

export interface ChainedBatch {
  put(key: string, value: Buffer): ChainedBatch;
  del(key: string): ChainedBatch;
  write(): Promise<void>;
}

export function inRange(key: string, r: Range): boolean {
  return (r.gt === undefined || key > r.gt) && (r.gte === undefined || key >= r.gte) && (r.lt === undefined || key < r.lt) && (r.lte === undefined || key <= r.lte);
}

export interface GroupCommitOptions {
  /** When a write's promise settles: once its batch is on disk (default), or at once. */
  settle?: 'durable' | 'visible';
  /** Told of a batch that failed (with `settle: 'visible'` no caller may be waiting for it). */
  onError?: (err: unknown) => void;
  /** Keys written and on disk kept readable from memory, newest first (default 20,000). */
  cacheEntries?: number;
}

export function groupCommit(db: KeyValueStore, options: GroupCommitOptions = {}): GroupCommitStore {
  const visible = options.settle === 'visible';
  /** The newest queued-but-unwritten operation of each key, with the window that writes it. */
  const overlay = new Map<string, BatchOp>();
  const cache = new WrittenCache(options.cacheEntries ?? 20_000);
  /** Clears asked for and not yet done: reads of keys in them answer "not found". */
  const clearing: Range[] = [];
  /** The window taking writes now, if any. */
  let open: Window | undefined;
  const counts = { batches: 0, ops: 0, failed: 0, diskReads: 0 };
  const queue = new WriteQueue();
  const enqueue = (run: () => Promise<void>) => queue.enqueue(run);

  function openWindow(): Window {
    let close = () => {};
    const closed = new Promise<void>((resolve) => (close = resolve));
    const w: Window = { ops: new Map(), close, done: Promise.resolve() };
    // The window closes at the end of this turn or, if a batch is being written, when the queue
    // reaches it, whichever is later: everything written until then rides along.
    setImmediate(close);
    w.done = enqueue(async () => {
      await closed;
      if (open === w) open = undefined;
      await commit(w);
    });
    return w;
  }

  async function commit(w: Window) {
    const list = [...w.ops.values()];
    let written = false;
    try {
      if (list.length > 0) await db.batch(list);
      written = true;
      counts.batches++;
      counts.ops += list.length;
    } catch (err) {
      counts.failed++;
      options.onError?.(err);
      throw err;
    } finally {
      // What was written stays readable from the cache; what failed, from the disk.
      for (const [key, op] of w.ops) {
        if (overlay.get(key) !== op) continue;
        overlay.delete(key);
        if (written) cache.set(key, op);
      }
    }
  }

  function write(op: BatchOp): Promise<void> {
    const w = (open ??= openWindow());
    w.ops.set(op.key, op);
    overlay.set(op.key, op);
    cache.delete(op.key);
    return visible ? Promise.resolve() : w.done;
  }

  /** Resolves when everything asked for so far is on disk (or has failed). */
  function drained(): Promise<void> {
    open?.close();
    return queue.tail;
  }

  function writeAll(list: BatchOp[]): Promise<void> {
    let done: Promise<void> = Promise.resolve();
    for (const op of list) done = write(op.type === 'put' ? { type: 'put', key: op.key, value: op.value } : { type: 'del', key: op.key });
    return done;
  }

  function batch(): ChainedBatch;
  function batch(list: BatchOp[], options?: object): Promise<void>;
  function batch(list?: BatchOp[]): ChainedBatch | Promise<void> {
    return list ? writeAll(list) : stagedBatch(writeAll);
  }

  return {
    async get(key) {
      const queued = overlay.get(key);
      if (queued) return queued.type === 'put' ? queued.value : undefined;
      if (clearing.some((r) => inRange(key, r))) return undefined;
      const known = cache.get(key);
      if (known) return known.type === 'put' ? known.value : undefined;
      counts.diskReads++;
      return db.get(key);
    },
    put: (key, value) => write({ type: 'put', key, value }),
    del: (key) => write({ type: 'del', key }),
    batch,
    clear(range) {
      // Writes asked for before the clear are written first, then cleared; later ones survive.
      open?.close();
      open = undefined;
      // The overlay holds a window or two; the cache is dropped whole rather than scanned (aedes
      // clears a session's incoming packets on every clean connect: 1,207 scans of 20,000 keys
      // when the city reconnects).
      for (const key of overlay.keys()) if (inRange(key, range)) overlay.delete(key);
      cache.clear();
      clearing.push(range);
      return enqueue(() => db.clear(range).finally(() => clearing.splice(clearing.indexOf(range), 1)));
    },
    values(options) {
      return (async function* () {
        await drained();
        yield* db.values(options);
      })();
    },
    async close() {
      await drained();
      await db.close();
    },
    durable: () => (open ? open.done : queue.last),
    stats: () => ({ ...counts }),
  };
}

/** `Level#batch()`'s chained form: operations staged, then written together. */
function stagedBatch(writeAll: (ops: BatchOp[]) => Promise<void>): ChainedBatch {
  const staged: BatchOp[] = [];
  const chained: ChainedBatch = {
    put: (key, value) => (staged.push({ type: 'put', key, value }), chained),
    del: (key) => (staged.push({ type: 'del', key }), chained),
    write: () => writeAll(staged),
  };
  return chained;
}

/** What the disk holds for the newest written keys (a delete: the disk has no such key). */
class WrittenCache {
  readonly #entries = new Map<string, BatchOp>();
  constructor(readonly limit: number) {}
  get(key: string): BatchOp | undefined {
    return this.#entries.get(key);
  }
  /** Newest last: a key written again moves to the end. */
  set(key: string, op: BatchOp) {
    this.#entries.delete(key);
    this.#entries.set(key, op);
    for (const k of this.#entries.keys()) {
      if (this.#entries.size <= this.limit) break;
      this.#entries.delete(k);
    }
  }
  delete(key: string) {
    this.#entries.delete(key);
  }
  clear() {
    this.#entries.clear();
  }
}

/** Tasks run one at a time, in the order asked for. */
class WriteQueue {
  /** Settles after the newest task, failed or not. */
  tail: Promise<void> = Promise.resolve();
  /** The newest task's outcome, failure included. */
  last: Promise<void> = Promise.resolve();
  enqueue(run: () => Promise<void>): Promise<void> {
    const done = this.tail.then(run);
    // A failed task fails its own callers (and onError); the queue goes on with the next. The
    // catch also marks the failure handled when, settling 'visible', nobody awaits the batch.
    this.tail = done.catch(() => undefined);
    this.last = done;
    return done;
  }
}

interface Window {
  ops: Map<string, BatchOp>;
  close: () => void;
  done: Promise<void>;
}
