/**
 * The group-committed LevelDB under aedes' persistence (gateway/group-commit-level.ts): it passes
 * aedes-persistence's own abstract suite through aedes-persistence-level, and, on a real LevelDB
 * directory, reads see what was written before the batch is on disk, a window goes down as one
 * batch, a clear keeps the order of what came before and after it, and what was acknowledged is
 * on disk after a reopen.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Level } from 'level';
import { groupCommit, type GroupCommitOptions, type GroupCommitStore } from '../group-commit-level.ts';

const dirs: string[] = [];
const open = (options: GroupCommitOptions = {}) => {
  const dir = mkdtempSync(join(tmpdir(), 'floodgate-gc-'));
  dirs.push(dir);
  return { dir, db: groupCommit(new Level<string, Buffer>(dir, { valueEncoding: 'buffer' }), options) };
};
const b = (s: string) => Buffer.from(s);
const all = async (db: GroupCommitStore, range = { gte: 'a', lt: 'z' }) => {
  const out: string[] = [];
  for await (const v of db.values(range)) out.push(v.toString());
  return out;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('group-committed LevelDB', () => {
  it.each(['durable', 'visible'])("passes aedes-persistence's abstract suite under aedes-persistence-level, writes settling when %s", (settle) => {
    const file = fileURLToPath(new URL('./group-commit-level.node.ts', import.meta.url));
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', file], { encoding: 'utf8', env: { ...process.env, SETTLE: settle } });
    const count = (k: string) => Number(new RegExp(`^# ${k} (\\d+)$`, 'm').exec(r.stdout)?.[1] ?? -1);
    expect(count('fail'), r.stdout.slice(-3000)).toBe(0);
    expect(count('pass')).toBeGreaterThanOrEqual(50);
    expect(r.status).toBe(0);
  });

  it('reads its own writes at once, and writes a turn of writes as one batch', async () => {
    const { db } = open();
    const done = Array.from({ length: 1000 }, (_, i) => db.put(`k${String(i).padStart(4, '0')}`, b(`v${i}`)));
    expect((await db.get('k0007'))?.toString()).toBe('v7');
    await db.del('k0007');
    expect(await db.get('k0007')).toBeUndefined();
    await Promise.all(done);
    const { batches, ops } = db.stats();
    expect(ops).toBe(1000); // put and delete of k0007 in one window went down as the delete alone
    expect(batches).toBeLessThanOrEqual(2);
    expect(await all(db, { gte: 'k', lt: 'l' })).toHaveLength(999);
    await db.close();
  });

  it('keeps what it wrote readable from memory, the newest keys first, and drops it on a clear', async () => {
    const { db } = open();
    const { db: small } = open({ cacheEntries: 10 });
    for (const store of [db, small]) await Promise.all(Array.from({ length: 20 }, (_, i) => store.put(`k${String(i).padStart(2, '0')}`, b(`v${i}`))));
    expect((await db.get('k00'))?.toString()).toBe('v0');
    expect(db.stats().diskReads).toBe(0);
    expect((await small.get('k19'))?.toString()).toBe('v19');
    expect(small.stats().diskReads).toBe(0);
    expect((await small.get('k00'))?.toString(), 'an evicted key is read from the disk').toBe('v0');
    expect(small.stats().diskReads).toBe(1);
    await db.clear({ gte: 'k15', lt: 'k17' });
    expect(await db.get('k15')).toBeUndefined();
    expect((await db.get('k18'))?.toString()).toBe('v18');
    await Promise.all([db.close(), small.close()]);
  });

  it.each([
    { name: 'writes before a clear are cleared, writes after it stay', steps: ['put a:1', 'put a:2', 'clear a', 'put a:3'], left: ['a3'] },
    { name: 'a key written again after a clear', steps: ['put a:1', 'clear a', 'put a:1'], left: ['a1'] },
    { name: 'a chained batch, then a clear of another range', steps: ['chain a:1 a:2', 'clear b', 'put b:1'], left: ['a1', 'a2', 'b1'] },
    { name: 'a delete within the window', steps: ['put a:1', 'put a:2', 'del a:1'], left: ['a2'] },
    { name: 'a clear of what is already on disk', steps: ['put a:1', 'flush', 'put a:2', 'clear a', 'get a:1', 'put b:1'], left: ['b1'] },
  ])('keeps order, in reads and on disk: $name', async ({ steps, left }) => {
    const { dir, db } = open();
    const value = (k: string) => b(k.replace(':', ''));
    const pending: Promise<unknown>[] = [];
    for (const step of steps) {
      const [verb, ...keys] = step.split(' ') as [string, ...string[]];
      if (verb === 'put') pending.push(db.put(keys[0]!, value(keys[0]!)));
      if (verb === 'del') pending.push(db.del(keys[0]!));
      if (verb === 'clear') pending.push(db.clear({ gte: `${keys[0]}:`, lt: `${keys[0]};` }));
      if (verb === 'flush') await Promise.all(pending);
      if (verb === 'get') expect(await db.get(keys[0]!), 'a cleared key reads as gone before the clear is done').toBeUndefined();
      if (verb === 'chain') {
        const batch = db.batch();
        for (const k of keys) batch.put(k, value(k));
        pending.push(batch.write());
      }
    }
    expect(await all(db)).toEqual(left);
    await Promise.all(pending);
    await db.close();
    const raw = new Level<string, Buffer>(dir, { valueEncoding: 'buffer' });
    const onDisk: string[] = [];
    for await (const v of raw.values({ gte: 'a', lt: 'z' })) onDisk.push(v.toString());
    await raw.close();
    expect(onDisk).toEqual(left);
  });
});
