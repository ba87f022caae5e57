/**
 * The indexed session store (gateway/session-store.ts) passes aedes-persistence's own abstract
 * test suite — the suite every aedes persistence must pass — run under node:test.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

describe('indexed session store', () => {
  it("passes aedes-persistence's abstract suite", () => {
    const file = fileURLToPath(new URL('./session-store.node.ts', import.meta.url));
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', file], { encoding: 'utf8' });
    const count = (k: string) => Number(new RegExp(`^# ${k} (\\d+)$`, 'm').exec(r.stdout)?.[1] ?? -1);
    expect(count('fail'), r.stdout.slice(-3000)).toBe(0);
    expect(count('pass')).toBeGreaterThanOrEqual(50);
    expect(r.status).toBe(0);
  });
});
