/**
 * Packets written to a connection in one turn of the event loop leave in one write.
 *
 * mqtt-packet corks the socket per packet and uncorks it on the next tick, so every packet aedes
 * writes — a PUBACK to a device, a delivery to a subscriber — became its own writev system call.
 * Those calls were 35–40% of the gateway's CPU under load (a loopback write also runs the
 * receiver's TCP path in the sender's time), and they cost the same whether a call carries one
 * packet or fifty. Here the first write of a turn corks the socket once more and a setImmediate
 * uncorks it after the turn's other writes (aedes delivers from setImmediate callbacks), so a
 * burst of deliveries to a busy subscriber goes out together. The order of bytes is unchanged and
 * backpressure still works: while corked, `write` returns false past the high-water mark and
 * aedes waits for 'drain' as before.
 */
import type { Duplex } from 'node:stream';

export function batchWrites<T extends Duplex>(conn: T): T {
  let corked = false;
  const flush = () => {
    corked = false;
    if (!conn.destroyed) conn.uncork();
  };
  const write = conn.write.bind(conn) as (...args: unknown[]) => boolean;
  conn.write = ((...args: unknown[]) => {
    if (!corked && !conn.destroyed) {
      corked = true;
      conn.cork();
      setImmediate(flush);
    }
    return write(...args);
  }) as T['write'];
  return conn;
}
