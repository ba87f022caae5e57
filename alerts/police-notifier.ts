/**
 * HTTP delivery of one stored message through its channel (alerts/channels.ts): police notices
 * (JSON, CAP) and duty-officer channels alike. The body is sent byte for byte as stored in the
 * outbox, so a retry carries the same Idempotency-Key and the same body; only the timestamp and
 * signature are fresh.
 */
import { CHANNELS, type ChannelFormat } from './channels.ts';
import type { DeliveryResult } from './transitions.ts';

export interface NoticeTarget {
  url: string;
  secret: string;
  format: ChannelFormat;
}

export interface Notifier {
  send(target: NoticeTarget, noticeId: string, body: string, nowMs: number): Promise<DeliveryResult>;
}

export function createHttpNotifier(opts: { timeoutMs: number; userAgent?: string }): Notifier {
  return {
    async send(target, noticeId, body, nowMs) {
      const channel = CHANNELS[target.format];
      const req = channel.request(target, noticeId, body, nowMs);
      try {
        const res = await fetch(req.url, {
          method: 'POST',
          headers: { 'user-agent': opts.userAgent ?? 'floodgate-alerts', ...req.headers },
          body,
          redirect: 'manual', // a redirect is not a delivery; 3xx fails for good (configure the right URL)
          signal: AbortSignal.timeout(opts.timeoutMs),
        });
        const text = await res.text().catch(() => ''); // read (robots answer in the body) so the connection can be reused
        return channel.interpret(res.status, text.slice(0, 10_000), res.headers.get('retry-after'), nowMs);
      } catch (err) {
        const e = err as Error & { cause?: { code?: string } };
        return { kind: 'network', error: e.cause?.code ?? e.name ?? e.message };
      }
    },
  };
}
