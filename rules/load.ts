/**
 * Load a rules file (YAML, or JSON: YAML 1.2 reads both) and compile it against the registry.
 * Every problem is reported at once, each with the line and the field at fault:
 *
 *   config/rules.yaml:12 defaults.underpass.closeCm: Too small: expected number to be >0
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { LineCounter, parseDocument, isNode } from 'yaml';
import type { Site } from '../config/registry.ts';
import { FloodgateError } from '../lib/errors.ts';
import { compileRules, RulesFile, type SiteRules } from './spec.ts';
import { describeIssues, type Issue } from '../lib/zod-issues.ts';

export const DEFAULT_RULES_PATH = fileURLToPath(new URL('../config/rules.yaml', import.meta.url));

export interface LoadedRules {
  path: string;
  file: RulesFile;
  sites: Map<string, SiteRules>;
}

export function parseRules(text: string, name: string, sites: Site[]): LoadedRules {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const at = (offset: number) => `${name}:${lines.linePos(offset).line}`;
  if (doc.errors.length > 0) {
    throw new FloodgateError('RULES_INVALID', `rules file refused:\n${doc.errors.map((e) => `  ${at(e.pos[0])} ${e.message.split('\n')[0]}`).join('\n')}`);
  }
  /** The line of the deepest node that exists along `path` (a missing key points at its parent). */
  const lineOf = (path: Array<string | number>): string => {
    for (let n = path.length; n >= 0; n--) {
      const node = doc.getIn(path.slice(0, n), true);
      if (isNode(node) && node.range) return at(node.range[0]);
    }
    return `${name}:1`;
  };
  let raw: unknown;
  try {
    raw = doc.toJS() ?? {};
  } catch (err) {
    // An alias to nothing (`*x`) and the like fail only when the document is built.
    throw new FloodgateError('RULES_INVALID', `rules file refused:\n  ${name}: ${(err as Error).message.split('\n')[0]}`);
  }
  const parsed = RulesFile.safeParse(raw);
  if (!parsed.success) {
    // A misspelt key points at its own line, not at the object holding it.
    const where = (i: Issue) => lineOf(i.code === 'unrecognized_keys' && i.keys ? [...(i.path as Array<string | number>), i.keys[0]!] : (i.path as Array<string | number>));
    throw new FloodgateError('RULES_INVALID', `rules file refused:\n${describeIssues(parsed.error.issues, { list: true, where })}`);
  }
  const { rules, issues } = compileRules(parsed.data, sites);
  if (issues.length > 0) {
    throw new FloodgateError('RULES_INVALID', `rules file refused:\n${describeIssues(issues, { list: true, where: (i) => lineOf(i.path as Array<string | number>) })}`);
  }
  return { path: name, file: parsed.data, sites: rules };
}

export function loadRules(path: string, sites: Site[]): LoadedRules {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new FloodgateError('RULES_INVALID', `cannot read rules file ${path}: ${(err as Error).message}`);
  }
  return { ...parseRules(text, path, sites), path };
}
