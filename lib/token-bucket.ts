/** A token bucket (per device publishes in the gateway, per address logins in the alerts API). Pure. */
export interface Bucket {
  tokens: number;
  atMs: number;
}

/** Token bucket: refill at `ratePerS` up to `burst`, take one token if there is one. */
export function takeToken(bucket: Bucket | undefined, nowMs: number, ratePerS: number, burst: number): { bucket: Bucket; allowed: boolean } {
  const prev = bucket ?? { tokens: burst, atMs: nowMs };
  const refilled = Math.min(burst, prev.tokens + (Math.max(0, nowMs - prev.atMs) / 1000) * ratePerS);
  if (refilled >= 1) return { bucket: { tokens: refilled - 1, atMs: nowMs }, allowed: true };
  return { bucket: { tokens: refilled, atMs: nowMs }, allowed: false };
}
