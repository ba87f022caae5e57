import type { Duplex } from 'node:stream';
import { CONNACK_UNACCEPTABLE_PROTOCOL, PacketSizeReader, unsupportedProtocolLevel } from './limits.ts';

/**
 * A packet-size check between a connection and aedes, which has no packet-size limit of its own
 * and would buffer up to the 256 MB a remaining-length field can announce. The connection is
 * destroyed as soon as a fixed header announces more than `maxBytes`, before the body arrives.
 *
 * aedes pulls bytes with `conn.read()` on 'readable' (lib/client.js), so the check wraps that one
 * method of this connection instead of piping through an extra Transform: piping costs a copy
 * and a stream hop per chunk, which measured at ~85% of QoS 1 throughput (benchmarks/).
 */
export function guardPacketSize(conn: Duplex, maxBytes: number, onViolation: (size: number | 'malformed') => void, onBadProtocol: (level: number) => void = () => undefined): Duplex {
  const reader = new PacketSizeReader();
  const read = conn.read.bind(conn);
  let first = true;
  conn.read = (size?: number) => {
    const chunk = read(size) as Buffer | null;
    if (chunk === null) return null;
    if (first) {
      first = false;
      // A CONNECT of a protocol level nobody here speaks: answered as [MQTT-3.1.2-2] requires.
      const level = unsupportedProtocolLevel(chunk);
      if (level !== null) {
        onBadProtocol(level);
        conn.end(CONNACK_UNACCEPTABLE_PROTOCOL);
        return null;
      }
    }
    const problem = reader.push(chunk, maxBytes);
    if (problem === null) return chunk;
    onViolation(problem);
    conn.destroy();
    return null;
  };
  return conn;
}
