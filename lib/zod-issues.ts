/**
 * One way to say what a zod schema refused, wherever untrusted input is parsed (configuration,
 * the registry, scenarios, rules, users, API bodies, notices): `path: message` for each issue, as
 * an indented list (startup errors) or on one line (API answers, logs).
 */
import type { z } from 'zod';

export interface IssueStyle {
  /** An indented list, one issue per line (default: one line, `; ` between issues). */
  list?: boolean;
  /** Put before every path (an API body: `body`). */
  prefix?: string;
  /** At most this many issues (a broken 10,000-device registry is not 10,000 lines). */
  max?: number;
  /** Where in a source file the issue is (the rules file: its line). */
  where?: (issue: Issue) => string;
}

/** A zod issue, or one of the same shape (the rules' per-site checks). */
export type Issue = Pick<z.core.$ZodIssue, 'path' | 'message'> & { code?: string; keys?: string[] };

export function describeIssues(issues: readonly Issue[], style: IssueStyle = {}): string {
  const shown = issues.slice(0, style.max ?? issues.length).map((i) => {
    const path = [style.prefix, ...i.path.map(String)].filter((p) => p !== undefined && p !== '').join('.') || '(root)';
    return `${style.where ? `${style.where(i)} ` : ''}${path}: ${i.message}`;
  });
  if (issues.length > shown.length) shown.push(`… and ${issues.length - shown.length} more`);
  return style.list ? shown.map((l) => `  - ${l}`).join('\n') : shown.join('; ');
}
