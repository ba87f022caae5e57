import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { addRain, newEngineState, newRainState, newSensorState, type EngineState } from './engine.ts';
import { deserializeSensor, openStateStore, serializeDistrict, serializeSensor } from './state-store.ts';
import { tempDir } from '../test/helpers/servers.ts';

describe('rules state store', () => {
  const dirs: Array<{ remove(): void }> = [];
  afterEach(() => dirs.splice(0).forEach((d) => d.remove()));

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

  it('saves the snapshots it is given and loads them after a reopen', () => {
    const d = tempDir('rules-state');
    dirs.push(d);
    const path = join(d.path, 'state.db');
    const a = openStateStore(path);
    const state: EngineState = newEngineState();
    state.sensors.set('PD-1', { ...newSensorState(1), lastTs: 42, closure: { phase: 'firing', since: 40, count: 0, alertId: 'x' } });
    state.sensors.set('PD-2', newSensorState(1)); // not saved: not named
    state.districts.set('d1', { gauges: new Map([['RG-1', 2]]), level: -1 });
    a.saveSerialized(new Map([['PD-1', serializeSensor(state.sensors.get('PD-1')!)]]), new Map([['d1', serializeDistrict(state.districts.get('d1')!)]]));
    a.close();
    const b = openStateStore(path);
    const loaded = b.load();
    b.close();
    expect([...loaded.sensors.keys()]).toEqual(['PD-1']);
    expect(loaded.sensors.get('PD-1')).toEqual(state.sensors.get('PD-1'));
    expect(loaded.districts.get('d1')).toEqual(state.districts.get('d1'));
  });
});
