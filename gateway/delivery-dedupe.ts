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

const keyOf = (p: DeliverablePacket) => (p.brokerId && p.brokerCounter !== undefined ? `${p.brokerId}:${p.brokerCounter}` : undefined);

/**
 * Install on a client before its subscriptions are bound (aedes `preConnect`).
 *
 * `holdUntilReady` (a resumed persistent session): aedes sends the session's stored messages
 * (emptyQueue) while new messages are already delivered straight to the client, so a new message
 * overtook stored older ones of the same topic — against [MQTT-4.6.0-6] (every topic is an
 * Ordered Topic) and fatal for a consumer that ignores older readings. New messages are stored
 * in the session before they are delivered (aedes enqueueOffline), so until the stored queue is
 * sent they are only held here; then those the queue did not already carry go out, in order.
 */
export function useExactDedupe(client: DeliverableClient, o: { holdUntilReady?: boolean } = {}): DeliveryControl {
  // Neutralise aedes' ordering check: every read says "nothing delivered yet".
  client.duplicates = new Proxy(Object.create(null) as Record<string, number>, { get: () => 0, set: () => true, deleteProperty: () => true });
  const seen = new Set<string>();
  const remember = (key: string) => {
    seen.add(key);
    if (seen.size > REMEMBER) seen.delete(seen.values().next().value!);
  };
  let held: DeliverablePacket[] | undefined = o.holdUntilReady ? [] : undefined;
  const deliver = client.deliverQoS;
  client.deliverQoS = function deliverOnce(packet, cb) {
    if (held) {
      held.push(packet);
      return setImmediate(cb); // stored in the session already: the bus need not wait
    }
    const key = keyOf(packet);
    if (key) {
      if (seen.has(key)) return setImmediate(cb);
      remember(key);
    }
    deliver.call(this, packet, cb);
  };
  return {
    markDelivered(packet) {
      const key = keyOf(packet);
      if (key) remember(key);
    },
    ready() {
      const h = held;
      held = undefined;
      for (const p of h ?? []) client.deliverQoS(p, () => {});
    },
  };
}
