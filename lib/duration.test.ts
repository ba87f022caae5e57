import { describe, expect, it } from 'vitest';
import { parseDuration } from './duration.ts';

describe('parseDuration', () => {
  it.each([
    ['90', 90],
    ['90s', 90],
    ['5m', 300],
    ['1.5h', 5400],
  ])('%s → %s s', (text, s) => expect(parseDuration(text, '--duration')).toBe(s));
  it.each([undefined, '', '0', '-5s', '5 minutes', '8d', '9999h'])('refuses %s, naming the option', (text) => {
    expect(() => parseDuration(text, '--duration')).toThrow(/--duration must be a duration/);
  });
});
