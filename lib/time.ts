/**
 * ISO-8601 with an explicit ±hh:mm offset (CAP 1.2 `sent` and humans in Shanghai both want local
 * time with offset; `toISOString()` only gives Z).
 */
export function isoWithOffset(ms: number, offsetMinutes = 480): string {
  const local = new Date(ms + offsetMinutes * 60_000).toISOString().replace('Z', '');
  const sign = offsetMinutes >= 0 ? '+' : '-';
  const abs = Math.abs(offsetMinutes);
  const hh = String(Math.floor(abs / 60)).padStart(2, '0');
  const mm = String(abs % 60).padStart(2, '0');
  return `${local}${sign}${hh}:${mm}`;
}
