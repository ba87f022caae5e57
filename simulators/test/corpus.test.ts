/**
 * The labelled ponding corpus (simulators/corpus.ts) through today's rules: the table in
 * docs/rules-corpus.md is what this run gives (UPDATE_DOCS=1 rewrites it), so the document never
 * drifts from the code; issue 22's goals are measured against it.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { buildDemoCity } from '../../config/demo-city.ts';
import { engineContext } from '../../rules/context.ts';
import { parse as parseYaml, stringify } from 'yaml';
import { DEFAULT_RULES_PATH, loadRules, parseRules } from '../../rules/load.ts';
import { replay } from '../../rules/backtest.ts';
import { buildCorpus, corpusTable, optionsTable, scoreCorpus, CORPUS_CLASSES } from '../corpus.ts';

const DOC = fileURLToPath(new URL('../../docs/rules-corpus.md', import.meta.url));
const BEGIN = '<!-- corpus table: simulators/test/corpus.test.ts writes it (UPDATE_DOCS=1) -->';
const END = '<!-- end of corpus table -->';
const OPTIONS_BEGIN = '<!-- options table: simulators/test/corpus.test.ts writes it (UPDATE_DOCS=1) -->';
const OPTIONS_END = '<!-- end of options table -->';

/** The text between two markers of the doc replaced (UPDATE_DOCS=1 writes it), or checked. */
function keepInDoc(begin: string, end: string, table: string): void {
  const doc = readFileSync(DOC, 'utf8');
  const [before, rest] = doc.split(begin) as [string, string];
  const after = rest.split(end)[1]!;
  const want = `${before}${begin}\n${table}\n${end}${after}`;
  if (process.env['UPDATE_DOCS'] === '1') writeFileSync(DOC, want);
  expect(readFileSync(DOC, 'utf8'), 'docs/rules-corpus.md is out of date: UPDATE_DOCS=1 npx vitest run simulators/test/corpus.test.ts').toBe(want);
}

/** config/rules.yaml with some defaults changed. */
function shippedWith(changes: Record<string, Record<string, unknown>>) {
  const file = parseYaml(readFileSync(DEFAULT_RULES_PATH, 'utf8')) as { defaults: Record<string, Record<string, unknown>> };
  for (const [kind, fields] of Object.entries(changes)) file.defaults[kind] = { ...file.defaults[kind], ...fields };
  return stringify(file);
}

describe('the labelled ponding corpus', () => {
  const city = buildDemoCity();
  const corpus = buildCorpus(city, { perClass: 12, seed: 22 });

  it('is deterministic, and labels floods only where the truth crossed 25 cm', () => {
    const again = buildCorpus(city, { perClass: 12, seed: 22 });
    expect(again.readings).toEqual(corpus.readings);
    expect(again.labels).toEqual(corpus.labels);
    for (const cls of CORPUS_CLASSES) {
      const sites = [...corpus.classOf].filter(([, c]) => c === cls).map(([s]) => s);
      const floods = corpus.labels.events.filter((e) => sites.includes(e.subject) && e.flood);
      expect(floods.length > 0, cls).toBe(['storm', 'fast-rise', 'short-peak', 'one-step', 'sparse'].includes(cls));
    }
  });

  it('scored with today\'s rules, is the table in docs/rules-corpus.md', () => {
    const ctx = engineContext(city, loadRules(DEFAULT_RULES_PATH, city.sites));
    keepInDoc(BEGIN, END, corpusTable(scoreCorpus(corpus, replay(corpus.readings, ctx).transitions)));
  });

  it('each new rule option turned off on its own, beside the rules as shipped, is the options table', () => {
    const variants: Array<[string, string, Record<string, Record<string, unknown>>]> = [
      ['as shipped', 'config/rules.yaml', {}],
      ['no forecast closure', '`underpass.forecastHorizonS: 0`', { underpass: { forecastHorizonS: 0 } }],
      ['no confirmation by rain or neighbours', '`corroboration.rainMmPerH: 100000`, `neighbourCm: 0`', { corroboration: { rainMmPerH: 100_000, neighbourCm: 0 } }],
      ['no baseline-shift judgement', '`health.baselineShiftS: 604800`', { health: { baselineShiftS: 604_800 } }],
    ];
    const runs = variants.map(([option, setting, changes]) => {
      const rules = parseRules(shippedWith(changes), option, city.sites);
      return { option, setting, rows: scoreCorpus(corpus, replay(corpus.readings, engineContext(city, rules)).transitions) };
    });
    // The options do what they say: each one off costs what it was for.
    const total = (i: number, k: 'misses' | 'falseAlarms' | 'baselineShiftWithinHour') => runs[i]!.rows.reduce((n, r) => n + r[k], 0);
    expect(total(2, 'misses')).toBeGreaterThan(total(0, 'misses'));
    expect(total(3, 'baselineShiftWithinHour')).toBeLessThan(total(0, 'baselineShiftWithinHour'));
    keepInDoc(OPTIONS_BEGIN, OPTIONS_END, optionsTable(runs));
  });
});
