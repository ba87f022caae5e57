import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { SensorKind } from '../contracts/index.ts';
import { autoRegister, detectFormat, labelProblems, parseLabels, parseRecording, score, summariseProblems } from './backtest.ts';
import { parseZone } from '../lib/zone.ts';
import { loadRegistry, BUNDLED_CITY } from '../config/registry.ts';
import type { Transition } from './engine.ts';

const kinds: Record<string, SensorKind> = { 'PD-001': 'ponding', 'RG-001': 'rain', 'WL-001': 'water-level' };
const kindOf = (id: string) => kinds[id];
const T = Date.parse('2026-07-01T18:00:00+08:00');

describe('parseRecording', () => {
  it.each<[string, 'ndjson' | 'csv', string, number, string[]]>([
    ['NDJSON device payloads with a sensor field', 'ndjson', `{"sensor":"PD-001","ts":${T},"depth_cm":3}\n{"sensor":"PD-001","ts":"2026-07-01T18:01:00+08:00","depth_cm":4}\n`, 2, []],
    ['NDJSON as recorded from MQTT', 'ndjson', `{"topic":"sensors/rain/RG-001/reading","payload":{"ts":${T},"rain_mm":0.5,"interval_s":60}}`, 1, []],
    ['bad lines are reported and skipped', 'ndjson', `{"sensor":"PD-001","ts":${T},"depth_cm":3}\nnot json\n{"sensor":"XX-9","ts":${T},"depth_cm":1}\n{"ts":${T}}\n{"sensor":"PD-001","ts":${T},"depth_cm":-4}`, 1, ['2: not JSON', '3: sensor XX-9 is not in the registry', '4: no "sensor"', '5: depth_cm']],
    ['CSV with a value column', 'csv', `sensor,ts,value\nPD-001,${T},3.5\nRG-001,2026-07-01T18:01:00+08:00,0.5\nWL-001,${T},4.1`, 3, []],
    ['CSV with field columns', 'csv', `sensor,ts,depth_cm,battery_v\nPD-001,${T},3.5,3.6\n`, 1, []],
    ['CSV with quoted fields (a comma, a quote, CRLF)', 'csv', `"sensor","ts","value"\r\n"PD-001","2026-07-01T18:00:00+08:00","3.5"\r\n"PD-001",${T + 60_000},"4"\r\n`, 2, []],
    ['CSV: a quoted sensor id with a comma is one cell, reported as unknown', 'csv', `sensor,ts,value\n"PD-001,PD-002",${T},3\nPD-001,${T},3`, 1, ['2: sensor PD-001,PD-002 is not in the registry']],
    ['CSV without quotes (split by hand): CRLF, a blank line, spaces, a short row; line numbers as in the file', 'csv', `sensor, ts ,value\r\n\r\nPD-001, ${T} , 3\r\nXX-1,${T},3\r\nPD-001,${T + 60_000}\r\n`, 1, ['4: sensor XX-1 is not in the registry', '5: depth_cm']],
    ['CSV: an unclosed quote is reported with its line', 'csv', `sensor,ts,value\nPD-001,${T},3\nPD-001,"${T},4\n`, 1, ['Quote Not Closed']],
  ])('%s', (_case, format, text, n, problems) => {
    const r = parseRecording(text, format, kindOf);
    expect(r.readings).toHaveLength(n);
    expect(r.problems).toHaveLength(problems.length);
    problems.forEach((p, i) => expect(`${r.problems[i]!.line}: ${r.problems[i]!.message}`).toContain(p));
  });

  it('a CSV line gives what the same line as NDJSON gives: the same readings, problems on the same lines (the fast path changes nothing)', () => {
    const header = fc.constantFrom(['value'], ['depth_cm', 'battery_v'], ['value', 'battery_v'], ['value', 'seq']);
    // Around every bound (depth 0–500 cm, level −20–30 m, battery 0–60 V), and what is no number.
    const cell = fc.oneof(fc.integer({ min: -300, max: 6000 }).map((v) => String(v / 10)), fc.constantFrom('-0.1', '0', '30', '30.1', '-20.1', '60', '60.5', '500', '500.1', '3.5', '1e3', '', 'abc', ' 7 ', '2.5'));
    const ts = fc.constantFrom(String(T), '2026-07-01T18:01:00+08:00', '2026-07-01 18:02:00.500000+00:00', '2026-07-01 18:03:00', '2023-02-31 10:00:00+08:00', 'soon', '1782900000');
    const row = fc.tuple(fc.constantFrom('PD-001', 'WL-001', 'RG-001', 'XX-1'), ts, fc.array(cell, { minLength: 0, maxLength: 3 }));
    fc.assert(
      fc.property(header, fc.array(row, { minLength: 1, maxLength: 8 }), (cols, rows) => {
        const csv = [['sensor', 'ts', ...cols].join(','), ...rows.map(([sensor, t, cells]) => [sensor, t, ...cells].join(','))].join('\n');
        const ndjson = rows
          .map(([sensor, t, cells]) => {
            const o: Record<string, unknown> = { sensor, ts: /^\d+$/.test(t) ? Number(t) : t };
            cols.forEach((c, i) => {
              const v = cells[i];
              if (v === undefined || v === '') return;
              o[c === 'value' ? ({ 'PD-001': 'depth_cm', 'WL-001': 'level_m', 'RG-001': 'rain_mm' } as Record<string, string>)[sensor] ?? 'value' : c] = Number.isFinite(Number(v)) ? Number(v) : v;
            });
            if (sensor === 'RG-001' && o['interval_s'] === undefined) o['interval_s'] = 60;
            return JSON.stringify(o);
          })
          .join('\n');
        const a = parseRecording(csv, 'csv', kindOf);
        const b = parseRecording(ndjson, 'ndjson', kindOf);
        expect(a.readings).toEqual(b.readings);
        expect([...new Set(a.problems.map((p) => p.line - 1))]).toEqual([...new Set(b.problems.map((p) => p.line))]);
      }),
      { numRuns: 300, seed: 22 },
    );
  });

  it('reads times as other recordings write them, placing local times in the given zone', () => {
    const csv = `sensor,ts,value\nPD-001,2023-06-14 14:34:48.000000+00:00,3\nPD-001,2023-06-14 14:35:48,4\nPD-001,1686753408,5\n`;
    const r = parseRecording(csv, 'csv', kindOf, { zone: parseZone('Asia/Shanghai')! });
    expect(r.problems).toEqual([]);
    expect(r.readings.map((x) => new Date(x.ts).toISOString())).toEqual(['2023-06-14T14:34:48.000Z', '2023-06-14T06:35:48.000Z', '2023-06-14T14:36:48.000Z']);
    const without = parseRecording(csv, 'csv', kindOf);
    expect(without.readings).toHaveLength(2);
    expect(without.problems).toEqual([{ line: 3, kind: 'time', message: expect.stringMatching(/no UTC offset/) as unknown as string }]);
  });

  it('summarises problems by kind, most frequent first, each with its first line', () => {
    const r = parseRecording(`{"sensor":"XX-1","ts":${T},"depth_cm":1}\nnope\n{"sensor":"XX-2","ts":${T},"depth_cm":1}\n{"sensor":"PD-001","ts":"soon","depth_cm":1}`, 'ndjson', kindOf);
    expect(summariseProblems(r.problems).map((s) => `${s.kind} ${s.count} @${s.first.line}`)).toEqual(['unknown-sensor 2 @1', 'not-json 1 @2', 'time 1 @4']);
  });

  it.each<[string, 'ndjson' | 'csv']>([
    ['{"sensor":"PD-001"}\n', 'ndjson'],
    ['\n  {"topic":"x"}', 'ndjson'],
    ['sensor,ts,value\n', 'csv'],
    ['"sensor","ts"\n', 'csv'],
  ])('tells the format from the content: %j is %s', (text, format) => expect(detectFormat(text)).toBe(format));

  it('auto-registers unknown sensors as ponding sensors of their own underpasses in one district, and refuses ids a registry cannot hold', () => {
    const base = loadRegistry(BUNDLED_CITY);
    const r = autoRegister(base, ['PD-001', 'nyc_sensor_17', 'nyc_sensor_17', 'bad id/with slash']);
    expect(r.added).toEqual(['nyc_sensor_17']);
    expect(r.refused).toEqual(['bad id/with slash']);
    expect(r.registry.sensors.find((s) => s.id === 'nyc_sensor_17')).toMatchObject({ kind: 'ponding', site: 'auto-nyc_sensor_17' });
    expect(r.registry.sites.find((s) => s.id === 'auto-nyc_sensor_17')).toMatchObject({ kind: 'underpass', district: 'backtest' });
    expect(r.registry.sensors).toHaveLength(base.sensors.length + 1);
  });

  it('fills a rain CSV row\'s interval and maps value to the kind\'s field', () => {
    const r = parseRecording(`sensor,ts,value\nRG-001,${T},0.5`, 'csv', kindOf);
    expect(r.readings[0]!.fields).toEqual({ rain_mm: 0.5, interval_s: 60 });
  });
});

describe('score', () => {
  const fire = (subject: string, min: number, alertId = `a-${subject}-${min}`): Transition => ({ ruleId: 'underpass-closure', subjectId: subject, sensorId: 'x', alertId, state: 'firing', severity: 'critical', value: 0, threshold: 0, unit: 'cm', ts: T + min * 60_000, reason: '' });
  const labels = parseLabels(`
earlyToleranceS: 600
events:
  - { rule: underpass-closure, subject: UP-001, start: "2026-07-01T18:20:00+08:00", end: "2026-07-01T19:00:00+08:00" }
  - { rule: underpass-closure, subject: UP-002, start: "2026-07-01T18:20:00+08:00", end: "2026-07-01T19:00:00+08:00" }
`);
  it.each<[string, Transition[], { hits: number; misses: number; falseAlarms: number; leadS: number[] }]>([
    ['both on time, one early, one late', [fire('UP-001', 15), fire('UP-002', 23)], { hits: 2, misses: 0, falseAlarms: 0, leadS: [300, -180] }],
    ['too early counts as a false alarm and a miss', [fire('UP-001', 5)], { hits: 0, misses: 2, falseAlarms: 1, leadS: [] }],
    ['an unlabelled subject is a false alarm', [fire('UP-001', 20), fire('UP-003', 20)], { hits: 1, misses: 1, falseAlarms: 1, leadS: [0] }],
    ['a second firing of the same alert (a level change) is not counted again', [fire('UP-001', 20, 'same'), fire('UP-001', 30, 'same')], { hits: 1, misses: 1, falseAlarms: 0, leadS: [0] }],
  ])('%s', (_case, transitions, expected) => {
    expect(score(transitions, labels)).toEqual([{ rule: 'underpass-closure', unlabelled: 0, ...expected }]);
  });

  it('with "no flood" periods, a firing inside one is a false alarm and a firing outside every labelled period is unlabelled', () => {
    const quiet = parseLabels(`
earlyToleranceS: 0
events:
  - { rule: underpass-closure, subject: UP-001, start: "2026-07-01T18:20:00+08:00", end: "2026-07-01T19:00:00+08:00" }
  - { rule: underpass-closure, subject: UP-001, start: "2026-07-01T20:00:00+08:00", end: "2026-07-01T22:00:00+08:00", flood: false }
`);
    // 18:25 hits the flood; 21:00 is inside the dry period; 23:00 and UP-002 at 21:00 are in no labelled period.
    expect(score([fire('UP-001', 25), fire('UP-001', 180), fire('UP-001', 300), fire('UP-002', 180)], quiet)).toEqual([{ rule: 'underpass-closure', hits: 1, misses: 0, falseAlarms: 1, unlabelled: 2, leadS: [-300] }]);
  });

  it('names labels the registry and rules cannot score: an unknown subject or rule', () => {
    const l = parseLabels(`
events:
  - { rule: underpass-closure, subject: UP-404, start: "2026-07-01T18:20:00+08:00", end: "2026-07-01T19:00:00+08:00" }
  - { rule: underpass-closure, subject: UP-404, start: "2026-07-01T20:20:00+08:00", end: "2026-07-01T21:00:00+08:00" }
  - { rule: road-flood, subject: UP-001, start: "2026-07-01T18:20:00+08:00", end: "2026-07-01T19:00:00+08:00" }
`);
    expect(labelProblems(l, { subjects: new Set(['UP-001']), rules: new Set(['underpass-closure']) })).toEqual([
      'labels: rule road-flood is not a rule of this rule set (1 event(s))',
      'labels: subject UP-404 is in no site, sensor or district of the registry (2 event(s) can only be misses)',
    ]);
  });

  it('refuses labels without times', () => {
    expect(() => parseLabels('events:\n  - { rule: x, subject: y }\n')).toThrow(/events.0.start/);
  });
});
