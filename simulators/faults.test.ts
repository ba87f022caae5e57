import { describe, expect, it } from 'vitest';
import { parseReadingPayload, type Reading } from '../contracts/index.ts';
import { applyFaults, Fault, faultTargets, type Send } from './faults.ts';

const MIN = 60_000;
const T0 = Date.parse('2026-07-01T18:00:00+08:00');
/** PD-1 and PD-2 report every minute for 60 minutes (depth = minute), RG-1 every 5. */
const clean: Reading[] = [
  ...['PD-1', 'PD-2'].flatMap((id) => Array.from({ length: 60 }, (_, m): Reading => ({ kind: 'ponding', sensorId: id, ts: T0 + m * MIN, seq: m, fields: { depth_cm: m, battery_v: 3.7 } }))),
  ...Array.from({ length: 12 }, (_, i): Reading => ({ kind: 'rain', sensorId: 'RG-1', ts: T0 + (i + 1) * 5 * MIN, seq: i, fields: { rain_mm: 1, interval_s: 300 } })),
].sort((a, b) => a.ts - b.ts);

const plan = (...faults: unknown[]) => applyFaults(clean, faults.map((f) => Fault.parse(f)), { t0: T0, seed: 1 });
/** What the ingest side makes of the sends: every valid reading of PD-1, in arrival order. */
const arrived = (sends: Send[], id = 'PD-1') =>
  sends
    .filter((s) => s.sensorId === id)
    .flatMap((s) => parseReadingPayload(s.kind, id, Buffer.from(s.payload)).readings)
    .map((r) => ({ min: (r.ts - T0) / MIN, depth: r.fields['depth_cm'], battery: r.fields['battery_v'] }));
const pd1 = (sends: Send[]) => sends.filter((s) => s.sensorId === 'PD-1');

describe('faults on demand', () => {
  it('no faults: one message per reading, in time order, exactly the clean payloads', () => {
    const p = plan();
    expect(p.sends).toHaveLength(clean.length);
    expect(arrived(p.sends).map((r) => r.min)).toEqual(Array.from({ length: 60 }, (_, m) => m));
    expect(p.sends.every((s, i) => i === 0 || s.sendTs >= p.sends[i - 1]!.sendTs)).toBe(true);
    expect(p.effects).toEqual({});
    expect(p.wrongLogins.size).toBe(0);
  });

  it.each<[string, unknown, (p: ReturnType<typeof plan>) => void]>([
    ['dropout: the window is never sent', { kind: 'dropout', sensors: ['PD-1'], fromMin: 10, toMin: 20 }, (p) => {
      expect(arrived(p.sends).map((r) => r.min)).toEqual([...Array.from({ length: 10 }, (_, m) => m), ...Array.from({ length: 40 }, (_, m) => m + 20)]);
      expect(p.effects.dropout).toBe(10);
      expect(arrived(p.sends, 'PD-2')).toHaveLength(60); // the others untouched
    }],
    ['outage: the window arrives as one batch when the link returns, with its own timestamps', { kind: 'outage', sensors: ['PD-1'], fromMin: 10, toMin: 20 }, (p) => {
      const batch = pd1(p.sends).find((s) => s.readings > 1)!;
      expect(batch.readings).toBe(10);
      expect(batch.sendTs).toBe(T0 + 20 * MIN - 1); // as the link returns, just before the next regular reading
      expect(Array.isArray(JSON.parse(batch.payload))).toBe(true);
      expect(arrived(p.sends).map((r) => r.min).sort((a, b) => a - b)).toEqual(Array.from({ length: 60 }, (_, m) => m)); // nothing lost
      expect(arrived(p.sends).slice(10, 12).map((r) => r.min)).toEqual([10, 11]); // the backlog comes in order, before minute 20's reading
    }],
    ['spike: an extra reading 40 cm higher, 20 s after a regular one, every 10 min', { kind: 'spike', sensors: ['PD-1'], fromMin: 0, toMin: 30 }, (p) => {
      const spikes = arrived(p.sends).filter((r) => !Number.isInteger(r.min));
      expect(spikes).toEqual([0, 10, 20].map((m) => ({ min: m + 1 / 3, depth: m + 40, battery: 3.7 })));
      expect(p.effects.spike).toBe(3);
    }],
    ['flatline: the value at the window start, repeated', { kind: 'flatline', sensors: ['PD-1'], fromMin: 30 }, (p) => {
      const r = arrived(p.sends);
      expect(r.slice(30).every((x) => x.depth === 30)).toBe(true);
      expect(r[29]!.depth).toBe(29);
    }],
    ['clock skew: timestamps off by an hour, sent at the true time', { kind: 'clock-skew', sensors: ['PD-1'], skewS: 3600 }, (p) => {
      expect(arrived(p.sends).map((r) => r.min)).toEqual(Array.from({ length: 60 }, (_, m) => m + 60));
      expect(pd1(p.sends).map((s) => s.sendTs)).toEqual(Array.from({ length: 60 }, (_, m) => T0 + m * MIN));
    }],
    ['duplicate: the same bytes again 5 s later', { kind: 'duplicate', sensors: ['PD-1'], probability: 1, toMin: 3 }, (p) => {
      expect(arrived(p.sends).slice(0, 6).map((r) => r.min)).toEqual([0, 0, 1, 1, 2, 2]);
      const [a, b] = pd1(p.sends);
      expect(b!.payload).toBe(a!.payload);
      expect(b!.sendTs - a!.sendTs).toBe(5000);
    }],
    ['reorder: a reading arrives after the next one', { kind: 'reorder', sensors: ['PD-1'], probability: 1, toMin: 4 }, (p) => {
      expect(arrived(p.sends).slice(0, 6).map((r) => r.min)).toEqual([1, 0, 3, 2, 4, 5]);
      expect(p.effects.reorder).toBe(2);
    }],
    ['malformed: every payload broken, no valid reading in it', { kind: 'malformed', sensors: ['PD-1'], probability: 1, toMin: 10 }, (p) => {
      const bad = pd1(p.sends).slice(0, 10);
      expect(bad.every((s) => s.readings === 0)).toBe(true);
      for (const s of bad) {
        const parsed = parseReadingPayload('ponding', 'PD-1', Buffer.from(s.payload));
        expect(parsed.readings).toEqual([]);
        expect(parsed.fatal ?? parsed.errors[0]).toBeDefined(); // the sender gets a reason
      }
      expect(arrived(p.sends)).toHaveLength(50);
    }],
    ['wrong credentials: logins to refuse, readings untouched', { kind: 'wrong-credentials', sensors: ['PD-2'], attempts: 3 }, (p) => {
      expect([...p.wrongLogins]).toEqual([['PD-2', 3]]);
      expect(arrived(p.sends, 'PD-2')).toHaveLength(60);
    }],
    ['battery drain: 3.7 V down to 3.2 V over the window', { kind: 'battery-drain', sensors: ['PD-1'], fromMin: 0, toMin: 50 }, (p) => {
      const b = arrived(p.sends).map((r) => r.battery!);
      expect(b[0]).toBe(3.7);
      expect(b[25]).toBe(3.45);
      expect(b[59]).toBe(3.2);
      expect(b.every((x, i) => i === 0 || x <= b[i - 1]!)).toBe(true);
    }],
  ])('%s', (_c, fault, check) => check(plan(fault)));

  it('is deterministic: same seed, same sends; another seed, another pick', () => {
    const f = [{ kind: 'malformed', fraction: 0.5, probability: 0.3 }, { kind: 'duplicate', fraction: 0.5, probability: 0.5 }];
    expect(plan(...f)).toEqual(plan(...f));
    const other = applyFaults(clean, f.map((x) => Fault.parse(x)), { t0: T0, seed: 2 });
    expect(other.sends).not.toEqual(plan(...f).sends);
  });

  it('a fraction of the fleet: ⌈fraction × n⌉ sensors, of the kinds named', () => {
    const fleet = Array.from({ length: 100 }, (_, i) => ({ id: `S-${i}`, kind: i < 50 ? ('ponding' as const) : ('rain' as const) }));
    const picked = faultTargets(Fault.parse({ kind: 'dropout', fraction: 0.1, kinds: ['rain'] }), fleet, 1, 0);
    expect(picked.size).toBe(5);
    expect([...picked].every((id) => Number(id.slice(2)) >= 50)).toBe(true);
  });

  it.each([
    ['no targets', { kind: 'dropout' }, 'name the targets'],
    ['both targets', { kind: 'dropout', sensors: ['PD-1'], fraction: 0.5 }, 'name the targets'],
    ['an empty window', { kind: 'outage', sensors: ['PD-1'], fromMin: 20, toMin: 10 }, 'toMin must be after fromMin'],
    ['an unknown kind', { kind: 'gremlins', sensors: ['PD-1'] }, 'kind'],
    ['a probability above 1', { kind: 'duplicate', sensors: ['PD-1'], probability: 2 }, 'probability'],
  ])('refuses %s', (_c, f, message) => {
    const r = Fault.safeParse(f);
    expect(r.success).toBe(false);
    expect(JSON.stringify(r.error!.issues)).toContain(message);
  });
});
