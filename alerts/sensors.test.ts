/** The console's sensor board across registry changes (pure: no servers). */
import { describe, expect, it } from 'vitest';
import { createSensorBoard } from './sensors.ts';
import { buildDemoCity } from '../config/demo-city.ts';
import type { Registry } from '../config/registry.ts';

const T = Date.parse('2026-07-01T10:00:00+08:00');

describe('sensor board', () => {
  const demo = buildDemoCity();
  const [a, b, c] = demo.sensors.filter((s) => s.kind === 'ponding') as [Registry['sensors'][number], Registry['sensors'][number], Registry['sensors'][number]];
  const city = (sensors: Registry['sensors']): Registry => ({ ...demo, sensors });
  const ids = (board: ReturnType<typeof createSensorBoard>) => board.list({ limit: 100 }, T).map((s) => s.id);

  it.each([
    ['a sensor added', [a, b], [a, b, c], [a.id, b.id, c.id]],
    ['a sensor removed', [a, b, c], [a, c], [a.id, c.id]],
    ['nothing changed', [a, b], [a, b], [a.id, b.id]],
  ] as const)('%s: the board lists the new registry and keeps what it heard', (_name, before, after, listed) => {
    const board = createSensorBoard(city([...before]));
    board.observe({ kind: 'ponding', sensorId: a.id, ts: T - 60_000, seq: 1, fields: { depth_cm: 12 } }, T);
    board.updateRegistry(city([...after]));
    expect(ids(board)).toEqual(listed);
    expect(board.list({ q: a.id, limit: 1 }, T)[0]).toMatchObject({ value: 12, ts: T - 60_000, lastSeen: T });
  });

  it('shows a sensor moved to another site at its new site, with its history', () => {
    const board = createSensorBoard(city([a, b]));
    board.observe({ kind: 'ponding', sensorId: a.id, ts: T - 60_000, seq: 1, fields: { depth_cm: 12 } }, T);
    board.updateRegistry(city([{ ...a, site: b.site }, b]));
    expect(board.list({ q: a.id, limit: 1 }, T)[0]).toMatchObject({ site: b.site, value: 12 });
  });
});
