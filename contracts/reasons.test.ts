import { describe, expect, it } from 'vitest';
import { REASON_KEYS, REASON_TEMPLATES, renderReason, VOCABULARY } from './reasons.ts';
import { ALERT_RULES } from './alerts.ts';

const params = (t: string) => new Set([...t.matchAll(/\{(\w+)\}/g)].map((m) => m[1]));

describe('reason templates', () => {
  it.each(REASON_KEYS.map((k) => [k]))('%s: both languages, the same parameters, no English in Chinese', (key) => {
    const en = REASON_TEMPLATES.en[key];
    const zh = REASON_TEMPLATES.zh[key];
    expect(en.length).toBeGreaterThan(0);
    expect(params(zh)).toEqual(params(en));
    expect(zh.replace(/\{\w+\}/g, '')).not.toMatch(/[a-z]{3,}/); // units (cm, mm, m/s) are fine; words are not
  });

  it('every rule, severity, level, state and action has a name in both languages', () => {
    for (const rule of [...Object.values(ALERT_RULES), 'notice-delivery', 'ingest-spool']) for (const lang of ['zh', 'en'] as const) expect(VOCABULARY[lang]['rule']![rule], `${lang} ${rule}`).toBeTruthy();
    for (const kind of ['severity', 'level', 'state', 'action', 'status']) expect(Object.keys(VOCABULARY.zh[kind]!)).toEqual(Object.keys(VOCABULARY.en[kind]!));
  });

  it.each([
    ['optional tail present', 'en', { key: 'rain.level', params: { level: 'orange', mm: 52.1, window: '1h', threshold: 50, was: 'yellow' } }, 'orange: 52.1 mm in 1h (≥ 50 mm), was yellow'],
    ['optional tail absent', 'en', { key: 'rain.level', params: { level: 'orange', mm: 52.1, window: '1h', threshold: 50 } }, 'orange: 52.1 mm in 1h (≥ 50 mm)'],
    ['Chinese with names for ids', 'zh', { key: 'district.level', params: { n: 4, district: 'huangpu', level: 'yellow' } }, '黄浦区有 4 个雨量站达到黄色及以上'],
    ['a missing required parameter shows as such', 'en', { key: 'battery.low', params: { v: 3.3 } }, 'battery 3.3 V (low below {min} V)'],
  ] as const)('%s', (_n, lang, why, want) => {
    const names: Record<string, string> = { huangpu: '黄浦区', yellow: '黄色' };
    const param = (name: string, v: string | number) => (lang === 'zh' && typeof v === 'string' ? (names[v] ?? v) : String(v));
    expect(renderReason(lang, why, param)).toBe(want);
  });
});
