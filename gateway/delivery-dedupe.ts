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

interface DeliverableClient {
  duplicates: Record<string, number>;
  deliverQoS(packet: { brokerId?: string; brokerCounter?: number }, cb: () => void): void;
}

/** Install on a client before its subscriptions are bound (aedes `preConnect`). */
export function useExactDedupe(client: DeliverableClient): void {
  // Neutralise aedes' ordering check: every read says "nothing delivered yet".
  client.duplicates = new Proxy(Object.create(null) as Record<string, number>, { get: () => 0, set: () => true, deleteProperty: () => true });
  const seen = new Set<string>();
  const deliver = client.deliverQoS;
  client.deliverQoS = function deliverOnce(packet, cb) {
    if (packet.brokerId && packet.brokerCounter !== undefined) {
      const key = `${packet.brokerId}:${packet.brokerCounter}`;
      if (seen.has(key)) return setImmediate(cb);
      seen.add(key);
      if (seen.size > REMEMBER) seen.delete(seen.values().next().value!);
    }
    deliver.call(this, packet, cb);
  };
}
