/**
 * Exact per-client dedupe of deliveries, in place of aedes' "highest counter seen" check.
 *
 * aedes drops a delivery to a client whose broker counter is not above the highest it has
 * delivered to that client (lib/client.js `dedupe`), to send one copy when a client's
 * subscriptions overlap. But aedes sends a QoS 1 PUBACK before it enqueues and routes the message
 * (lib/handlers/publish.js), so a device's next message can overtake the previous one while a
 * persistent session is written to an asynchronous store (LevelDB, Redis): the overtaken message
 * is then dropped for that client, stays in its session queue, and only arrives after a later
 * reconnect. Seen: 8–20 of 2,000 readings held back on a LevelDB-backed session.
 *
 * Here a message is dropped only if this very message (broker id + counter) was already handed
 * to the client; order is not assumed. The memory is bounded (the last `REMEMBER` deliveries per
 * client): overlapping subscriptions deliver their copies at once, so that is ample.
 */
import { messageKey, type MessageKey } from './session-store.ts';
import { RecentKeys } from '../lib/recent-keys.ts';

export { RecentKeys };

export const REMEMBER = 4096;

interface DeliverablePacket {
  brokerId?: string;
  brokerCounter?: number;
}

interface DeliverableClient {
  duplicates: Record<string, number>;
  deliverQoS(packet: DeliverablePacket, cb: () => void): void;
}

export interface DeliveryControl {
  /** A stored message went out from the session queue (aedes' emptyQueue): not to be sent again. */
  markDelivered(packet: DeliverablePacket): void;
  /** The stored queue is sent (aedes 'clientReady'): deliveries held meanwhile go out, in order. */
  ready(): void;
}

/**
 * Install on a client before its subscriptions are bound (aedes `preConnect`).
 *
 * `holdUntilReady` (a resumed persistent session): aedes sends the session's stored messages
 * (emptyQueue) while new messages are already delivered straight to the client, so a new message
 * overtook stored older ones of the same topic — against [MQTT-4.6.0-6] (every topic is an
 * Ordered Topic) and fatal for a consumer that ignores older readings. New messages are stored
 * in the session before they are delivered (aedes enqueueOffline), so until the stored queue is
 * sent they are only held here; then those the queue did not already carry go out, in order.
 *
 * `brokerId` (this broker's): its messages, nearly all of them, are keyed by their counter alone
 * (a number: no string built per delivery); another instance's (a shared bus) by id and counter.
 */
export function useExactDedupe(client: DeliverableClient, o: { holdUntilReady?: boolean; brokerId?: string } = {}): DeliveryControl {
  // Neutralise aedes' ordering check: every read says "nothing delivered yet", every write is
  // dropped. This broker's id is an own accessor (aedes asks for it on every delivery; a Proxy
  // trap is several times slower); any other id falls through to the Proxy behind it.
  const anyId = new Proxy(Object.create(null) as Record<string, number>, { get: () => 0, set: () => true, deleteProperty: () => true });
  const duplicates = Object.create(anyId) as Record<string, number>;
  if (o.brokerId) Object.defineProperty(duplicates, o.brokerId, { get: () => 0, set: () => {}, configurable: true });
  client.duplicates = duplicates;
  const seen = new RecentKeys<MessageKey>(REMEMBER);
  const keyOf = (p: DeliverablePacket) => (p.brokerCounter === undefined || !p.brokerId ? undefined : messageKey(p as Required<DeliverablePacket>, o.brokerId));
  let held: DeliverablePacket[] | undefined = o.holdUntilReady ? [] : undefined;
  const deliver = client.deliverQoS;
  client.deliverQoS = function deliverOnce(packet, cb) {
    if (held) {
      held.push(packet);
      return setImmediate(cb); // stored in the session already: the bus need not wait
    }
    const key = keyOf(packet);
    if (key !== undefined) {
      if (seen.has(key)) return setImmediate(cb);
      seen.add(key);
    }
    deliver.call(this, packet, cb);
  };
  return {
    markDelivered(packet) {
      const key = keyOf(packet);
      if (key !== undefined) seen.add(key);
    },
    ready() {
      const h = held;
      held = undefined;
      for (const p of h ?? []) client.deliverQoS(p, () => {});
    },
  };
}
