/**
 * Exponential backoff with "full jitter" (AWS Architecture Blog, "Exponential Backoff And
 * Jitter"): delay = random(0, min(max, base * 2^attempt)), never below `minMs`.
 * Pure: the random source is passed in.
 */
export interface BackoffPolicy {
  baseMs: number;
  maxMs: number;
  /** Lower bound, so a retry storm cannot spin. */
  minMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 500, maxMs: 60_000, minMs: 100 };

export function backoffDelay(attempt: number, policy: BackoffPolicy = DEFAULT_BACKOFF, random: () => number = Math.random): number {
  const cap = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, Math.min(attempt, 30)));
  return Math.max(policy.minMs, Math.floor(random() * cap));
}

/**
 * Retry-After (RFC 9110 §10.2.3): delay-seconds or an HTTP-date. Returns ms from `nowMs`, or
 * undefined when absent/unparseable. Capped so a hostile endpoint cannot park a notice for days.
 */
export function parseRetryAfter(value: string | undefined | null, nowMs: number, capMs = 3_600_000): number | undefined {
  if (!value) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Math.min(Number(v) * 1000, capMs);
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.min(Math.max(0, at - nowMs), capMs);
}
