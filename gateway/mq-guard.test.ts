import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { Fifo, guardMq } from './mq-guard.ts';

// aedes' own message bus, as aedes creates it (a dependency of aedes, not of floodgate).
const require = createRequire(import.meta.resolve('aedes'));
const mqemitter = require('mqemitter') as (o: { concurrency: number }) => {
  on(topic: string, fn: (m: { topic: string; n?: number }, cb: () => void) => void): void;
  emit(m: { topic: string; n?: number }, cb?: () => void): void;
  length: number;
};

/** One slow message holds the only slot while 20,000 queue behind it, then lets go. */
function backlog(guard: boolean): Promise<{ delivered: number[]; error?: string }> {
  const mq = mqemitter({ concurrency: 1 });
  if (guard) expect(guardMq(mq)).toBe(true);
  const delivered: number[] = [];
  mq.on('hold', (_m, cb) => setTimeout(cb, 5));
  mq.on('t', (m, cb) => {
    delivered.push(m.n!);
    cb(); // a subscriber that is done at once (QoS 0, room in the socket buffer)
  });
  mq.emit({ topic: 'hold' });
  for (let n = 0; n < 20_000; n++) mq.emit({ topic: 't', n });
  return new Promise((resolve) => {
    const onError = (err: Error) => resolve({ delivered, error: err.message });
    process.once('uncaughtException', onError);
    const check = setInterval(() => {
      if (delivered.length === 20_000) {
        clearInterval(check);
        process.off('uncaughtException', onError);
        resolve({ delivered });
      }
    }, 20);
    setTimeout(() => {
      clearInterval(check);
      process.off('uncaughtException', onError);
      resolve({ delivered });
    }, 5000);
  });
}

describe('mqemitter recursion guard', () => {
  it('delivers a 20,000-message backlog in order without overflowing the stack', async () => {
    const r = await backlog(true);
    expect(r.error).toBeUndefined();
    expect(r.delivered).toHaveLength(20_000);
    expect(r.delivered.every((n, i) => n === i)).toBe(true);
  });
  it('without the guard the same backlog kills the process (the upstream fault this works around)', async () => {
    const r = await backlog(false);
    expect(r.error).toMatch(/Maximum call stack size exceeded/);
  });
  it('a Fifo is first in, first out, through growth and compaction', () => {
    const q = new Fifo<number>();
    const out: number[] = [];
    for (let i = 0; i < 5000; i++) {
      q.push(i);
      if (i % 3 === 0) out.push(q.shift()!);
    }
    while (q.length > 0) out.push(q.shift()!);
    expect(out).toEqual(Array.from({ length: 5000 }, (_, i) => i));
    expect(q.shift()).toBeUndefined();
  });
  it('leaves an emitter it does not know alone', () => {
    expect(guardMq({ emit() {} })).toBe(false);
  });
});
