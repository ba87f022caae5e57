/** `floodgate backtest`. */
import { z } from 'zod';
import { command, flag } from './command.ts';
import { print } from '../../lib/process.ts';
import { clientEnv } from '../env.ts';
import { loadRegistry, type Registry } from '../../config/registry.ts';
import { FloodgateError } from '../../lib/errors.ts';
import { parseZone } from '../../lib/zone.ts';
import type { InputProblem } from '../../contracts/recording.ts';
import type * as Backtest from '../../rules/backtest.ts';

const zoneFlag = z
  .string()
  .optional()
  .transform((v, ctx) => {
    if (v === undefined) return undefined;
    const zone = parseZone(v);
    if (!zone) ctx.addIssue({ code: 'custom', message: 'must be an offset (+08:00, -0300, UTC) or a zone name (Asia/Shanghai)' });
    return zone;
  });

export const backtest = command({
  summary: 'replay recorded readings through the rules and score them against labelled events',
  usage: `floodgate backtest --input FILE [--rules FILE] [--labels FILE] [options]

Replays recorded readings through the same engine the rules service runs (sensor time) and prints
every alert transition with its time. With --labels (what really happened), reports first, one
line per rule: hits, misses, false alarms and lead time.

Options:
  --input FILE        readings: NDJSON (device payload + "sensor", or {topic, payload} as recorded
                      from MQTT) or CSV (header: sensor,ts, then field columns or "value")
  --format F          ndjson or csv (default: told from the content, not the file's name)
  --tz ZONE           the recording's zone, for times written without an offset, and the zone
                      times are printed in: +08:00, UTC, Asia/Shanghai (default: +08:00 for
                      printing; a time without an offset is refused)
  --rules FILE        rules file, default config/rules.yaml
  --labels FILE       labelled events (YAML/JSON): earlyToleranceS, events: [{rule, subject,
                      start, end, flood}]; flood: false marks a period known to be dry (a firing
                      in it is a false alarm; firings outside every labelled period are counted
                      as unlabelled)
  --registry FILE     registry, default the bundled demo city
  --auto-register     sensors the registry does not know become ponding sensors, each at an
                      underpass of its own, in one synthetic district
  --offline           raise sensor-offline alerts from gaps in the recording (off: a recording's
                      gaps are not outages)
  --max-skipped PCT   exit 1 when more than this share of lines is skipped (default 10)
  --rule ID           print only this rule's transitions (repeatable)
  --json              print transitions and scores as JSON

Exit status: 0; 1 when nothing was replayed or more than --max-skipped of the lines was skipped.

Example (ships with floodgate):
  floodgate backtest --input examples/backtest/storm-2026-07-01.ndjson \\
                     --labels examples/backtest/storm-2026-07-01.labels.yaml`,
  options: {
    input: { type: 'string' },
    format: { type: 'string' },
    tz: { type: 'string' },
    rules: { type: 'string' },
    labels: { type: 'string' },
    registry: { type: 'string' },
    'auto-register': { type: 'boolean', default: false },
    offline: { type: 'boolean', default: false },
    'max-skipped': { type: 'string' },
    rule: { type: 'string', multiple: true },
    json: { type: 'boolean', default: false },
  },
  flags: z.object({
    input: z.string({ error: 'is required: a recording (NDJSON or CSV)' }).min(1),
    format: z.enum(['ndjson', 'csv'], { error: 'must be ndjson or csv' }).optional(),
    tz: zoneFlag,
    rules: flag.text,
    labels: flag.text,
    registry: flag.text,
    'auto-register': flag.on,
    offline: flag.on,
    'max-skipped': z.coerce.number().min(0, 'must be a percentage 0..100').max(100, 'must be a percentage 0..100').default(10),
    rule: z.array(z.string().min(1)).optional(),
    json: flag.on,
  }),
  async run(v) {
    const { readFileSync } = await import('node:fs');
    const { BUNDLED_CITY } = await import('../../config/registry.ts');
    const { loadRules, DEFAULT_RULES_PATH } = await import('../../rules/load.ts');
    const { engineContext } = await import('../../rules/context.ts');
    const bt = await import('../../rules/backtest.ts');
    const { RULE_IDS } = await import('../../rules/engine.ts');
    const text = readFileSync(v.input, 'utf8');
    const format = v.format ?? bt.detectFormat(text);
    const { registry, readings, problems } = readRecording(bt, text, format, loadRegistry(v.registry ?? BUNDLED_CITY), v);
    const rules = loadRules(v.rules ?? clientEnv(process.env).rulesPath ?? DEFAULT_RULES_PATH, registry.sites);
    reportProblems(bt.summariseProblems(problems), v.input);
    const result = bt.replay(readings, engineContext(registry, rules), { offline: v.offline });
    const only = v.rule;
    const shown = only?.length ? result.transitions.filter((t) => only.includes(t.ruleId)) : result.transitions;
    const labels = v.labels ? bt.parseLabels(readFileSync(v.labels, 'utf8')) : undefined;
    if (labels) {
      const subjects = new Set([...registry.sites.map((s) => s.id), ...registry.sensors.map((s) => s.id), ...registry.districts.map((d) => d.id)]);
      for (const p of bt.labelProblems(labels, { subjects, rules: new Set(Object.values(RULE_IDS)) })) process.stderr.write(`${p}\n`);
    }
    const scores = labels ? bt.score(result.transitions, labels) : undefined;
    const skippedLines = new Set(problems.map((p) => p.line)).size;
    const summary = `${readings.length} readings replayed (${format}; ${skippedLines} lines skipped, ${result.flags} flagged suspect, ${result.stale} stale), ${result.transitions.length} transitions`;
    if (v.json) print(JSON.stringify({ readings: readings.length, skipped: skippedLines, problems: bt.summariseProblems(problems), suspect: result.flags, stale: result.stale, scores, transitions: shown }));
    else {
      if (scores) print(`${bt.formatScores(scores)}\n`);
      print(summary);
      if (shown.length) print('');
      for (const t of shown) print(bt.formatTransition(t, v.tz ?? bt.DEFAULT_ZONE));
    }
    refuseIfMostlySkipped(readings.length, skippedLines, v['max-skipped'], v.input);
  },
});


/** The recording's readings, with the registry they are read against (extended by --auto-register). */
function readRecording(bt: typeof Backtest, text: string, format: 'ndjson' | 'csv', base: Registry, v: { tz?: ReturnType<typeof parseZone>; 'auto-register': boolean }) {
  const kinds = new Map(base.sensors.map((s) => [s.id, s.kind]));
  // One pass: a sensor --auto-register will register is read as the ponding sensor it becomes; one
  // it cannot is refused as unknown, as it would be against the extended registry.
  const unknown = new Set<string>();
  const refused = new Set<string>();
  const kindOf = (id: string) => {
    const known = kinds.get(id);
    if (known || !v['auto-register']) return known;
    if (!bt.canAutoRegister(id)) return void refused.add(id);
    unknown.add(id);
    return 'ponding' as const;
  };
  const parsed = bt.parseRecording(text, format, kindOf, { zone: v.tz });
  if (unknown.size === 0 && refused.size === 0) return { registry: base, ...parsed };
  const auto = bt.autoRegister(base, unknown);
  process.stderr.write(`auto-registered ${auto.added.length} sensor(s) as ponding sensors in district "backtest"${refused.size ? `; refused ${refused.size} id(s) a registry cannot hold, e.g. ${JSON.stringify([...refused][0])}` : ''}\n`);
  return { registry: auto.registry, ...parsed };
}

/** Problems by kind, each with its count and its first line, on stderr. */
function reportProblems(summary: Array<{ kind: string; count: number; first: InputProblem }>, input: string): void {
  for (const s of summary) process.stderr.write(`${input}: ${s.count} × ${s.kind}, first at line ${s.first.line}: ${s.first.message}\n`);
}

function refuseIfMostlySkipped(replayed: number, skipped: number, maxPct: number, input: string): void {
  if (replayed === 0) throw new FloodgateError('BACKTEST_INPUT', `nothing replayed from ${input}: ${skipped} line(s) skipped (their problems are listed above)`);
  const pct = (100 * skipped) / (replayed + skipped);
  if (pct > maxPct) throw new FloodgateError('BACKTEST_INPUT', `${pct.toFixed(1)}% of the lines of ${input} were skipped, more than --max-skipped ${maxPct}%: the score would not be this recording's`);
}
