import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';

const IsoTime = z.iso.datetime({ offset: true });

/** Road-closure / reopen notice pushed to traffic police (DESIGN.md, "Closure notice"). */
export const ClosureNotice = z.object({
  noticeId: z.string().min(1).max(200),
  action: z.enum(['close', 'reopen']),
  underpass: z.object({
    id: z.string(),
    name: z.string(),
    road: z.string(),
    district: z.string(),
    lat: z.number().min(-90).max(90),
    lon: z.number().min(-180).max(180),
  }),
  depthCm: z.number(),
  thresholdCm: z.number(),
  observedAt: IsoTime,
  issuedAt: IsoTime,
  alertId: z.string(),
  reason: z.string(),
  /**
   * Rises with every notice for this underpass (never reused, gaps allowed): a receiver keeps the
   * highest it accepted and refuses anything at or below it under another noticeId, so a captured
   * close cannot be replayed after its reopen.
   */
  sequence: z.number().int().positive(),
  /**
   * The leadership epoch of the alerts instance that issued it (0: one instance, no lease). A
   * receiver refuses a notice whose epoch is below one it accepted for the underpass: a stale
   * leader cut off from the others cannot undo what the current one sent.
   */
  epoch: z.number().int().nonnegative(),
});
export type ClosureNotice = z.infer<typeof ClosureNotice>;

export const NOTICE_HEADERS = {
  idempotencyKey: 'idempotency-key',
  timestamp: 'x-floodgate-timestamp',
  signature: 'x-floodgate-signature',
} as const;

/** `sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>` over the exact bytes sent. */
export function signNotice(secret: string, timestampS: number, body: string): string {
  return 'sha256=' + createHmac('sha256', secret).update(`${timestampS}.${body}`).digest('hex');
}

export type VerifyResult = { ok: true } | { ok: false; reason: string };

/**
 * Verify a notice as a receiver must: signature over the raw body, and a timestamp within
 * `toleranceS` of now so a captured notice cannot be replayed later.
 */
export function verifyNotice(args: {
  secret: string;
  timestampHeader: string | undefined;
  signatureHeader: string | undefined;
  body: string;
  nowMs: number;
  toleranceS?: number;
}): VerifyResult {
  const { secret, timestampHeader, signatureHeader, body, nowMs } = args;
  const tolerance = args.toleranceS ?? 300;
  if (!timestampHeader || !/^\d{1,12}$/.test(timestampHeader)) return { ok: false, reason: 'missing or malformed X-Floodgate-Timestamp' };
  if (!signatureHeader || !/^sha256=[0-9a-f]{64}$/.test(signatureHeader)) return { ok: false, reason: 'missing or malformed X-Floodgate-Signature' };
  const ts = Number(timestampHeader);
  if (Math.abs(nowMs / 1000 - ts) > tolerance) return { ok: false, reason: `timestamp ${ts} outside ±${tolerance}s of now` };
  const expected = Buffer.from(signNotice(secret, ts, body));
  const got = Buffer.from(signatureHeader);
  if (expected.length !== got.length || !timingSafeEqual(expected, got)) return { ok: false, reason: 'signature mismatch' };
  return { ok: true };
}
