/**
 * HTTP delivery of one signed notice to a traffic police endpoint (DESIGN.md, Closure notice).
 * The body is sent byte for byte as stored in the outbox, so a retry carries the same
 * Idempotency-Key and the same body; only the timestamp and signature are fresh.
 */
import { NOTICE_HEADERS, signNotice } from '../contracts/index.ts';
import { parseRetryAfter } from '../lib/backoff.ts';
import type { DeliveryResult } from './transitions.ts';

export const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';

export interface NoticeTarget {
  url: string;
  secret: string;
  /** JSON_CONTENT_TYPE or CAP_CONTENT_TYPE: the recipient's format. */
  contentType: string;
}

export interface Notifier {
  send(target: NoticeTarget, noticeId: string, body: string, nowMs: number): Promise<DeliveryResult>;
}

export function createHttpNotifier(opts: { timeoutMs: number; userAgent?: string }): Notifier {
  return {
    async send(target, noticeId, body, nowMs) {
      const ts = Math.floor(nowMs / 1000);
      try {
        const res = await fetch(target.url, {
          method: 'POST',
          headers: {
            'content-type': target.contentType,
            'user-agent': opts.userAgent ?? 'floodgate-alerts',
            [NOTICE_HEADERS.idempotencyKey]: noticeId,
            [NOTICE_HEADERS.timestamp]: String(ts),
            [NOTICE_HEADERS.signature]: signNotice(target.secret, ts, body),
          },
          body,
          redirect: 'manual', // a redirect is not a delivery; 3xx fails for good (configure the right URL)
          signal: AbortSignal.timeout(opts.timeoutMs),
        });
        await res.arrayBuffer().catch(() => undefined); // drain so the connection can be reused
        return { kind: 'response', status: res.status, retryAfterMs: parseRetryAfter(res.headers.get('retry-after'), nowMs) };
      } catch (err) {
        const e = err as Error & { cause?: { code?: string } };
        return { kind: 'network', error: e.cause?.code ?? e.name ?? e.message };
      }
    },
  };
}
