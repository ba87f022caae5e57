import { describe, expect, it } from 'vitest';
import { applyBatch, applyReset, closureBoard, filterAlerts, groupAlerts, siteStates, type Alert, type ListFilter, type Site } from './model.ts';

let n = 0;
const alert = (a: Partial<Alert> & Pick<Alert, 'ruleId' | 'subjectId'>): Alert => ({
  alertId: `${a.ruleId}:${a.subjectId}:${++n}`,
  state: 'firing',
  severity: 'warning',
  value: 1,
  threshold: 1,
  unit: 'cm',
  firedAt: `2026-07-01T18:${String(n % 60).padStart(2, '0')}:00+08:00`,
  updatedAt: '2026-07-01T18:00:00+08:00',
  ...a,
});
const site = (id: string, district: string, name = id, road = ''): Site => ({ id, kind: 'underpass', name, road, district, lat: 31, lon: 121 });
const reset = (alerts: Alert[]) => applyReset({ at: 'x', overview: { underpassesClosed: 0, riversAboveWarning: 0, riversAboveDanger: 0, districtsInRainstorm: 0, sensorsOffline: 0, noticesFailed: 0 }, alerts, recent: [], silences: [], notices: [], levels: {} }).model;

describe('console model', () => {
  it('a batch patches: firing set, resolved ones to recent, notices and levels by key', () => {
    const a = alert({ ruleId: 'underpass-closure', subjectId: 'UP-1' });
    const m = reset([a]);
    const c = applyBatch(m, { at: 'y', alerts: [{ ...a, state: 'resolved' }], notices: [{ seq: 1, alertId: a.alertId, subjectId: 'UP-1', recipient: 'police', action: 'reopen', status: 'pending', attempts: 0, createdAt: 'x' }], levels: { 'PD-1': [12, -3] } });
    expect(m.firing.size).toBe(0);
    expect(m.recent[0]!.alertId).toBe(a.alertId);
    expect([...c.alerts]).toEqual([a.alertId]);
    expect(m.notices.get(1)?.status).toBe('pending');
    expect(m.levels.get('PD-1')).toEqual([12, -3]);
    expect(c.overview).toBe(false);
  });

  it.each([
    ['closure beats everything', ['sensor-offline', 'underpass-warning', 'underpass-closure'], 'closed'],
    ['danger beats warning', ['water-level-warning', 'water-level-danger'], 'danger'],
    ['suspect beats offline', ['sensor-offline', 'sensor-data-quality'], 'suspect'],
    ['battery does not colour the map', ['sensor-battery'], undefined],
  ] as const)('worst state of a site: %s', (_n, rules, want) => {
    expect(siteStates(rules.map((r) => alert({ ruleId: r, subjectId: 'X', site: 'S1' }))).get('S1')).toBe(want);
  });

  it('the board: every closure, grouped by district in registry order, oldest first, latest notice per recipient', () => {
    const sites = new Map([site('UP-1', 'b'), site('UP-2', 'a'), site('UP-3', 'a')].map((s) => [s.id, s]));
    const m = reset([
      alert({ ruleId: 'underpass-closure', subjectId: 'UP-3', district: 'a', firedAt: '2026-07-01T18:05:00+08:00' }),
      alert({ ruleId: 'underpass-closure', subjectId: 'UP-1', district: 'b' }),
      alert({ ruleId: 'underpass-closure', subjectId: 'UP-2', district: 'a', firedAt: '2026-07-01T18:01:00+08:00' }),
      alert({ ruleId: 'underpass-warning', subjectId: 'UP-9', district: 'a' }),
    ]);
    const up2 = [...m.firing.values()].find((a) => a.subjectId === 'UP-2')!;
    for (const [seq, status] of [[1, 'failed'], [2, 'delivered']] as const) m.notices.set(seq, { seq, alertId: up2.alertId, subjectId: 'UP-2', recipient: 'police', action: 'close', status, attempts: 1, createdAt: 'x' });
    const board = closureBoard(m, sites, ['a', 'b']);
    expect(board.map((d) => [d.district, d.rows.map((r) => r.alert.subjectId)])).toEqual([['a', ['UP-2', 'UP-3']], ['b', ['UP-1']]]);
    expect(board[0]!.rows[0]!.notices.map((x) => x.status)).toEqual(['delivered']);
  });

  const sites = new Map([site('UP-1', 'huangpu', '宝杨路下立交', '宝杨路'), site('UP-2', 'xuhui', '漕溪路下立交', '漕溪路')].map((s) => [s.id, s]));
  const names = new Map([['huangpu', '黄浦区'], ['xuhui', '徐汇区']]);
  const list = [
    alert({ ruleId: 'underpass-closure', subjectId: 'UP-1', site: 'UP-1', district: 'huangpu', severity: 'critical', firedAt: '2026-07-01T18:01:00+08:00' }),
    alert({ ruleId: 'underpass-warning', subjectId: 'UP-2', site: 'UP-2', district: 'xuhui', ackedAt: 'x', firedAt: '2026-07-01T18:02:00+08:00' }),
    alert({ ruleId: 'sensor-offline', subjectId: 'PD-9', district: 'xuhui', severity: 'warning', firedAt: '2026-07-01T18:03:00+08:00' }),
  ];
  it.each([
    ['by rule', { rule: 'underpass-warning' }, ['UP-2']],
    ['by district', { district: 'xuhui' }, ['PD-9', 'UP-2']],
    ['by severity', { severity: 'critical' }, ['UP-1']],
    ['acknowledged', { acked: 'yes' }, ['UP-2']],
    ['not acknowledged', { acked: 'no' }, ['PD-9', 'UP-1']],
    ['search a site name', { q: '宝杨' }, ['UP-1']],
    ['search a road', { q: '漕溪路' }, ['UP-2']],
    ['search a district name', { q: '徐汇' }, ['PD-9', 'UP-2']],
    ['oldest first', { sort: 'oldest' }, ['UP-1', 'UP-2', 'PD-9']],
    ['severity first', { sort: 'severity' }, ['UP-1', 'PD-9', 'UP-2']],
    ['resolved only', { state: 'resolved' }, []],
  ] as Array<[string, Partial<ListFilter>, string[]]>)('filter %s', (_n, f, want) => {
    expect(filterAlerts(list, { state: 'firing', sort: 'newest', ...f }, sites, names).map((a) => a.subjectId)).toEqual(want);
  });

  it('groups: 500 silent sensors are one city-wide row; a district storm one row per district; fewer than 3 stay rows', () => {
    const offline = Array.from({ length: 500 }, (_, i) => alert({ ruleId: 'sensor-offline', subjectId: `PD-${i}`, district: i % 2 ? 'a' : 'b', ackedAt: i < 10 ? 'x' : undefined }));
    const rain = ['a', 'a', 'a', 'b', 'b', 'b', 'b'].map((d, i) => alert({ ruleId: 'rainstorm', subjectId: `RG-${i}`, district: d }));
    const single = [alert({ ruleId: 'underpass-closure', subjectId: 'UP-1', district: 'a' }), alert({ ruleId: 'underpass-closure', subjectId: 'UP-2', district: 'a' })];
    const entries = groupAlerts([...single, ...offline, ...rain]);
    expect(entries.map((e) => (e.kind === 'alert' ? e.alert.subjectId : `${e.group.key}×${e.group.members.length}`))).toEqual(['UP-1', 'UP-2', 'sensor-offline×500', 'rainstorm|a×3', 'rainstorm|b×4']);
    const g = entries[2]!;
    expect(g.kind === 'group' && [g.group.unacked, g.group.districts, g.group.district]).toEqual([490, ['a', 'b'], undefined]);
  });
});
