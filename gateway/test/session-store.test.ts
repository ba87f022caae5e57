/**
 * The indexed session store (gateway/session-store.ts) passes aedes-persistence's own abstract
 * test suite — the suite every aedes persistence must pass — run under node:test.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { indexedMemoryPersistence } from '../session-store.ts';

describe('indexed session store', () => {
  it("passes aedes-persistence's abstract suite", () => {
    const file = fileURLToPath(new URL('./session-store.node.ts', import.meta.url));
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', file], { encoding: 'utf8' });
    const count = (k: string) => Number(new RegExp(`^# ${k} (\\d+)$`, 'm').exec(r.stdout)?.[1] ?? -1);
    expect(count('fail'), r.stdout.slice(-3000)).toBe(0);
    expect(count('pass')).toBeGreaterThanOrEqual(50);
    expect(r.status).toBe(0);
  });

  it("keeps one queue order across this broker's messages and another's, ids reused after a wrap", async () => {
    type P = { brokerId: string; brokerCounter: number; messageId?: number; topic: string };
    const store = indexedMemoryPersistence('home').asyncPersistence as unknown as {
      outgoingEnqueue(sub: { clientId: string }, p: object): Promise<void>;
      outgoingUpdate(c: { id: string }, p: P): Promise<void>;
      outgoingClearMessageId(c: { id: string }, p: { messageId: number }): Promise<P | undefined>;
      outgoingStream(c: { id: string }): P[];
    };
    const c = { id: 'ingest' };
    const packet = (brokerId: string, brokerCounter: number): P => ({ brokerId, brokerCounter, topic: `t/${brokerId}${brokerCounter}` });
    const queued = [packet('home', 1), packet('other', 1), packet('home', 2), packet('other', 2), packet('home', 3)];
    for (const p of queued) await store.outgoingEnqueue({ clientId: c.id }, p);
    // Deliveries give packet ids; id 7 is used twice (a wrap): the PUBACK clears the first in queue order.
    const ids = [7, 8, 7, 9, 10];
    for (const [i, p] of queued.entries()) await store.outgoingUpdate(c, { ...p, messageId: ids[i]! });
    expect(store.outgoingStream(c).map((p) => p.topic)).toEqual(['t/home1', 't/other1', 't/home2', 't/other2', 't/home3']);
    expect((await store.outgoingClearMessageId(c, { messageId: 7 }))?.topic).toBe('t/home1');
    expect((await store.outgoingClearMessageId(c, { messageId: 9 }))?.topic).toBe('t/other2');
    expect((await store.outgoingClearMessageId(c, { messageId: 7 }))?.topic).toBe('t/home2');
    expect(await store.outgoingClearMessageId(c, { messageId: 7 })).toBeUndefined();
    expect(store.outgoingStream(c).map((p) => [p.topic, p.messageId])).toEqual([
      ['t/other1', 8],
      ['t/home3', 10],
    ]);
  });
});
