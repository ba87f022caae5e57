import { describe, expect, it } from 'vitest';
import { depthAt, underpassStormProfile } from './storm.ts';
import { prng } from '../lib/prng.ts';
import { evaluate, newEngineState, type EngineContext } from '../rules/engine.ts';
import { compileRules, RulesFile } from '../rules/spec.ts';

const { rules } = compileRules(RulesFile.parse({ version: 1 }), [{ id: 'UP-001', kind: 'underpass', name: 'u', road: '', district: 'd', lat: 31, lon: 121 }]);
const ctx: EngineContext = { sensor: () => ({ id: 'PD-001', kind: 'ponding', siteId: 'UP-001', district: 'd' }), rules: (id) => rules.get(id), districtMinGauges: 3 };

describe('underpass storm profile', () => {
  it.each([1, 2, 3, 42, 2026])('seed %i: every sensor closes once and reopens once under the default rules', (seed) => {
    const rand = prng(seed);
    for (let s = 0; s < 10; s++) {
      const p = underpassStormProfile(rand);
      const state = newEngineState();
      const events: string[] = [];
      let peak = 0;
      for (let min = 0; min < p.durationMin; min++) {
        const depthCm = depthAt(p, min, rand);
        if (!p.spikesAtMin.includes(min)) peak = Math.max(peak, depthCm);
        const r = evaluate(state, { kind: 'ponding', sensorId: 'PD-001', ts: min * 60_000, seq: min, fields: { depth_cm: depthCm } }, min * 60_000, ctx);
        for (const t of r.transitions) if (t.ruleId === 'underpass-closure') events.push(t.state === 'firing' ? 'close' : 'reopen');
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
