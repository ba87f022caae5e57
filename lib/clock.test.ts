import { describe, expect, it } from 'vitest';
import { manualClock, repeat } from './clock.ts';

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

describe('repeat', () => {
  it('runs every interval by the clock until stopped, and goes on after a run that throws', () => {
    const clock = manualClock(0);
    const runs: number[] = [];
    const r = repeat(clock, 100, () => {
      runs.push(clock.now());
      if (runs.length === 2) throw new Error('one bad run');
    });
    clock.advance(100);
    expect(() => clock.advance(100)).toThrow('one bad run');
    clock.advance(150);
    expect(runs).toEqual([100, 200, 300]);
    r.stop();
    clock.advance(1000);
    expect(runs).toEqual([100, 200, 300]);
    expect(clock.pending()).toBe(0);
  });
});
