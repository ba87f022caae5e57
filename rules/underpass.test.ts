import { describe, expect, it } from 'vitest';
import { evaluateUnderpass, initialUnderpassState, type UnderpassState } from './underpass.ts';
import { UnderpassThresholds } from '../config/registry.ts';

const T = UnderpassThresholds.parse({ closeCm: 25, reopenCm: 15, closeSustainS: 120, closeMinReadings: 3, reopenHoldS: 300 });
const MIN = 60_000;

/** Feed (minute, depth) pairs; return the events as "type@minute". */
function run(series: Array<[number, number]>, start: UnderpassState = initialUnderpassState): { events: string[]; state: UnderpassState } {
  let state = start;
  const events: string[] = [];
  for (const [min, depthCm] of series) {
    const r = evaluateUnderpass(state, { ts: min * MIN, depthCm }, T, 'UP-001');
    state = r.state;
    if (r.event) events.push(`${r.event.type}@${min}`);
  }
  return { events, state };
}

describe('evaluateUnderpass', () => {
  it.each<[string, Array<[number, number]>, string[]]>([
    ['dry road: nothing', [[0, 0], [1, 2], [2, 3]], []],
    ['a single spike (a passing truck) does not close', [[0, 5], [1, 60], [2, 5], [3, 6]], []],
    ['two readings above are not enough', [[0, 26], [1, 27], [2, 10]], []],
    ['three readings but under 120 s are not enough', [[0, 26], [0.5, 27], [1, 28], [1.5, 3]], []],
    ['sustained above 25 cm closes once', [[0, 26], [1, 27], [2, 28], [3, 30], [4, 31]], ['close@2']],
    ['exactly 25 cm is not above 25 cm', [[0, 25], [1, 25], [2, 25], [3, 25]], []],
    ['a dip below resets the run', [[0, 26], [1, 27], [2, 20], [3, 26], [4, 27], [5, 28]], ['close@5']],
    [
      'hysteresis: 20 cm (below 25, above 15) does not reopen',
      [[0, 30], [1, 30], [2, 30], [3, 20], [10, 20], [20, 20]],
      ['close@2'],
    ],
    [
      'reopen after 5 min below 15 cm',
      [[0, 30], [1, 30], [2, 30], [3, 14], [5, 10], [7, 8], [8, 5], [9, 4]],
      ['close@2', 'reopen@8'],
    ],
    [
      'a rise during the hold restarts it',
      [[0, 30], [1, 30], [2, 30], [3, 10], [5, 10], [6, 16], [7, 10], [10, 9], [12, 8]],
      ['close@2', 'reopen@12'],
    ],
    [
      'a second storm closes again with a new alert',
      [[0, 30], [1, 30], [2, 30], [3, 5], [6, 5], [8, 5], [9, 40], [10, 40], [11, 40]],
      ['close@2', 'reopen@8', 'close@11'],
    ],
  ])('%s', (_name, series, expected) => {
    expect(run(series).events).toEqual(expected);
  });

  it('ignores stale and duplicate timestamps (redelivery cannot replay a transition)', () => {
    const { state } = run([[0, 30], [1, 30], [2, 30]]);
    expect(state.phase).toBe('closed');
    const dup = evaluateUnderpass(state, { ts: 2 * MIN, depthCm: 0 }, T, 'UP-001');
    expect(dup.stale).toBe(true);
    expect(dup.state).toBe(state);
    const old = evaluateUnderpass(state, { ts: 1 * MIN, depthCm: 0 }, T, 'UP-001');
    expect(old.stale).toBe(true);
  });

  it('keeps one alert id from close to reopen, derived from the close time', () => {
    let state = initialUnderpassState;
    const ids: string[] = [];
    for (const [min, d] of [[0, 30], [1, 30], [2, 30], [3, 1], [9, 1], [10, 1]] as const) {
      const r = evaluateUnderpass(state, { ts: min * MIN, depthCm: d }, T, 'UP-007');
      state = r.state;
      if (r.event) ids.push(r.event.alertId);
    }
    expect(ids).toEqual([`underpass-closure:UP-007:${2 * MIN}`, `underpass-closure:UP-007:${2 * MIN}`]);
  });
});
