import { describe, expect, it } from 'vitest';
import { percentile, steadyRate, type CountAt } from './stats.ts';

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

describe('steadyRate (readings/s between 10% and 90% of the total)', () => {
  /** 1,000 readings/s after a 2 s start, one sample per reading. */
  const even = Array.from({ length: 10_000 }, (_, i): CountAt => ({ t: 2000 + i, n: i + 1 }));
  /** The same arrivals seen through a store that shows them in 1 s steps, polled every 100 ms. */
  const steps = Array.from({ length: 130 }, (_, k): CountAt => {
    const t = 2000 + k * 100 + 40;
    return { t, n: Math.min(10_000, Math.floor((t - 2000) / 1000) * 1000) };
  });
  it.each<[string, CountAt[], number, number]>([
    ['one sample per reading: the slope, not total / time', even, 10_000, 1000],
    ['a stepped store: counts at its steps, start and last step left out', steps, 10_000, 1000],
    ['a slow start and a slow end do not count', [{ t: 0, n: 0 }, { t: 5000, n: 100 }, { t: 6000, n: 1100 }, { t: 7000, n: 2000 }, { t: 20_000, n: 2000 }], 2000, 900],
  ])('%s', (_, samples, total, rate) => expect(steadyRate(samples, total)).toBeCloseTo(rate, 6));
  it.each<[string, CountAt[]]>([
    ['never reaches 90%', [{ t: 0, n: 100 }, { t: 1000, n: 500 }]],
    ['no samples', []],
    ['10% and 90% at the same sample', [{ t: 0, n: 0 }, { t: 10, n: 1000 }]],
  ])('NaN when %s', (_, samples) => expect(steadyRate(samples, 1000)).toBeNaN());
});
