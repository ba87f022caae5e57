/**
 * The error catalogue (lib/errors.ts) holds every code floodgate gives and only those: each code
 * is used somewhere in the source, every `code: 'X'` the source writes is in it, and
 * docs/errors.md is the catalogue as a table.
 */
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ERROR_CATALOGUE, type ErrorCode } from './errors.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SKIP = new Set(['node_modules', '.git', 'benchmarks', 'data', 'docs', 'test']);

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    if (SKIP.has(e.name) || e.name.startsWith('.')) return [];
    const path = join(dir, e.name);
    if (e.isDirectory()) return sources(path);
    return e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') && !e.name.endsWith('.d.ts') ? [path] : [];
  });
}

function renderCatalogue(): string {
  const sections: Array<[string, string]> = [
    ['start', 'Starting a service (`floodgate up`, `floodgate gateway` …): one line on stderr, exit 1'],
    ['command', 'CLI commands: one line on stderr, exit 1'],
    ['running', 'A running service: a log line with the code, counted on `/metrics`; the service carries on'],
    ['reading', "A device's reading refused by ingest: on the device's reject topic and in `GET /api/rejects`"],
    ['api', 'The HTTP API: `{"error": {"code", "message"}}` with the status shown'],
  ];
  const out = ['# Error codes', '', '<!-- Made from lib/errors.ts by lib/errors.test.ts (UPDATE_DOCS=1 rewrites it). -->', '', 'Every code floodgate gives. Codes are stable: grep logs for them, match on them in clients.', ''];
  for (const [where, title] of sections) {
    out.push(`## ${title}`, '', where === 'api' ? '| code | status | meaning | what to do |' : '| code | meaning | what to do |', where === 'api' ? '|---|---|---|---|' : '|---|---|---|');
    for (const [code, e] of Object.entries(ERROR_CATALOGUE) as Array<[ErrorCode, (typeof ERROR_CATALOGUE)[ErrorCode]]>) {
      if (e.where !== where) continue;
      out.push(where === 'api' ? `| \`${code}\` | ${'status' in e ? e.status : ''} | ${e.meaning} | ${e.action} |` : `| \`${code}\` | ${e.meaning} | ${e.action} |`);
    }
    out.push('');
  }
  return out.join('\n');
}

describe('error catalogue', () => {
  const files = sources(ROOT).filter((f) => !f.endsWith(join('lib', 'errors.ts')));
  const text = files.map((f) => readFileSync(f, 'utf8')).join('\n');

  it('every code is used in the source', () => {
    const unused = Object.keys(ERROR_CATALOGUE).filter((code) => !text.includes(`'${code}'`));
    expect(unused).toEqual([]);
  });

  it('every code the source writes out is in the catalogue', () => {
    const written = new Map<string, string>();
    for (const f of files) for (const m of readFileSync(f, 'utf8').matchAll(/\bcode: '([A-Z][A-Z_]+)'/g)) written.set(m[1]!, relative(ROOT, f));
    const unknown = [...written].filter(([code]) => !(code in ERROR_CATALOGUE)).map(([code, f]) => `${code} (${f})`);
    expect(unknown).toEqual([]);
    expect(written.size).toBeGreaterThan(0);
  });

  it('docs/errors.md is the catalogue', () => {
    const path = join(ROOT, 'docs', 'errors.md');
    if (process.env['UPDATE_DOCS'] === '1') writeFileSync(path, renderCatalogue());
    expect(readFileSync(path, 'utf8'), 'docs/errors.md is out of date: UPDATE_DOCS=1 npx vitest run lib/errors.test.ts').toBe(renderCatalogue());
  });
});
