import { describe, expect, it } from 'vitest';
import { decideDelivery, decideOnEvent, silenceFor, spoolAlarmEvent, type AlertRecordView } from './transitions.ts';
import type { AlertEvent, SpoolAlarm } from '../contracts/index.ts';

const ev = (state: 'firing' | 'resolved', ruleId = 'underpass-closure'): AlertEvent => ({
  alertId: 'a1',
  ruleId,
  subjectId: 'UP-001',
  sensorId: 'PD-001',
  state,
  severity: 'critical',
  value: 30,
  threshold: 25,
  unit: 'cm',
  observedAt: '2026-07-01T10:00:00+08:00',
  changedAt: '2026-07-01T10:00:01+08:00',
  reason: 'test',
});
const rec = (state: 'firing' | 'resolved'): AlertRecordView => ({ alertId: 'a1', state });

describe('decideOnEvent', () => {
  it.each<[string, AlertRecordView | undefined, AlertEvent, ReturnType<typeof decideOnEvent>]>([
    ['new firing closes the road', undefined, ev('firing'), { kind: 'open', notice: 'close' }],
    ['firing again is a duplicate', rec('firing'), ev('firing'), { kind: 'duplicate' }],
    ['firing after resolve (replay) is a duplicate', rec('resolved'), ev('firing'), { kind: 'duplicate' }],
    ['resolve reopens', rec('firing'), ev('resolved'), { kind: 'resolve', notice: 'reopen' }],
    ['resolve twice is a duplicate', rec('resolved'), ev('resolved'), { kind: 'duplicate' }],
    ['resolve of an unknown alert sends nothing', undefined, ev('resolved'), { kind: 'late-resolve' }],
    ['other rules notify nobody', undefined, ev('firing', 'river-warning'), { kind: 'open', notice: null }],
    ['a firing alert that escalates (blue → yellow) is updated', { alertId: 'a1', state: 'firing', severity: 'warning', level: 'blue' }, { ...ev('firing', 'rainstorm'), severity: 'warning', level: 'yellow' }, { kind: 'update' }],
    ['a severity change of a firing alert is updated', { alertId: 'a1', state: 'firing', severity: 'warning', level: 'yellow' }, { ...ev('firing', 'rainstorm'), severity: 'critical', level: 'yellow' }, { kind: 'update' }],
    ['the same level again is a duplicate', { alertId: 'a1', state: 'firing', severity: 'warning', level: 'blue' }, { ...ev('firing', 'rainstorm'), severity: 'warning', level: 'blue' }, { kind: 'duplicate' }],
    ['a level change after resolve (replay) is a duplicate', { alertId: 'a1', state: 'resolved', severity: 'warning', level: 'blue' }, { ...ev('firing', 'rainstorm'), level: 'red' }, { kind: 'duplicate' }],
  ])('%s', (_n, existing, event, expected) => {
    expect(decideOnEvent(existing, event)).toEqual(expected);
  });
});

describe('decideDelivery', () => {
  it.each<[string, Parameters<typeof decideDelivery>[0], string, number?]>([
    ['200 delivered', { kind: 'response', status: 200, retryAfterMs: undefined }, 'delivered'],
    ['204 delivered', { kind: 'response', status: 204, retryAfterMs: undefined }, 'delivered'],
    ['network error retried', { kind: 'network', error: 'ECONNREFUSED' }, 'retry', 1000],
    ['408 retried', { kind: 'response', status: 408, retryAfterMs: undefined }, 'retry', 1000],
    ['429 honours Retry-After', { kind: 'response', status: 429, retryAfterMs: 30_000 }, 'retry', 30_000],
    ['503 retried, backoff wins over a shorter Retry-After', { kind: 'response', status: 503, retryAfterMs: 10 }, 'retry', 1000],
    ['400 fails for good', { kind: 'response', status: 400, retryAfterMs: undefined }, 'failed'],
    ['401 fails for good (bad secret)', { kind: 'response', status: 401, retryAfterMs: undefined }, 'failed'],
    ['404 fails for good', { kind: 'response', status: 404, retryAfterMs: undefined }, 'failed'],
    ['301 is not delivered', { kind: 'response', status: 301, retryAfterMs: undefined }, 'failed'],
  ])('%s', (_n, result, next, delay) => {
    const d = decideDelivery(result, 1000);
    expect(d.next).toBe(next);
    if (d.next === 'retry') expect(d.delayMs).toBe(delay);
  });
});

describe('silenceFor', () => {
  const alert = { ruleId: 'sensor-offline', subjectId: 'PD-007', sensorId: 'PD-007', site: 'UP-007', district: 'huangpu' };
  const s = (m: Partial<{ ruleId: string; sensor: string; site: string; district: string; until: number; endedAt: number }>) => ({ ruleId: null, sensor: null, site: null, district: null, until: 2000, endedAt: null, ...m });
  it.each<[string, ReturnType<typeof s>, boolean]>([
    ['by sensor', s({ sensor: 'PD-007' }), true],
    ['by site', s({ site: 'UP-007' }), true],
    ['by district', s({ district: 'huangpu' }), true],
    ['by district and rule', s({ district: 'huangpu', ruleId: 'sensor-offline' }), true],
    ['another rule in the district', s({ district: 'huangpu', ruleId: 'underpass-closure' }), false],
    ['another district', s({ district: 'jingan' }), false],
    ['expired', s({ sensor: 'PD-007', until: 1000 }), false],
    ['ended early', s({ sensor: 'PD-007', endedAt: 1200 }), false],
  ])('%s', (_c, silence, covered) => {
    expect(silenceFor(alert, [silence], 1500) !== undefined).toBe(covered);
  });
});

describe('spoolAlarmEvent', () => {
  const alarm = (level: SpoolAlarm['level'], bytes: number): SpoolAlarm => ({ level, rows: bytes / 100, bytes, maxBytes: 1_000_000, oldestAgeS: 600, at: '2026-07-01T02:00:00+08:00' });
  const firing = { alertId: 'ingest-spool:1782838800000' };
  it.each<[string, SpoolAlarm, typeof firing | undefined, Partial<AlertEvent> | undefined]>([
    ['ok with nothing firing: nothing to do', alarm('ok', 0), undefined, undefined],
    ['warning opens a warning alert named after its first alarm', alarm('warning', 520_000), undefined, { alertId: `ingest-spool:${Date.parse('2026-07-01T02:00:00+08:00')}`, state: 'firing', severity: 'warning', level: 'yellow', value: 52, threshold: 50, unit: '%' }],
    ['critical while firing keeps the episode and turns critical', alarm('critical', 810_000), firing, { alertId: firing.alertId, state: 'firing', severity: 'critical', level: 'orange', value: 81, threshold: 80 }],
    ['full is critical and red', alarm('full', 1_000_000), firing, { alertId: firing.alertId, state: 'firing', severity: 'critical', level: 'red', value: 100, threshold: 100 }],
    ['ok resolves the firing one', alarm('ok', 1_000), firing, { alertId: firing.alertId, state: 'resolved', value: 0 }],
  ])('%s', (_n, a, f, expected) => {
    const e = spoolAlarmEvent(a, f);
    if (expected === undefined) return expect(e).toBeUndefined();
    expect(e).toMatchObject({ ruleId: 'ingest-spool', subjectId: 'ingest', observedAt: a.at, ...expected });
  });

  it('each level change of a firing spool alert is an update, a retained copy a duplicate', () => {
    const warning = spoolAlarmEvent(alarm('warning', 520_000), undefined)!;
    const view = (e: AlertEvent): AlertRecordView => ({ alertId: e.alertId, state: e.state, severity: e.severity, level: e.level ?? null });
    const critical = spoolAlarmEvent(alarm('critical', 810_000), warning)!;
    const full = spoolAlarmEvent(alarm('full', 1_000_000), critical)!;
    expect(decideOnEvent(undefined, warning)).toEqual({ kind: 'open', notice: null });
    expect(decideOnEvent(view(warning), critical)).toEqual({ kind: 'update' });
    expect(decideOnEvent(view(critical), full)).toEqual({ kind: 'update' });
    expect(decideOnEvent(view(full), spoolAlarmEvent(alarm('full', 1_000_000), full)!)).toEqual({ kind: 'duplicate' });
    expect(decideOnEvent(view(full), spoolAlarmEvent(alarm('ok', 0), full)!)).toEqual({ kind: 'resolve', notice: null });
  });

  it('says what is wrong and what to do, in words a duty officer can act on', () => {
    expect(spoolAlarmEvent(alarm('full', 1_000_000), undefined)!.reason).toMatch(/spool is full: 10000 readings wait .* the oldest for 10 min\. Ingest has stopped acknowledging readings.*Alerts still work\./);
  });
});
