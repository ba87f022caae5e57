/**
 * floodgate reaches into aedes, aedes-persistence-level and mqtt.js where their public API does not
 * reach (docs/brokers.md lists each place and why). Each such place was written against one
 * version; another version may move what it touches without a type error or a failing call. So
 * the places check the installed version at start and refuse another one loudly, naming what to
 * review, rather than misbehave quietly in a storm.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { FloodgateError } from './errors.ts';

/** The versions the patches were written for (package.json pins the same). */
export const PATCHED_FOR = {
  aedes: '1.2.0',
  'aedes-persistence-level': '9.2.0',
  mqtt: '5.16.0',
} as const;

const require = createRequire(import.meta.url);

/** The installed version of `pkg` (read from its package.json, which aedes does not export). */
export function installedVersion(pkg: string): string {
  let dir = dirname(require.resolve(pkg));
  for (;;) {
    try {
      const json = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (json.name === pkg && json.version) return json.version;
    } catch {
      // no package.json here: look further up
    }
    const up = dirname(dir);
    if (up === dir) throw new Error(`cannot find the package.json of ${pkg}`);
    dir = up;
  }
}

const checked = new Set<string>();

/** Throws DEPENDENCY_VERSION unless `pkg` is the version `what` was written for (read once per process). */
export function requirePatchedVersion(pkg: keyof typeof PATCHED_FOR, what: string, installed?: string): void {
  if (installed === undefined && checked.has(pkg)) return;
  installed ??= installedVersion(pkg);
  const expected = PATCHED_FOR[pkg];
  if (installed !== expected)
    throw new FloodgateError('DEPENDENCY_VERSION', `${what} was written for ${pkg} ${expected}, and ${pkg} ${installed} is installed: review each place docs/brokers.md lists for ${pkg} against ${installed}, then update PATCHED_FOR in lib/patched-versions.ts`);
  checked.add(pkg);
}
