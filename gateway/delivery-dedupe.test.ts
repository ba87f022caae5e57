import { describe, expect, it } from 'vitest';
import { RecentKeys, useExactDedupe } from './delivery-dedupe.ts';

describe('RecentKeys', () => {
  it.each([
    // capacity, keys added, expected remembered, expected forgotten
    [3, [1, 2, 3], [1, 2, 3], []],
    [3, [1, 2, 3, 4], [2, 3, 4], [1]],
    [3, [1, 2, 3, 4, 5, 6, 7], [5, 6, 7], [1, 2, 3, 4]],
    [3, [1, 1, 1, 2], [1, 2], []], // a key added again takes no second slot
    [2, [1, 'b:1', 2], ['b:1', 2], [1]], // numbers and strings are different keys
  ])('capacity %i, added %j: remembers %j, forgot %j', (capacity, added, kept, forgot) => {
    const r = new RecentKeys<number | string>(capacity);
    for (const k of added) r.add(k);
    for (const k of kept) expect(r.has(k)).toBe(true);
    for (const k of forgot) expect(r.has(k)).toBe(false);
    expect(r.size).toBe(kept.length);
  });
});

describe('useExactDedupe', () => {
  const fakeClient = () => {
    const sent: string[] = [];
    const client = {
      duplicates: {} as Record<string, number>,
      deliverQoS(p: { brokerId?: string; brokerCounter?: number }, cb: () => void) {
        sent.push(`${p.brokerId}:${p.brokerCounter}`);
        cb();
      },
    };
    return { client, sent };
  };

  it('delivers each message once, whatever the order, for this broker and another', async () => {
    const { client, sent } = fakeClient();
    useExactDedupe(client, { brokerId: 'me' });
    const deliver = (brokerId: string, brokerCounter: number) => new Promise<void>((r) => client.deliverQoS({ brokerId, brokerCounter }, r));
    for (const [id, n] of [['me', 2], ['me', 1], ['me', 2], ['other', 2], ['other', 1], ['other', 1], ['me', 3]] as const) await deliver(id, n);
    // aedes' own check would have dropped me:1 and other:1 (below the highest seen): not here.
    expect(sent).toEqual(['me:2', 'me:1', 'other:2', 'other:1', 'me:3']);
  });

  it("aedes' counters always read 0 and ignore writes and deletes, for any broker id", () => {
    const { client } = fakeClient();
    useExactDedupe(client, { brokerId: 'me' });
    const d = client.duplicates;
    for (const id of ['me', 'other']) {
      d[id] = 99;
      expect(d[id] || 0).toBe(0);
      delete d[id];
      expect(d[id] || 0).toBe(0);
    }
  });

  it('holds deliveries until the stored queue is sent, then sends those it did not carry', () => {
    const { client, sent } = fakeClient();
    const control = useExactDedupe(client, { holdUntilReady: true, brokerId: 'me' });
    client.deliverQoS({ brokerId: 'me', brokerCounter: 1 }, () => {});
    client.deliverQoS({ brokerId: 'me', brokerCounter: 2 }, () => {});
    expect(sent).toEqual([]);
    control.markDelivered({ brokerId: 'me', brokerCounter: 1 }); // went out from the session queue
    control.ready();
    expect(sent).toEqual(['me:2']);
  });
});
