import { describe, expect, it } from 'vitest';
import { decideOnWriteFailure, splitBatch, spoolLevel, type WriteFailure } from './write-outcome.ts';

describe('decideOnWriteFailure', () => {
  const http = (status: number, retryAfterMs?: number): WriteFailure => ({ kind: 'http', status, message: 'msg', retryAfterMs });
  it.each<[string, WriteFailure, number, ReturnType<typeof decideOnWriteFailure>]>([
    ['connection refused', { kind: 'network', message: 'ECONNREFUSED' }, 100, { action: 'retry', delayMs: 500 }],
    ['503', http(503), 100, { action: 'retry', delayMs: 500 }],
    ['500', http(500), 1, { action: 'retry', delayMs: 500 }],
    ['429 with Retry-After 30 s', http(429, 30_000), 100, { action: 'retry', delayMs: 30_000 }],
    ['408', http(408), 100, { action: 'retry', delayMs: 500 }],
    ['400 in a batch: split', http(400), 100, { action: 'split' }],
    ['422 in a batch: split', http(422), 2, { action: 'split' }],
    ['400 on one line: dead letter', http(400), 1, { action: 'dead-letter', error: 'HTTP 400: msg' }],
    ['413 on one line: dead letter', http(413), 1, { action: 'dead-letter', error: 'HTTP 413: msg' }],
  ])('%s', (_n, failure, size, expected) => {
    expect(decideOnWriteFailure(failure, size, 500)).toEqual(expected);
  });
});

describe('splitBatch', () => {
  it.each([
    [[1, 2, 3, 4], [[1, 2], [3, 4]]],
    [[1, 2, 3], [[1, 2], [3]]],
    [[1, 2], [[1], [2]]],
  ])('%j → %j', (rows, expected) => {
    expect(splitBatch(rows)).toEqual(expected);
  });
});

describe('spoolLevel', () => {
  it.each([
    [0, 'ok'],
    [49, 'ok'],
    [50, 'warning'],
    [80, 'critical'],
    [100, 'full'],
    [150, 'full'],
  ] as const)('%i of 100 → %s', (bytes, level) => {
    expect(spoolLevel(bytes, 100)).toBe(level);
  });
});
