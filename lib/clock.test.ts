import { describe, expect, it } from 'vitest';
import { manualClock } from './clock.ts';

describe('manualClock', () => {
  it('fires what falls due as it advances, in due order (ties: first set first), at the due time', () => {
    const clock = manualClock(1000);
    const fired: string[] = [];
    clock.setTimeout(() => fired.push(`b@${clock.now()}`), 50);
    clock.setTimeout(() => fired.push(`a@${clock.now()}`), 10);
    clock.setTimeout(() => fired.push(`c@${clock.now()}`), 50);
    const cancelled = clock.setTimeout(() => fired.push('never'), 20);
    clock.clearTimeout(cancelled);
    clock.advance(49);
    expect(fired).toEqual(['a@1010']);
    expect(clock.now()).toBe(1049);
    clock.advance(1);
    expect(fired).toEqual(['a@1010', 'b@1050', 'c@1050']);
    expect(clock.pending()).toBe(0);
  });

  it('fires a timer set by a timer when it falls within the same advance', () => {
    const clock = manualClock(0);
    const fired: number[] = [];
    clock.setTimeout(() => {
      fired.push(clock.now());
      clock.setTimeout(() => fired.push(clock.now()), 30);
    }, 10);
    clock.advance(100);
    expect(fired).toEqual([10, 40]);
    expect(clock.now()).toBe(100);
  });
});
