import { describe, expect, it } from 'vitest';
import { backoffDelay, parseRetryAfter } from './backoff.ts';

describe('backoffDelay', () => {
  const policy = { baseMs: 100, maxMs: 5_000, minMs: 10 };
  it.each([
    // attempt, random, expected
    [0, 0.999, 99],
    [1, 0.999, 199],
    [3, 0.5, 400],
    [10, 0.999, 4_995], // capped at maxMs
    [1000, 0.999, 4_995], // huge attempt counts do not overflow
    [0, 0, 10], // never below minMs
  ])('attempt %i with random %f → %i ms', (attempt, r, expected) => {
    expect(backoffDelay(attempt, policy, () => r)).toBe(expected);
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-07-01T00:00:00Z');
  it.each([
    [undefined, undefined],
    ['', undefined],
    ['garbage', undefined],
    ['5', 5_000],
    ['999999', 3_600_000], // capped
    ['Wed, 01 Jul 2026 00:00:30 GMT', 30_000],
    ['Tue, 30 Jun 2026 23:00:00 GMT', 0], // in the past: retry now
  ])('%s → %s', (header, expected) => {
    expect(parseRetryAfter(header, now)).toBe(expected);
  });
});
