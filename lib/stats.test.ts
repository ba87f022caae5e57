import { describe, expect, it } from 'vitest';
import { percentile } from './stats.ts';

describe('percentile (nearest rank, sorted input)', () => {
  const xs = Array.from({ length: 100 }, (_, i) => i + 1);
  it.each([
    [50, 51],
    [99, 100],
    [0, 1],
    [100, 100],
  ])('p%s of 1..100 is %s', (p, v) => expect(percentile(xs, p)).toBe(v));
  it('is 0 for no values, and reads typed arrays', () => {
    expect(percentile([], 99)).toBe(0);
    expect(percentile(Float64Array.from([1, 2, 3]), 50)).toBe(2);
  });
});
