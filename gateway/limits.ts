/**
 * Limits as pure functions: a token bucket for per-device publish rates, and an incremental
 * reader of MQTT fixed headers that knows each packet's size before the packet is buffered.
 */

export interface GatewayLimits {
  /** Largest MQTT packet accepted (fixed header + remaining length), bytes. */
  maxPacketBytes: number;
  /** Sustained publishes per second per device, and the burst a device may send at once. */
  deviceRatePerS: number;
  deviceBurst: number;
  /** Concurrent connections; beyond it CONNACK 3 (server unavailable). */
  maxConnections: number;
  /**
   * Keepalive bounds in seconds. 0 (no keepalive, [MQTT-3.1.2-10]: test suites' default) is
   * accepted with the server's own idle limit, keepaliveMaxS: a dead link is still noticed.
   */
  keepaliveMinS: number;
  keepaliveMaxS: number;
  /** Topic levels in a topic or filter. */
  maxTopicLevels: number;
}

export const DEFAULT_LIMITS: GatewayLimits = {
  maxPacketBytes: 64 * 1024,
  deviceRatePerS: 5,
  deviceBurst: 60,
  maxConnections: 20_000,
  keepaliveMinS: 5,
  keepaliveMaxS: 1800,
  maxTopicLevels: 8,
};

// Shared with the alerts API's login rate limit.
export { takeToken, type Bucket } from '../lib/token-bucket.ts';

export function keepaliveProblem(keepaliveS: number, limits: Pick<GatewayLimits, 'keepaliveMinS' | 'keepaliveMaxS'>): string | null {
  if (keepaliveS === 0) return null; // the server's idle limit applies (hooks.ts, preConnect)
  if (keepaliveS < limits.keepaliveMinS) return `keepalive ${keepaliveS}s is below ${limits.keepaliveMinS}s`;
  if (keepaliveS > limits.keepaliveMaxS) return `keepalive ${keepaliveS}s is above ${limits.keepaliveMaxS}s`;
  return null;
}

export function topicLevels(topic: string): number {
  return topic.split('/').length;
}

/**
 * Follows the MQTT byte stream and reports the total size of each packet as soon as its fixed
 * header is complete ([MQTT-2.2.3]: remaining length is a variable byte integer of 1–4 bytes,
 * 7 bits each, high bit = continuation), so an oversized packet can be refused before it is
 * buffered. Works across arbitrary chunk boundaries.
 */
export class PacketSizeReader {
  private state: 'type' | 'length' | 'body' = 'type';
  private length = 0;
  private multiplier = 1;
  private lengthBytes = 0;
  private remaining = 0;

  /** Returns the size of the first packet in `chunk` that exceeds `max`, or null; or 'malformed'. */
  push(chunk: Uint8Array, max: number): number | 'malformed' | null {
    let i = 0;
    while (i < chunk.length) {
      if (this.state === 'body') {
        const skip = Math.min(this.remaining, chunk.length - i);
        this.remaining -= skip;
        i += skip;
        if (this.remaining === 0) this.state = 'type';
        continue;
      }
      const byte = chunk[i++]!;
      if (this.state === 'type') {
        this.state = 'length';
        this.length = 0;
        this.multiplier = 1;
        this.lengthBytes = 0;
        continue;
      }
      this.length += (byte & 0x7f) * this.multiplier;
      this.multiplier *= 128;
      this.lengthBytes++;
      if (byte & 0x80) {
        if (this.lengthBytes >= 4) return 'malformed'; // [MQTT-1.5.5]: at most four bytes
        continue;
      }
      const total = 1 + this.lengthBytes + this.length;
      if (total > max) return total;
      this.remaining = this.length;
      this.state = this.remaining > 0 ? 'body' : 'type';
    }
    return null;
  }
}

/**
 * The protocol level of a CONNECT at the start of `chunk` when it is one no broker here speaks
 * (3 and 4 are MQTT 3.1 and 3.1.1, which aedes serves; 5 aedes answers itself), else null (not a
 * CONNECT, or too short to tell). mqtt-packet refuses to parse a CONNECT of another level, so
 * aedes closed such a connection without the CONNACK 0x01 that [MQTT-3.1.2-2] requires.
 */
export function unsupportedProtocolLevel(chunk: Uint8Array): number | null {
  if (chunk.length < 2 || chunk[0] !== 0x10) return null;
  let i = 1;
  while (i < chunk.length && i < 5 && chunk[i]! & 0x80) i++; // remaining length: 1–4 bytes
  i++;
  if (i + 2 > chunk.length) return null;
  const nameLength = (chunk[i]! << 8) | chunk[i + 1]!;
  const at = i + 2 + nameLength;
  if (nameLength > 6 || at >= chunk.length) return null;
  const level = chunk[at]!;
  return level === 3 || level === 4 || level === 5 ? null : level;
}

/** CONNACK, session present 0, return code 0x01: unacceptable protocol level [MQTT-3.2.2.3]. */
export const CONNACK_UNACCEPTABLE_PROTOCOL = Buffer.from([0x20, 0x02, 0x00, 0x01]);
