import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { PATCHED_FOR, installedVersion, requirePatchedVersion } from './patched-versions.ts';

describe('patched dependency versions', () => {
  const pinned = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { dependencies: Record<string, string> }).dependencies;

  it.each(Object.keys(PATCHED_FOR) as Array<keyof typeof PATCHED_FOR>)('%s: installed, pinned and patched for the same version', (pkg) => {
    expect(installedVersion(pkg)).toBe(PATCHED_FOR[pkg]);
    expect(pinned[pkg]).toBe(PATCHED_FOR[pkg]);
    expect(() => requirePatchedVersion(pkg, 'x')).not.toThrow();
  });

  it('refuses another version loudly, naming what to review', () => {
    expect(() => requirePatchedVersion('aedes', 'the gateway', '1.3.0')).toThrow(/written for aedes 1\.2\.0, and aedes 1\.3\.0 is installed: review/);
    expect(() => requirePatchedVersion('mqtt', 'x', '6.0.0')).toThrow(expect.objectContaining({ code: 'DEPENDENCY_VERSION' }));
  });
});
