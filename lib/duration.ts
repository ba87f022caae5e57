/** "90", "90s", "5m", "2h" → seconds (a bare number is seconds). */
export function parseDuration(text: string | undefined, what: string): number {
  const m = /^(\d+(?:\.\d+)?)(s|m|h)?$/.exec(text?.trim() ?? '');
  const n = m ? Number(m[1]) * { s: 1, m: 60, h: 3600 }[(m[2] ?? 's') as 's' | 'm' | 'h'] : NaN;
  if (!(n > 0 && n <= 7 * 86_400)) throw new Error(`${what} must be a duration like 90, 90s, 5m or 2h (up to 7 days), got ${JSON.stringify(text ?? '')}`);
  return n;
}
