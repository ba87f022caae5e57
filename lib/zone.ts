/**
 * Time zones and the timestamps recordings from elsewhere carry (`floodgate backtest --tz`):
 * a fixed offset (`+08:00`, `-0300`, `Z`, `UTC`) or an IANA zone (`Asia/Shanghai`,
 * `Europe/Amsterdam`, daylight saving included, through the runtime's Intl). Recordings write
 * times as `2023-06-14 14:34:48.000000+00:00`, `2023-06-14T14:34:48Z`, epoch seconds or
 * milliseconds, or local time with no offset at all, which only a zone can place.
 */
import { isoWithOffset } from './time.ts';

export interface Zone {
  /** As given: `+08:00`, `UTC`, `Asia/Shanghai`. */
  name: string;
  /** Minutes east of UTC at this instant. */
  offsetAt(utcMs: number): number;
}

const FIXED = /^([+-])(\d{2}):?(\d{2})?$/;

function fixed(name: string, minutes: number): Zone {
  return { name, offsetAt: () => minutes };
}

/** `+08:00`, `-0300`, `+05`, `Z`, `UTC`, or an IANA zone name; undefined if none of those. */
export function parseZone(text: string): Zone | undefined {
  const t = text.trim();
  if (/^(z|utc|gmt)$/i.test(t)) return fixed('UTC', 0);
  const m = FIXED.exec(t);
  if (m) {
    const minutes = Number(m[2]) * 60 + Number(m[3] ?? 0);
    if (Number(m[2]) > 14 || Number(m[3] ?? 0) > 59) return undefined;
    return fixed(t, m[1] === '-' ? -minutes : minutes);
  }
  let format: Intl.DateTimeFormat;
  try {
    format = new Intl.DateTimeFormat('en-US', { timeZone: t, timeZoneName: 'longOffset' });
  } catch {
    return undefined;
  }
  // Intl is slow (a formatToParts per call): a recording asks for every reading. Offsets change
  // on the quarter hour in every zone there is, so one answer serves its quarter hour.
  const cache = new Map<number, number>();
  return {
    name: t,
    offsetAt(utcMs) {
      const quarter = Math.floor(utcMs / 900_000);
      const known = cache.get(quarter);
      if (known !== undefined) return known;
      // "GMT+08:00", "GMT-03:30", or "GMT" for UTC itself.
      const part = format.formatToParts(quarter * 900_000).find((p) => p.type === 'timeZoneName')?.value ?? 'GMT';
      const o = /GMT([+-])(\d{2}):(\d{2})/.exec(part);
      const offset = o ? (o[1] === '-' ? -1 : 1) * (Number(o[2]) * 60 + Number(o[3])) : 0;
      if (cache.size > 100_000) cache.clear();
      cache.set(quarter, offset);
      return offset;
    },
  };
}

/** The UTC instant of a wall-clock time in `zone` (in a gap or overlap of daylight saving: the earlier offset's reading). */
export function wallTimeToUtc(wallAsUtcMs: number, zone: Zone): number {
  const first = wallAsUtcMs - zone.offsetAt(wallAsUtcMs) * 60_000;
  return wallAsUtcMs - zone.offsetAt(first) * 60_000;
}

const STAMP = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?\s*(Z|UTC|[+-]\d{2}(?::?\d{2})?)?$/i;

export type TimestampResult = { ms: number } | { error: string };

/**
 * A recorded timestamp as epoch ms: ISO-8601 with `T` or a space, any fraction of a second,
 * `Z`/`UTC`/±hh[:mm] or no offset (then `zone` places it); 9–11 digits are epoch seconds, 12–13
 * epoch milliseconds.
 */
export function parseTimestamp(text: string, zone: Zone | undefined): TimestampResult {
  // A recording of many sensors repeats each time once per sensor: the last answer, again.
  if (text === last.text && zone === last.zone) return last.result;
  const result = parseStamp(text, zone);
  last.text = text;
  last.zone = zone;
  last.result = result;
  return result;
}
const last: { text: string; zone: Zone | undefined; result: TimestampResult } = { text: '', zone: undefined, result: { error: '' } };

function parseStamp(text: string, zone: Zone | undefined): TimestampResult {
  const t = text.trim();
  if (t.charCodeAt(4) !== 45 /* '-' */) {
    if (/^\d{9,11}(\.\d+)?$/.test(t)) return { ms: Math.round(Number(t) * 1000) };
    if (/^\d{12,13}$/.test(t)) return { ms: Number(t) };
  }
  const m = STAMP.exec(t);
  if (!m) return { error: `time "${t}" is not a date and time (e.g. 2023-06-14 14:34:48+00:00) or epoch seconds or milliseconds` };
  const day = dayOf(m[1]!, m[2]!, m[3]!);
  const h = Number(m[4]);
  const mi = Number(m[5]);
  const s = m[6] === undefined ? 0 : Number(m[6]);
  if (day === undefined || h > 23 || mi > 59 || s > 59) return { error: `time "${t}" is not a real date and time` };
  const f = m[7];
  const fraction = f === undefined ? 0 : Number(f.length >= 3 ? f.slice(0, 3) : f.padEnd(3, '0'));
  const wall = day + h * 3_600_000 + mi * 60_000 + s * 1000 + fraction;
  const offset = m[8];
  if (offset) {
    const minutes = offsetMinutes(offset);
    if (minutes === undefined) return { error: `time "${t}" has an offset that is not one` };
    return { ms: wall - minutes * 60_000 };
  }
  if (!zone) return { error: `time "${t}" has no UTC offset: give the recording's zone (--tz +08:00, --tz UTC or --tz Asia/Shanghai)` };
  return { ms: wallTimeToUtc(wall, zone) };
}

/** Midnight UTC of a date, or undefined for one that does not exist (Date.UTC rolls 2023-02-31 over into March). Cached: a recording spans few days. */
function dayOf(y: string, mo: string, d: string): number | undefined {
  const key = `${y}-${mo}-${d}`;
  if (days.has(key)) return days.get(key);
  const ms = Date.UTC(Number(y), Number(mo) - 1, Number(d));
  const back = new Date(ms);
  const day = back.getUTCFullYear() === Number(y) && back.getUTCMonth() === Number(mo) - 1 && back.getUTCDate() === Number(d) ? ms : undefined;
  if (days.size > 10_000) days.clear();
  days.set(key, day);
  return day;
}
const days = new Map<string, number | undefined>();

/** Minutes east of UTC of a timestamp's own offset (`Z`, `+08:00`, `-0300`), cached by its text. */
function offsetMinutes(text: string): number | undefined {
  if (offsets.has(text)) return offsets.get(text);
  const minutes = parseZone(text)?.offsetAt(0);
  if (offsets.size > 1000) offsets.clear();
  offsets.set(text, minutes);
  return minutes;
}
const offsets = new Map<string, number | undefined>();

/** ISO-8601 in `zone`, with its offset at that instant. */
export function isoInZone(ms: number, zone: Zone): string {
  return isoWithOffset(ms, zone.offsetAt(ms));
}
