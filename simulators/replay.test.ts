import { describe, expect, it } from 'vitest';
import type { Reading } from '../contracts/index.ts';
import { schedule } from './replay.ts';

const r = (min: number): Reading => ({ kind: 'ponding', sensorId: 'PD-001', ts: Date.parse('2026-07-01T18:00:00+08:00') + min * 60_000, seq: min, fields: { depth_cm: min } });

describe('replay schedule', () => {
  const now = Date.parse('2026-11-28T10:00:00+08:00');
  it.each([
    ['shifted to end now, at speed 60 (a minute a second)', { speed: 60, shift: true }, [0, 1000, 5000], [now - 5 * 60_000, now - 4 * 60_000, now]],
    ['kept as recorded, at speed 600', { speed: 600, shift: false }, [0, 100, 500], [r(0).ts, r(1).ts, r(5).ts]],
  ])('%s', (_c, o, at, ts) => {
    const plan = schedule([r(5), r(0), r(1)], now, o);
    expect(plan.map((p) => p.atMs)).toEqual(at);
    expect(plan.map((p) => p.reading.ts)).toEqual(ts);
    expect(plan.map((p) => p.reading.fields['depth_cm'])).toEqual([0, 1, 5]); // in time order, values untouched
  });
  it('an empty recording is an empty plan', () => {
    expect(schedule([], now, { speed: 60, shift: true })).toEqual([]);
  });
});
