/**
 * Every change floodgate makes to aedes' behaviour, and every read of its internals, in one file,
 * with the check of the version they were written for (lib/patched-versions.ts): on another
 * version the gateway refuses to start and says why. The cures themselves that are plain logic
 * live beside it and are tested alone: packet-ids.ts, delivery-dedupe.ts, mq-guard.ts,
 * session-store.ts, level-session-store.ts.
 */
import type { Aedes, Client, PublishPacket } from 'aedes';
import { requirePatchedVersion } from '../lib/patched-versions.ts';
import { lastAssignedPacketId, nextPacketId } from './packet-ids.ts';
import { guardMq } from './mq-guard.ts';
import type { DeliveryControl } from './delivery-dedupe.ts';

/** Refuse to run on an aedes (or aedes-persistence-level) these patches were not written for. */
export function requireAedesVersions(persistence: 'memory' | 'level' | 'redis'): void {
  requirePatchedVersion('aedes', "the gateway's cures for aedes (packet ids, delivery dedupe, the bus guard, the session store, PUBACK after store, in-order delivery)");
  if (persistence === 'level') requirePatchedVersion('aedes-persistence-level', 'the LevelDB session store (gateway/level-session-store.ts)');
}

/** Nothing to call back (a publish nobody waits for: a memory store keeps call order anyway). */
const noop = () => undefined;

// The runtime signature is publish(packet, client?, done) (aedes.js); the typings omit the client.
type RawPublish = (packet: PublishPacket, client: Client | null, done: (err?: Error) => void) => void;
type Persistence = { outgoingStream(c: Client): AsyncIterable<{ messageId?: number }>; outgoingUpdate(c: Client, p: object): Promise<unknown> };
const persistenceOf = (broker: Aedes) => (broker as unknown as { persistence: Persistence }).persistence;

/**
 * aedes answers a QoS 1 PUBLISH with PUBACK first and stores it in its subscribers' sessions
 * afterwards: a broker killed in between has acknowledged a message it never kept, and the device
 * will not resend it. [MQTT-4.3.2-2] only requires the PUBACK to follow "ownership", so floodgate
 * takes ownership first: publish (stored in every persistent session, enqueueOffline before
 * emitPacket) and only then let aedes write the PUBACK; its own publish of the same packet is then
 * skipped. aedes handles the packets of one socket read concurrently. The memory store completes
 * their enqueues in call order; an asynchronous one (LevelDB, Redis) in any order: there a
 * client's publishes are stored one at a time, so they reach the bus and the sessions in the
 * order it sent them [MQTT-4.6.0-6] (gateway/test/resume-order.test.ts).
 *
 * Returns what authorizePublish calls for an allowed QoS 1 publish, in place of `done(null)`.
 */
export function storeBeforePuback(broker: Aedes, o: { asyncStore: boolean; onFault(err: Error, topic: string): void }) {
  const publishFirst = broker.publish.bind(broker) as unknown as RawPublish;
  /** QoS 1 packets already published (stored) before their PUBACK: aedes' own publish skips them. */
  const publishedFirst = new WeakSet<object>();
  /** Per client: the end of its last QoS 1 publish (they are stored one after another). */
  const publishing = new WeakMap<Client, Promise<void>>();
  // Declared once rather than as a closure per message: the tsx loader names each named function
  // expression it creates (a defineProperty per message; see lib/mqtt.ts#groupCommitAcks).
  function storeFirst(packet: PublishPacket, client: Client, done: (err: Error | null) => void, settled: () => void) {
    publishFirst(packet, client, (err) => {
      settled();
      if (err) {
        o.onFault(err, packet.topic);
        return done(err); // not acknowledged: the device resends after reconnecting
      }
      publishedFirst.add(packet);
      done(null);
    });
  }
  (broker as unknown as { publish: (packet: PublishPacket, client: Client | null | ((err?: Error) => void), done?: (err?: Error) => void) => void }).publish = (packet, client, done) => {
    if (typeof client === 'function') return publishFirst(packet, null, client);
    if (publishedFirst.has(packet)) {
      publishedFirst.delete(packet);
      return done?.();
    }
    return publishFirst(packet, client, done ?? noop);
  };
  return function acknowledgeAfterStore(packet: PublishPacket, client: Client, done: (err: Error | null) => void): void {
    if (!o.asyncStore) return storeFirst(packet, client, done, noop);
    const mine = (publishing.get(client) ?? Promise.resolve()).then(() => new Promise<void>((resolve) => storeFirst(packet, client, done, resolve)));
    publishing.set(client, mine);
  };
}

/**
 * Every QoS 1 delivery to a persistent session passes outgoingUpdate (the message gets its packet
 * id in the store) and is written when that resolves. With an asynchronous store (LevelDB, Redis)
 * those updates finish in any order, and so did the writes: a client's messages overtook each
 * other [MQTT-4.6.0-6]. There the updates still run side by side, but each resolves only after the
 * client's previous one: writes go out in delivery order (gateway/test/resume-order.test.ts). A
 * message sent from a resumed session's queue is also remembered, so the deliveries held meanwhile
 * (delivery-dedupe.ts) do not send it twice.
 */
export function orderOutgoingUpdates(broker: Aedes, o: { asyncStore: boolean; deliveries: WeakMap<Client, DeliveryControl> }): void {
  const store = persistenceOf(broker);
  const outgoingUpdate = store.outgoingUpdate.bind(store);
  const updating = new WeakMap<Client, Promise<unknown>>();
  store.outgoingUpdate = (c, p) => {
    o.deliveries.get(c)?.markDelivered(p);
    // The memory store resolves its updates in call order already (as its enqueues).
    if (!o.asyncStore) return outgoingUpdate(c, p);
    const op = outgoingUpdate(c, p);
    // Observed at once: a failure (the store closing under a shutdown) is the caller's, through
    // inOrder; it must not count as unhandled while the previous update is still pending.
    op.catch(() => {});
    const inOrder = (updating.get(c) ?? Promise.resolve()).then(
      () => op,
      () => op,
    );
    updating.set(
      c,
      inOrder.catch(() => {}), // the caller handles its own failure; the order holds for the rest
    );
    return inOrder;
  };
}

/**
 * aedes 1.2 stores a SUBSCRIBE's subscriptions once per filter in it, each time the whole list
 * (handlers/subscribe.js#storeSubscriptions passes `packet.subscriptions`; aedes issue #458).
 * Harmless on disk, fatal on Redis: aedes-persistence-redis announces each store to the other
 * instances and waits for its own announcement, keyed by client and first filter, so the repeats'
 * waits overwrite each other and all but one never end — a service subscribing two filters at
 * once (rules, alerts) got no SUBACK. The list is stored once per SUBSCRIBE: every call for the
 * same list gets the first call's promise.
 */
export function storeSubscriptionsOnce(broker: Aedes): void {
  const store = (broker as unknown as { persistence: { addSubscriptions(c: Client, subs: object[]): Promise<unknown> } }).persistence;
  const add = store.addSubscriptions.bind(store);
  const stored = new WeakMap<object[], Promise<unknown>>();
  store.addSubscriptions = (c, subs) => {
    const once = stored.get(subs) ?? add(c, subs);
    stored.set(subs, once);
    return once;
  };
}

/** A resumed session: new packet ids continue after the unacknowledged ones (packet-ids.ts). */
export async function continuePacketIds(broker: Aedes, client: Client): Promise<void> {
  const next = nextPacketId(await lastAssignedPacketId(persistenceOf(broker).outgoingStream(client)));
  if (next !== undefined) (client as unknown as { _nextId: number })._nextId = next;
}

/**
 * aedes' in-process bus recurses once per queued message (a backlog of a few thousand kills the
 * process) and shifts its queue in O(n) (a large backlog drains at a crawl): mq-guard.ts.
 */
export const guardBus = (broker: Aedes): boolean => guardMq((broker as unknown as { mq: unknown }).mq);

/** Every connected client, ready or still setting up its session (aedes keeps them by id). */
export const allClients = (broker: Aedes): Client[] => Object.values((broker as unknown as { clients: Record<string, Client> }).clients);

/** The connection ended with a DISCONNECT packet (a clean goodbye), not a timeout or a network fault. */
export const saidGoodbye = (client: Client): boolean => (client as unknown as { _disconnected: boolean })._disconnected;
