import { describe, expect, it } from 'vitest';
import { createFeed } from './feed.ts';

describe('change feed', () => {
  const filled = (n: number, opts = { maxBatches: 3, maxBytes: 1_000 }) => {
    const f = createFeed(opts);
    for (let i = 1; i <= n; i++) f.push(`b${i}`);
    return f;
  };
  it.each([
    ['nothing pushed, resume from 0', 0, 0, []],
    ['up to date', 2, 2, []],
    ['one behind', 2, 1, ['b2']],
    ['from the start, all still held', 3, 0, ['b1', 'b2', 'b3']],
    ['from the start, the first dropped', 5, 0, null],
    ['the oldest held batch follows', 5, 2, ['b3', 'b4', 'b5']],
    ['older than the ring', 5, 1, null],
    ['an id from the future (another process)', 2, 9, null],
    ['not an id', 2, Number.NaN, null],
    ['negative', 2, -1, null],
  ] as const)('%s', (_name, pushed, lastId, want) => {
    const f = filled(pushed);
    const got = f.since(lastId);
    expect(got === null ? null : got.map((b) => b.text)).toEqual(want);
  });

  it('numbers batches from 1 and bounds the ring by bytes too', () => {
    const f = createFeed({ maxBatches: 100, maxBytes: 10 });
    expect(f.push('12345')).toBe(1);
    expect(f.push('12345')).toBe(2);
    expect(f.push('12345')).toBe(3); // 15 bytes: the first goes
    expect(f.lastId()).toBe(3);
    expect(f.since(1)!.map((b) => b.id)).toEqual([2, 3]);
    expect(f.since(0)).toBeNull();
  });

  it('keeps a single batch larger than the byte bound', () => {
    const f = createFeed({ maxBatches: 100, maxBytes: 4 });
    f.push('a very long batch');
    expect(f.since(0)!.map((b) => b.id)).toEqual([1]);
  });
});
