/**
 * CAP 1.2 output validated against the OASIS schema with a real validator (xmllint, Debian
 * libxml2-utils) — close and reopen, with names that need escaping.
 */
import { describe, expect, it } from 'vitest';
import { capTime, toCap } from '../cap.ts';
import type { ClosureNotice } from '../../contracts/index.ts';
import { validateCap as validate } from '../../test/helpers/xml.ts';

const notice = (action: 'close' | 'reopen', name = '中山北路, 共和新路 =下立交'): ClosureNotice => ({
  noticeId: `underpass-closure:UP-001:1790000000000:${action}`,
  action,
  underpass: { id: 'UP-001', name, road: 'A&B <Road>', district: 'jingan', lat: 31.25, lon: 121.45 },
  depthCm: action === 'close' ? 27.5 : 8,
  thresholdCm: action === 'close' ? 25 : 15,
  observedAt: '2026-07-01T18:03:00.000+08:00',
  issuedAt: '2026-07-01T18:03:01.250+08:00',
  alertId: 'underpass-closure:UP-001:1790000000000',
  reason: 'ponding above 25 cm for 120 s (3 readings) "quoted" & <tagged>',
  sequence: action === 'close' ? 1 : 2,
  epoch: 0,
});

describe('CAP 1.2', () => {
  it.each([
    ['a close notice', toCap(notice('close'), { sender: 'floodgate@shanghai.example', senderName: '上海城市运行 floodgate' })],
    ['a reopen that references its close', toCap(notice('reopen'), { sender: 'floodgate@shanghai.example', senderName: 'floodgate', references: { identifier: 'underpass-closure:UP-001:1790000000000:close', sent: '2026-07-01T18:03:01.250+08:00' } })],
    ['a name with control characters', toCap(notice('close', 'bad\u0001name\u0007'), { sender: 's', senderName: 'n' })],
  ])('%s is valid against the OASIS schema', (_case, xml) => {
    const r = validate(xml);
    expect(r.out).toContain('validates');
    expect(r.ok).toBe(true);
  });

  it('the validator does refuse what the schema forbids (a UTC "Z" time)', () => {
    const xml = toCap(notice('close'), { sender: 's', senderName: 'n' }).replace(/<sent>[^<]+<\/sent>/, '<sent>2026-07-01T10:03:01Z</sent>');
    const r = validate(xml);
    expect(r.ok).toBe(false);
    expect(r.out).toMatch(/sent/);
  });

  it.each([
    ['2026-07-01T18:03:00.123+08:00', '2026-07-01T18:03:00+08:00'],
    ['2026-07-01T10:03:00Z', '2026-07-01T10:03:00+00:00'],
    ['2026-07-01T10:03:00-05:00', '2026-07-01T10:03:00-05:00'],
  ])('capTime(%s) = %s', (iso, cap) => {
    expect(capTime(iso)).toBe(cap);
  });

  it('escapes what XML needs escaped and keeps the text', () => {
    const xml = toCap(notice('close'), { sender: 's', senderName: 'n' });
    expect(xml).toContain('A&amp;B &lt;Road&gt;');
    expect(xml).toContain('&quot;quoted&quot; &amp; &lt;tagged&gt;');
    expect(xml).toContain('<msgType>Alert</msgType>');
    expect(toCap(notice('reopen'), { sender: 's', senderName: 'n' })).toContain('<responseType>AllClear</responseType>');
  });
});
