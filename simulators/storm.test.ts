import { describe, expect, it } from 'vitest';
import { depthAt, underpassStormProfile } from './storm.ts';
import { prng } from '../lib/prng.ts';
import { evaluateUnderpass, initialUnderpassState } from '../rules/underpass.ts';
import { UnderpassThresholds } from '../config/registry.ts';

describe('underpass storm profile', () => {
  it.each([1, 2, 3, 42, 2026])('seed %i: every sensor closes once and reopens once under the default rule', (seed) => {
    const rand = prng(seed);
    for (let s = 0; s < 10; s++) {
      const p = underpassStormProfile(rand);
      let state = initialUnderpassState;
      const events: string[] = [];
      let peak = 0;
      for (let min = 0; min < p.durationMin; min++) {
        const depthCm = depthAt(p, min, rand);
        if (!p.spikesAtMin.includes(min)) peak = Math.max(peak, depthCm);
        const r = evaluateUnderpass(state, { ts: min * 60_000, depthCm }, UnderpassThresholds.parse({}), 'UP-001');
        state = r.state;
        if (r.event) events.push(r.event.type);
      }
      expect(peak).toBeGreaterThan(25);
      expect(events).toEqual(['close', 'reopen']);
    }
  });

  it('injects a vehicle spike above 25 cm on a dry road', () => {
    const rand = prng(7);
    const p = underpassStormProfile(rand);
    const at = p.spikesAtMin[0]!;
    expect(depthAt(p, at, rand)).toBeGreaterThan(25);
    expect(depthAt(p, at - 1, rand)).toBeLessThan(1);
  });

  it('is deterministic for a seed', () => {
    const a = prng(9);
    const b = prng(9);
    const pa = underpassStormProfile(a);
    const pb = underpassStormProfile(b);
    expect(pa).toEqual(pb);
    expect([0, 20, 40].map((m) => depthAt(pa, m, a))).toEqual([0, 20, 40].map((m) => depthAt(pb, m, b)));
  });
});
