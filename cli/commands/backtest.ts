/** `floodgate backtest`. */
import { z } from 'zod';
import { command, flag } from './command.ts';
import { print } from '../../lib/process.ts';
import { clientEnv } from '../env.ts';
import { loadRegistry } from '../../config/registry.ts';

export const backtest = command({
  summary: 'replay recorded readings through the rules and score them against labelled events',
  usage: `floodgate backtest --input FILE [--rules FILE] [--labels FILE] [options]

Replays recorded readings through the same engine the rules service runs (sensor time; silent
sensors checked every simulated minute) and prints every alert transition with its time. With
--labels (what really happened), reports per rule: hits, misses, false alarms and lead time.

Options:
  --input FILE      readings: .ndjson (device payload + "sensor", or {topic, payload} as recorded
                    from MQTT) or .csv (header: sensor,ts, then field columns or "value")
  --rules FILE      rules file, default config/rules.yaml
  --labels FILE     labelled events (YAML/JSON): earlyToleranceS, events: [{rule, subject, start, end}]
  --registry FILE   registry, default the bundled demo city
  --rule ID         print only this rule's transitions (repeatable)
  --json            print transitions and scores as JSON

Example (ships with floodgate):
  floodgate backtest --input examples/backtest/storm-2026-07-01.ndjson \\
                     --labels examples/backtest/storm-2026-07-01.labels.yaml`,
  options: {
    input: { type: 'string' },
    rules: { type: 'string' },
    labels: { type: 'string' },
    registry: { type: 'string' },
    rule: { type: 'string', multiple: true },
    json: { type: 'boolean', default: false },
  },
  flags: z.object({ input: z.string({ error: 'is required: a recording (NDJSON or CSV)' }).min(1), rules: flag.text, labels: flag.text, registry: flag.text, rule: z.array(z.string().min(1)).optional(), json: flag.on }),
  async run(v) {
    const input = v.input;
    const { readFileSync } = await import('node:fs');
    const { BUNDLED_CITY } = await import('../../config/registry.ts');
    const { loadRules, DEFAULT_RULES_PATH } = await import('../../rules/load.ts');
    const { engineContext } = await import('../../rules/context.ts');
    const bt = await import('../../rules/backtest.ts');
    const registry = loadRegistry(v.registry ?? BUNDLED_CITY);
    const rules = loadRules(v.rules ?? clientEnv(process.env).rulesPath ?? DEFAULT_RULES_PATH, registry.sites);
    const kinds = new Map(registry.sensors.map((s) => [s.id, s.kind]));
    const { readings, problems } = bt.parseRecording(readFileSync(input, 'utf8'), input.endsWith('.csv') ? 'csv' : 'ndjson', (id) => kinds.get(id));
    for (const p of problems.slice(0, 20)) process.stderr.write(`${input}:${p.line}: ${p.message} (skipped)\n`);
    if (problems.length > 20) process.stderr.write(`… and ${problems.length - 20} more problems\n`);
    const result = bt.replay(readings, engineContext(registry, rules));
    const only = v.rule;
    const shown = only?.length ? result.transitions.filter((t) => only.includes(t.ruleId)) : result.transitions;
    const scores = v.labels ? bt.score(result.transitions, bt.parseLabels(readFileSync(v.labels, 'utf8'))) : undefined;
    if (v.json) {
      print(JSON.stringify({ readings: readings.length, problems: problems.length, suspect: result.flags, stale: result.stale, transitions: shown, scores }));
      return;
    }
    for (const t of shown) print(bt.formatTransition(t));
    print(`\n${readings.length} readings (${problems.length} skipped, ${result.flags} flagged suspect, ${result.stale} stale), ${result.transitions.length} transitions`);
    if (scores) print(`\n${bt.formatScores(scores)}`);
  },
});
