/**
 * Multi-packet reports (SYN start, ETB between packets, ETX after the last): a station splits a
 * body that does not fit one frame (an image report, 36, is the usual one) into numbered packets,
 * each answered with ACK, or NAK to have it sent again. The first packet's body starts with the
 * serial and send time; the packets after it carry the continuation of the content. Pure: one
 * connection's state in, the next state out.
 */
export interface Assembly {
  func: number;
  total: number;
  /** Bodies by sequence number (1-based). */
  parts: Map<number, Buffer>;
  startedMs: number;
  bytes: number;
}

export type PacketOutcome =
  | { kind: 'ack'; state: Assembly }
  | { kind: 'complete'; body: Buffer; state: undefined }
  | { kind: 'nak'; reason: string; state: Assembly | undefined };

/** Add packet `seq` of `total`; a packet that does not belong (another function, a count that changed, out of range, too big) is NAKed. */
export function addPacket(state: Assembly | undefined, p: { func: number; total: number; seq: number; body: Buffer; nowMs: number; timeoutMs: number; maxBytes: number }): PacketOutcome {
  let s = state;
  // An assembly whose packets stopped coming, or one that a new report replaces, is dropped.
  if (s && (p.nowMs - s.startedMs > p.timeoutMs || s.func !== p.func || s.total !== p.total)) s = undefined;
  if (p.total < 1 || p.seq < 1 || p.seq > p.total) return { kind: 'nak', reason: `packet ${p.seq} of ${p.total} is out of range`, state: s };
  if (!s) s = { func: p.func, total: p.total, parts: new Map(), startedMs: p.nowMs, bytes: 0 };
  const before = s.parts.get(p.seq)?.length ?? 0;
  if (s.bytes - before + p.body.length > p.maxBytes) return { kind: 'nak', reason: `a report of more than ${p.maxBytes} bytes`, state: undefined };
  const parts = new Map(s.parts).set(p.seq, p.body);
  const next: Assembly = { ...s, parts, bytes: s.bytes - before + p.body.length };
  if (parts.size < next.total) return { kind: 'ack', state: next };
  const ordered: Buffer[] = [];
  for (let i = 1; i <= next.total; i++) ordered.push(parts.get(i)!);
  return { kind: 'complete', body: Buffer.concat(ordered), state: undefined };
}
