import { describe, expect, it } from 'vitest';
import { isoInZone, parseTimestamp, parseZone } from './zone.ts';

const UTC = parseZone('UTC')!;
const SH = parseZone('Asia/Shanghai')!;
const AMS = parseZone('Europe/Amsterdam')!;
const at = (iso: string) => Date.parse(iso);

describe('parseTimestamp', () => {
  it.each<[string, string | undefined, string]>([
    ['2023-06-14 14:34:48.000000+00:00', undefined, '2023-06-14T14:34:48.000Z'],
    ['2023-06-14T14:34:48Z', undefined, '2023-06-14T14:34:48.000Z'],
    ['2023-06-14T14:34:48.123456789+08:00', undefined, '2023-06-14T06:34:48.123Z'],
    ['2023-06-14 14:34:48,5 +0530', undefined, '2023-06-14T09:04:48.500Z'],
    ['2023-06-14 14:34', 'UTC', '2023-06-14T14:34:00.000Z'],
    ['2023-06-14 14:34:48', 'Asia/Shanghai', '2023-06-14T06:34:48.000Z'],
    ['2023-06-14 14:34:48', '-03:00', '2023-06-14T17:34:48.000Z'],
    // Amsterdam: +02:00 in summer, +01:00 in winter.
    ['2023-07-01 12:00:00', 'Europe/Amsterdam', '2023-07-01T10:00:00.000Z'],
    ['2023-01-01 12:00:00', 'Europe/Amsterdam', '2023-01-01T11:00:00.000Z'],
    ['1686753288', undefined, '2023-06-14T14:34:48.000Z'],
    ['1686753288.25', undefined, '2023-06-14T14:34:48.250Z'],
    ['1686753288000', undefined, '2023-06-14T14:34:48.000Z'],
  ])('%s (zone %s) → %s', (text, zone, expected) => {
    const r = parseTimestamp(text, zone ? parseZone(zone) : undefined);
    expect('ms' in r ? new Date(r.ms).toISOString() : r.error).toBe(expected);
  });

  it.each<[string, RegExp]>([
    ['2023-06-14 14:34:48', /no UTC offset: give the recording's zone/],
    ['yesterday', /not a date and time/],
    ['2023-02-31 10:00:00Z', /not a real date/],
    ['2023-06-14 25:00:00Z', /not a real date/],
    ['2023-06-14 10:00:00+25:00', /offset that is not one/],
  ])('refuses %s', (text, message) => {
    const r = parseTimestamp(text, undefined);
    expect('error' in r && r.error).toMatch(message);
  });
});

describe('zones', () => {
  it.each<[string, boolean]>([
    ['+08:00', true],
    ['-0330', true],
    ['Z', true],
    ['Asia/Shanghai', true],
    ['Mars/Olympus', false],
    ['+15:00', false],
  ])('parseZone(%s) is a zone: %s', (text, ok) => expect(parseZone(text) !== undefined).toBe(ok));

  it('prints an instant in a zone with its offset then', () => {
    expect(isoInZone(at('2023-06-14T06:34:48Z'), SH)).toBe('2023-06-14T14:34:48.000+08:00');
    expect(isoInZone(at('2023-01-01T11:00:00Z'), AMS)).toBe('2023-01-01T12:00:00.000+01:00');
    expect(isoInZone(at('2023-07-01T10:00:00Z'), AMS)).toBe('2023-07-01T12:00:00.000+02:00');
    expect(isoInZone(at('2023-07-01T10:00:00Z'), UTC)).toBe('2023-07-01T10:00:00.000+00:00');
  });
});
