import { describe, expect, it } from 'vitest';
import { addRain, newRainState, newSensorState } from './engine.ts';
import { deserializeSensor, serializeSensor } from './state-store.ts';

describe('rules state store', () => {
  it.each([
    ['a ponding sensor mid-closure', { ...newSensorState(5), lastTs: 100, recentTs: [90, 100], recentV: [26, 27], closure: { phase: 'pending' as const, since: 90, count: 2 } }],
    ['a rain gauge with a day of buckets', (() => {
      const s = { ...newSensorState(5), rain: newRainState() };
      for (let m = 0; m < 2000; m += 7) addRain(s.rain, 29_000_000 + m, (m % 5) / 10);
      s.rain.seen.add(123);
      s.rain.shown = 1;
      s.rain.alertId = 'rainstorm:RG-1:1';
      return s;
    })()],
  ])('round-trips %s', (_case, state) => {
    const back = deserializeSensor(serializeSensor(state));
    expect(back).toEqual(state);
  });
});
