import { Duplex, Transform } from 'node:stream';
import { PacketSizeReader } from './limits.ts';

/**
 * Put a packet-size check between a connection and aedes, which has no packet-size limit of its
 * own and would buffer up to the 256 MB a remaining-length field can announce. The connection is
 * destroyed as soon as a fixed header announces more than `maxBytes`, before the body arrives.
 */
export function guardPacketSize(conn: Duplex, maxBytes: number, onViolation: (size: number | 'malformed') => void): Duplex {
  const reader = new PacketSizeReader();
  const guard = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      const problem = reader.push(chunk, maxBytes);
      if (problem === null) return cb(null, chunk);
      onViolation(problem);
      conn.destroy();
      cb(new Error(problem === 'malformed' ? 'malformed remaining length' : `packet of ${problem} bytes exceeds ${maxBytes}`));
    },
  });
  conn.pipe(guard);
  conn.on('error', (err) => guard.destroy(err));
  const duplex = Duplex.from({ readable: guard, writable: conn });
  duplex.on('close', () => conn.destroy());
  return duplex;
}
