/**
 * lib/quiet-debug.ts in a process of its own (it swaps a module in the CommonJS cache, which a
 * test worker shares): disabled namespaces stay silent, DEBUG still turns mqtt-packet's trace on,
 * and the factory's own API keeps working.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const CHILD = fileURLToPath(new URL('./fixtures/quiet-debug-child.ts', import.meta.url));

function run(debug: string | undefined): { out: Record<string, unknown>; err: string } {
  const env: NodeJS.ProcessEnv = { ...process.env, DEBUG_COLORS: '0' };
  delete env.DEBUG;
  if (debug !== undefined) env.DEBUG = debug;
  const r = spawnSync(process.execPath, ['--import', 'tsx', CHILD], { env, encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) throw new Error(`child exited ${r.status}: ${r.stderr}`);
  return { out: JSON.parse(r.stdout) as Record<string, unknown>, err: r.stderr };
}

describe('quietDebug', () => {
  it('DEBUG unset: no-op debuggers that still answer the debug API', () => {
    const { out, err } = run(undefined);
    expect(err).not.toMatch(/mqtt-packet/);
    expect(out).toEqual({
      parsed: 1,
      codecGetsQuiet: true,
      probe: { enabled: false, namespace: 'floodgate:probe', extended: 'floodgate:probe:x' },
      later: true, // enable() at run time still works for namespaces created after it
    });
  });

  it('DEBUG=mqtt-packet:* still traces the codec', () => {
    const { out, err } = run('mqtt-packet:*');
    expect(out.parsed).toBe(1);
    expect(err).toMatch(/mqtt-packet:parser/);
    expect(err).toMatch(/floodgate:later enabled at run time/);
  });
});
