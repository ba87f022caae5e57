/**
 * The in-memory session store with indexed outgoing queues.
 *
 * aedes-persistence's memory store keeps each client's outgoing QoS 1 queue as an array and finds
 * a message by scanning it: `outgoingUpdate` (every delivery) from the front for its broker
 * counter, `outgoingClearMessageId` (every PUBACK) for its packet id. When a persistent
 * subscriber falls behind — ingest committing groups while devices burst — the queue holds tens
 * of thousands of messages, each delivery scans them all, and the broker slows down exactly when
 * it is needed most: in the ingest benchmark 34% of the gateway's CPU went to those two scans.
 *
 * Here the queue is an insertion-ordered Map keyed by broker id + counter, with an index from
 * packet id to keys (see messageKey): every operation O(1), same semantics (the first entry in
 * queue order with a packet id is the one a PUBACK clears). Everything else is the memory store's
 * own. Checked with aedes-persistence's own abstract test suite (gateway/test/session-store.test.ts).
 */
import { createRequire } from 'node:module';

// CommonJS packages without usable types for this: loaded as aedes loads them.
const require = createRequire(import.meta.url);
const memory = require('aedes-persistence') as () => MemoryStore;
const Packet = require('aedes-packet') as new (original: object) => Stored;

interface Stored {
  brokerId: string;
  brokerCounter: number;
  messageId?: number;
}

/**
 * A message's key within one client's deliveries or queue: its broker counter alone when it comes
 * from `home` (this broker: nearly every message), `brokerId:counter` for another instance's (a
 * shared bus). No string is built per message on the common path, and the two kinds of key
 * cannot collide (a number is never a string).
 */
export type MessageKey = number | string;

export function messageKey(p: { brokerId: string; brokerCounter: number }, home: string | undefined): MessageKey {
  return p.brokerId === home ? p.brokerCounter : `${p.brokerId}:${p.brokerCounter}`;
}

class OutgoingQueue {
  constructor(private readonly home: string | undefined) {}
  /** key → packet, in queue order. */
  readonly byKey = new Map<MessageKey, Stored>();
  /** packet id → the key holding it or, after a wrap or a resume, the keys, in queue order. */
  readonly byId = new Map<number, MessageKey | MessageKey[]>();

  private keyOf(p: Stored): MessageKey {
    return messageKey(p, this.home);
  }

  private keysOf(id: number | undefined): MessageKey[] {
    const keys = id === undefined ? undefined : this.byId.get(id);
    return keys === undefined ? [] : Array.isArray(keys) ? keys : [keys];
  }

  private unindex(id: number | undefined, key: MessageKey) {
    if (id === undefined || id === null) return; // 0 is an id like any other here
    const keys = this.byId.get(id);
    if (keys === undefined) return;
    if (!Array.isArray(keys)) {
      if (keys === key) this.byId.delete(id);
      return;
    }
    const i = keys.indexOf(key);
    if (i >= 0) keys.splice(i, 1);
    if (keys.length === 0) this.byId.delete(id);
    else if (keys.length === 1) this.byId.set(id, keys[0]!);
  }

  private index(id: number | undefined, key: MessageKey) {
    if (id === undefined || id === null) return;
    const keys = this.byId.get(id);
    if (keys === undefined) this.byId.set(id, key);
    else if (Array.isArray(keys)) keys.push(key);
    else this.byId.set(id, [keys, key]);
  }

  enqueue(p: Stored) {
    const key = this.keyOf(p);
    this.byKey.set(key, p);
    this.index(p.messageId, key);
  }

  update(p: Stored): void {
    const key = this.keyOf(p);
    const found = this.byKey.get(key);
    if (found) {
      this.unindex(found.messageId, key);
      found.messageId = p.messageId;
      this.index(p.messageId, key);
      return;
    }
    // The memory store also replaces a packet of another broker holding the same packet id.
    for (const k of this.keysOf(p.messageId)) {
      const other = this.byKey.get(k)!;
      if (other.brokerId === p.brokerId) continue;
      const entries = [...this.byKey.entries()].map(([kk, v]) => (kk === k ? ([key, p] as [MessageKey, Stored]) : ([kk, v] as [MessageKey, Stored])));
      this.byKey.clear();
      this.byId.clear();
      for (const [kk, v] of entries) {
        this.byKey.set(kk, v);
        this.index(v.messageId, kk);
      }
      return;
    }
    throw new Error('no such packet');
  }

  clear(messageId: number): Stored | undefined {
    const keys = this.byId.get(messageId);
    if (keys === undefined) return undefined;
    let key: MessageKey;
    if (Array.isArray(keys)) {
      key = keys.shift()!;
      if (keys.length === 0) this.byId.delete(messageId);
      else if (keys.length === 1) this.byId.set(messageId, keys[0]!);
    } else {
      key = keys;
      this.byId.delete(messageId);
    }
    const p = this.byKey.get(key);
    this.byKey.delete(key);
    return p;
  }
}

interface MemoryStore {
  asyncPersistence: Record<string, unknown>;
  destroy(): Promise<void>;
}

/**
 * aedes' default memory persistence with O(1) outgoing queues (pass as aedes' `persistence`).
 * `brokerId`: the broker's own id, whose messages are keyed by their counter (messageKey).
 */
export function indexedMemoryPersistence(brokerId?: string): MemoryStore {
  const store = memory();
  const queues = new Map<string, OutgoingQueue>();
  const queue = (clientId: string) => {
    let q = queues.get(clientId);
    if (!q) {
      q = new OutgoingQueue(brokerId);
      queues.set(clientId, q);
    }
    return q;
  };
  // The callback/promise layer stays aedes-persistence's; only the async core's queue changes.
  Object.assign(store.asyncPersistence, {
    async outgoingEnqueue(sub: { clientId: string }, packet: object) {
      queue(sub.clientId).enqueue(new Packet(packet));
    },
    async outgoingEnqueueCombi(subs: Array<{ clientId: string }>, packet: object) {
      for (const sub of subs) queue(sub.clientId).enqueue(new Packet(packet));
    },
    async outgoingUpdate(client: { id: string }, packet: Stored) {
      queue(client.id).update(packet);
    },
    async outgoingClearMessageId(client: { id: string }, packet: { messageId: number }) {
      return queue(client.id).clear(packet.messageId);
    },
    outgoingStream(client: { id: string }) {
      // A snapshot, as the memory store gives: later changes do not disturb a running resend.
      return [...(queues.get(client.id)?.byKey.values() ?? [])];
    },
  });
  return store;
}
