/**
 * `up`'s default broker store: aedes-persistence-level over a group-committed LevelDB
 * (./group-commit-level.ts), with the calls that hand over ownership of a message waiting for the
 * disk and the bookkeeping of a delivery not.
 *
 * A write settles as soon as every read sees it; the calls below then wait until the store is on
 * disk, because aedes answers right after them: PUBACK (or PUBREC) to a publisher after the
 * message is queued for every persistent subscriber — the broker owns it from then on
 * [MQTT-4.3.2-2] [MQTT-4.3.3-2] — and SUBACK after the subscription is stored.
 *
 * A delivery's packet id (`outgoingUpdate`) and its clearing on the subscriber's PUBACK
 * (`outgoingClearMessageId`) do not wait. They were three to five sequential LevelDB writes on
 * every message's way to ingest and the rules, and with them waiting, a road closure's alert event
 * waited behind the storm's readings (benchmarks/README.md, "Console"). Lost in a crash, they
 * leave the message queued, and it is sent again when the subscriber resumes: QoS 1 is at least
 * once [MQTT-4.3.2-1], and ingest and the rules drop a reading they already have. The disk
 * always holds the store as it was at some moment (windows are written in order, each atomically),
 * so nothing is acknowledged to a publisher that a crash can take back.
 */
import { Level } from 'level';
import levelPersistence from 'aedes-persistence-level';
import { groupCommit, type KeyValueStore } from './group-commit-level.ts';

/** Calls after which aedes tells a client that the broker holds something. */
const MUST_BE_ON_DISK = ['storeRetained', 'addSubscriptions', 'removeSubscriptions', 'cleanSubscriptions', 'outgoingEnqueue', 'outgoingEnqueueCombi', 'incomingStorePacket', 'incomingDelPacket', 'putWill', 'delWill'] as const;

export function levelSessionStore(dir: string, onError: (err: unknown) => void) {
  const store = groupCommit(new Level<string, Buffer>(dir, { valueEncoding: 'buffer' }), { settle: 'visible', onError });
  const persistence = levelPersistence(store as KeyValueStore);
  const inner = persistence.asyncPersistence as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  for (const name of MUST_BE_ON_DISK) {
    const call = inner[name];
    if (typeof call !== 'function') throw new Error(`aedes-persistence-level has no ${name}(): the session store was written for 9.x`);
    inner[name] = async (...args: unknown[]) => {
      const result = await call.apply(inner, args);
      await store.durable();
      return result;
    };
  }
  return persistence;
}
