import { describe, expect, it } from 'vitest';
import { indexRegistry, parseRegistry } from '../config/registry.ts';
import type { AlertEvent } from '../contracts/index.ts';
import { dutyMessages, placeOf, policeNotices, type NoticeContext } from './addressing.ts';
import type { NoticeRecord } from './store.ts';

const registry = parseRegistry(
  {
    version: 1,
    city: '上海',
    districts: [
      { id: 'pudong', name: '浦东新区', police: { url: '$FLOODGATE_POLICE_URL', secretRef: 'FLOODGATE_POLICE_SECRET' } },
      {
        id: 'minhang',
        name: '闵行区',
        police: { url: '$FLOODGATE_POLICE_URL', secretRef: 'FLOODGATE_POLICE_SECRET' },
        recipients: [
          { id: 'police', url: 'http://police.example/n', secretRef: 'S1' },
          { id: 'roads', url: 'http://roads.example/n', secretRef: 'S2', format: 'cap' },
        ],
      },
    ],
    sites: [
      { id: 'UP-001', kind: 'underpass', name: '龙阳路下立交', road: '龙阳路', district: 'pudong', lat: 31.2, lon: 121.5 },
      { id: 'UP-002', kind: 'underpass', name: '莘庄下立交', road: '沪闵路', district: 'minhang', lat: 31.1, lon: 121.4 },
    ],
    sensors: [
      { id: 'PD-001', kind: 'ponding', site: 'UP-001' },
      { id: 'PD-002', kind: 'ponding', site: 'UP-002' },
    ],
  },
  'test',
);
const index = indexRegistry(registry);

const closure = (subjectId: string, state: 'firing' | 'resolved' = 'firing'): AlertEvent => ({
  alertId: `underpass-closure:${subjectId}:1`,
  ruleId: 'underpass-closure',
  subjectId,
  sensorId: subjectId.replace('UP', 'PD'),
  state,
  severity: 'critical',
  value: 31,
  threshold: 25,
  unit: 'cm',
  observedAt: '2026-07-01T18:03:00+08:00',
  changedAt: '2026-07-01T18:03:01+08:00',
  reason: 'ponding above 25 cm',
});

const ctx = (closeSentTo: NoticeContext['closeSentTo'] = () => undefined): NoticeContext => {
  let n = 0;
  return { index, capSender: 'floodgate@example', city: registry.city, issuedAt: '2026-07-01T18:03:02+08:00', closeSentTo, nextSequence: () => ++n, epoch: 3 };
};

describe('placeOf', () => {
  it.each([
    ['an underpass', 'UP-001', { text: '龙阳路下立交（浦东新区）', site: 'UP-001', district: 'pudong' }],
    ['a sensor (its site)', 'PD-002', { text: '莘庄下立交（闵行区）', site: 'UP-002', district: 'minhang' }],
    ['a district', 'minhang', { text: '闵行区', site: undefined, district: 'minhang' }],
    ['something unknown', 'XX-9', { text: '', site: undefined, district: undefined }],
  ])('%s', (_c, subject, want) => {
    expect(placeOf(index, subject)).toEqual(want);
  });
});

describe('policeNotices', () => {
  it.each([
    ['no action: nothing', 'UP-001', null, 0],
    ['the default recipient: one JSON notice', 'UP-001', 'close', 1],
    ['a district with two recipients: one each', 'UP-002', 'close', 2],
  ] as const)('%s', (_c, subject, action, count) => {
    const ns = policeNotices(closure(subject), action, ctx())!;
    expect(ns).toHaveLength(count);
    for (const n of ns) expect(n).toMatchObject({ noticeId: `underpass-closure:${subject}:1:close`, subjectId: subject, action });
  });

  it('every recipient gets the same sequence and epoch; the next transition a higher sequence', () => {
    const c = ctx();
    const [json, cap] = policeNotices(closure('UP-002'), 'close', c)!;
    expect(JSON.parse(json!.body)).toMatchObject({ sequence: 1, epoch: 3 });
    expect(cap!.body).toContain('<valueName>sequence</valueName><value>1</value>');
    expect(JSON.parse(policeNotices(closure('UP-002', 'resolved'), 'reopen', c)![0]!.body)).toMatchObject({ action: 'reopen', sequence: 2, epoch: 3 });
  });

  it('an underpass the registry does not know cannot be addressed (null, not an empty list)', () => {
    expect(policeNotices(closure('UP-404'), 'close', ctx())).toBeNull();
  });

  it('the JSON notice carries name, road and district; the CAP one its sender', () => {
    const [json, cap] = policeNotices(closure('UP-002'), 'close', ctx())!;
    expect(JSON.parse(json!.body)).toMatchObject({ action: 'close', underpass: { id: 'UP-002', name: '莘庄下立交', road: '沪闵路', district: 'minhang' }, depthCm: 31 });
    expect(cap!.format).toBe('cap');
    expect(cap!.body).toContain('<sender>floodgate@example</sender>');
  });

  it('a CAP reopen references the close sent to that recipient', () => {
    const close = policeNotices(closure('UP-002'), 'close', ctx())![1]!;
    const sent = /<sent>([^<]+)<\/sent>/.exec(close.body)![1]!;
    const asked: string[] = [];
    const reopen = policeNotices(closure('UP-002', 'resolved'), 'reopen', ctx((id, r) => (asked.push(`${id}/${r}`), r === 'roads' ? ({ ...close, seq: 1 } as NoticeRecord) : undefined)))!;
    expect(asked).toEqual(['underpass-closure:UP-002:1:close/roads']);
    expect(reopen[1]!.body).toContain(`<references>floodgate@example,${close.noticeId},${sent}</references>`);
  });
});

describe('dutyMessages', () => {
  const channel = (id: string, extra: Record<string, unknown> = {}) => ({ id, format: 'webhook' as const, url: `http://duty.example/${id}`, rules: ['underpass-closure'], tier: 1 as const, ...extra });
  it.each([
    ['no channels: nothing', [], 'firing', []],
    ['tier 1 hears every transition', [channel('a'), channel('b', { tier: 2 })], 'firing', ['a']],
    ['an escalation goes to tier 2', [channel('a'), channel('b', { tier: 2 })], 'escalated', ['b']],
    ['an escalation without tier 2 goes to tier 1', [channel('a')], 'escalated', ['a']],
    ['a channel of other rules hears nothing', [channel('a', { rules: ['district-rainstorm'] })], 'firing', []],
    ['a channel of another district hears nothing', [channel('a', { districts: ['minhang'] })], 'firing', []],
  ] as const)('%s', (_c, channels, state, ids) => {
    const ms = dutyMessages(closure('UP-001'), state, placeOf(index, 'UP-001'), channels);
    expect(ms.map((m) => m.recipient)).toEqual(ids);
    for (const m of ms) expect(m.page!.groupKey).toBe(`${state}|underpass-closure|pudong`);
  });
});
