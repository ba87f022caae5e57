/**
 * Time is passed in, never read from globals in decision code, so tests can drive it: the time
 * now, and timers that fire by that time. `systemClock` is the wall clock and Node's timers;
 * `manualClock` moves only when a test says so, firing what falls due on the way.
 */
export interface Clock {
  now(): number; // epoch ms
}

/** An opaque timer handle. */
export type TimerHandle = { readonly __timer: unique symbol } | NodeJS.Timeout;

/** A clock whose timers fire by its own time. */
export interface TimerClock extends Clock {
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle | undefined): void;
}

export const systemClock: TimerClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout | undefined),
};

export interface ManualClock extends TimerClock {
  /** Move time forward by `ms`, firing every timer that falls due, in order of due time. */
  advance(ms: number): void;
  /**
   * The same, letting the work each timer starts settle before the next fires (a macrotask turn:
   * promises of in-process stores resolve within it). For timers whose work is asynchronous.
   */
  advanceAsync(ms: number): Promise<void>;
  /** Timers waiting to fire. */
  pending(): number;
}

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

export function manualClock(startMs = 0): ManualClock {
  let now = startMs;
  let seq = 0;
  const timers = new Map<number, { at: number; seq: number; fn: () => void }>();
  /** Fire the earliest timer due by `until` (ties: the one set first; one set while firing counts too). */
  const fireNext = (until: number): boolean => {
    let next: [number, { at: number; seq: number; fn: () => void }] | undefined;
    for (const entry of timers) if (entry[1].at <= until && (!next || entry[1].at < next[1].at || (entry[1].at === next[1].at && entry[1].seq < next[1].seq))) next = entry;
    if (!next) return false;
    timers.delete(next[0]);
    now = next[1].at;
    next[1].fn();
    return true;
  };
  return {
    now: () => now,
    setTimeout(fn, ms) {
      const id = ++seq;
      timers.set(id, { at: now + Math.max(0, ms), seq: id, fn });
      return id as unknown as TimerHandle;
    },
    clearTimeout(handle) {
      timers.delete(handle as unknown as number);
    },
    advance(ms) {
      const until = now + ms;
      while (fireNext(until));
      now = until;
    },
    async advanceAsync(ms) {
      const until = now + ms;
      await turn();
      while (fireNext(until)) await turn();
      now = until;
    },
    pending: () => timers.size,
  };
}

/**
 * Run `fn` every `ms` by `clock`'s timers (each run scheduled when the last one ends, so a slow run
 * never stacks up behind itself). A throwing `fn` is the caller's to catch: the timer goes on.
 */
export function repeat(clock: TimerClock, ms: number, fn: () => void): { stop(): void } {
  let handle: TimerHandle | undefined;
  let stopped = false;
  const tick = () => {
    try {
      fn();
    } finally {
      if (!stopped) handle = clock.setTimeout(tick, ms);
    }
  };
  handle = clock.setTimeout(tick, ms);
  return {
    stop() {
      stopped = true;
      clock.clearTimeout(handle);
    },
  };
}
