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
import { DEFAULT_RULES_PATH, loadRules } from '../../rules/load.ts';
import { replay } from '../../rules/backtest.ts';
import { buildCorpus, corpusTable, scoreCorpus, CORPUS_CLASSES } from '../corpus.ts';

const DOC = fileURLToPath(new URL('../../docs/rules-corpus.md', import.meta.url));
const BEGIN = '<!-- corpus table: simulators/test/corpus.test.ts writes it (UPDATE_DOCS=1) -->';
const END = '<!-- end of corpus table -->';

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
    const table = corpusTable(scoreCorpus(corpus, replay(corpus.readings, ctx).transitions));
    const doc = readFileSync(DOC, 'utf8');
    const [before, rest] = doc.split(BEGIN) as [string, string];
    const after = rest.split(END)[1]!;
    const want = `${before}${BEGIN}\n${table}\n${END}${after}`;
    if (process.env['UPDATE_DOCS'] === '1') writeFileSync(DOC, want);
    expect(readFileSync(DOC, 'utf8'), 'docs/rules-corpus.md is out of date: UPDATE_DOCS=1 npx vitest run simulators/test/corpus.test.ts').toBe(want);
  });
});
