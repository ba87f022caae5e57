/**
 * Packet identifiers for a resumed persistent session.
 *
 * aedes gives each new connection a random first packet id, while the QoS 1 messages still
 * unacknowledged from the previous connection keep their ids, as they must when resent
 * [MQTT-4.4.0-1]. Its session stores clear an outgoing message by packet id alone (the first entry
 * with that id), so when a new message happens to get the id of an old one that has not been
 * resent yet, the subscriber's PUBACK for the new one clears the old one; aedes then skips the old
 * one ("no such packet") and it is never delivered in this session. Seen as 3–7 readings lost in
 * one of twelve SIGKILL fault runs, and as ~1% stranded with the LevelDB store.
 *
 * The cure: continue the id sequence where the previous connection left it, with a margin for
 * ids the old connection may still hand out until the takeover closes it. The ids in use then
 * stay apart until 65,535 newer messages have been sent [MQTT-2.3.1-2: an id is reusable once
 * its acknowledgement is processed].
 */
export const PACKET_ID_MARGIN = 1024;

/** The next free id after `lastId` plus the margin, in 1..65535 (0 is not a valid id [MQTT-2.3.1-1]). */
export function nextPacketId(lastId: number | undefined): number | undefined {
  if (lastId === undefined) return undefined;
  return ((lastId + PACKET_ID_MARGIN) % 65535) + 1;
}

/**
 * How far past the first message without an id the queue is read. Messages get their ids as they
 * are sent, in queue order: the sent ones lead the queue and what was queued while the session was
 * away follows. This is read before the CONNACK, so it must not read the whole queue: a service
 * back after a minute away has tens of thousands of messages queued, and on Redis (two round
 * trips each) reading them all took longer than the client waits for its CONNACK, again at every
 * retry (the HA chaos test: 150 s until the rules could connect).
 */
export const READ_PAST_UNSENT = 1000;

/** The id most recently assigned among a session's stored outgoing messages (queue order). */
export async function lastAssignedPacketId(outgoing: AsyncIterable<{ messageId?: number }>, readPastUnsent = READ_PAST_UNSENT): Promise<number | undefined> {
  let last: number | undefined;
  let unsent = 0;
  for await (const p of outgoing) {
    if (p.messageId) last = p.messageId;
    else if (++unsent > readPastUnsent) break; // ends the store's iterator (return())
  }
  return last;
}
