/**
 * Corroboration across sensors (issue 22, items 2–4): what the rain gauges around an underpass and
 * the underpasses near it say about a reading. Rain confirms a rise (a single reading above the
 * closing depth closes; a jump from a dry road is water, not a vehicle); a dry sky casts doubt on a
 * sustained offset (a baseline shift). Pure: the sensors' states come in through lookups.
 *
 * Only readings at or before the reading judged count — its sensor time, never what arrived since —
 * so a reading is judged on the evidence of its own moment.
 */
import { metresBetween, type LatLon } from '../lib/geo.ts';
import type { CorroborationRule, HealthRule } from './spec.ts';

const DAY_MIN = 1440;

/** Who speaks for a site: sensor ids. */
export interface Near {
  /** Rain gauges within the radius (none that near: the district's). */
  gauges: readonly string[];
  /** Ponding sensors of the underpasses on the same road or within the neighbour radius. */
  neighbours: readonly string[];
}
export const NOBODY: Near = { gauges: [], neighbours: [] };

/** A rain gauge's minute buckets (rules/engine.ts#RainState): mm per minute of the last 24 h, by minute mod 1440. */
export interface Gauge {
  buckets: Float64Array;
  /** The newest minute it reported (epoch minutes); -1 before its first reading. */
  head: number;
}

/** A sensor's recent readings, oldest first. */
export interface History {
  recentTs: readonly number[];
  recentV: readonly number[];
}

/**
 * mm a gauge measured in the minutes (fromMin, toMin]; undefined when it has not reported since
 * fromMin (a silent gauge cannot say it was dry) or the span is older than the 24 h it keeps.
 */
export function rainIn(g: Gauge, fromMin: number, toMin: number): number | undefined {
  if (g.head <= fromMin || toMin <= g.head - DAY_MIN) return undefined;
  const hi = Math.min(toMin, g.head);
  let mm = 0;
  for (let m = Math.max(fromMin, g.head - DAY_MIN) + 1; m <= hi; m++) mm += g.buckets[m % DAY_MIN]!;
  return mm;
}

export interface RainNear {
  gaugeId: string;
  mm: number;
  mmPerH: number;
}

/** The wettest gauge near the site over the window before `ts`; undefined when none of them reported in it. */
export function rainNear(near: Near, gauge: (id: string) => Gauge | undefined, ts: number, windowS: number): RainNear | undefined {
  const toMin = Math.floor(ts / 60_000);
  const fromMin = toMin - Math.max(1, Math.round(windowS / 60));
  let best: RainNear | undefined;
  for (const id of near.gauges) {
    const g = gauge(id);
    const mm = g && rainIn(g, fromMin, toMin);
    if (mm !== undefined && (!best || mm > best.mm)) best = { gaugeId: id, mm, mmPerH: Math.round(((mm * 60) / (toMin - fromMin)) * 10) / 10 };
  }
  return best;
}

/** The deepest reading of a neighbour at least `cm` within the window before `ts` (sensor time). */
export function neighbourAbove(near: Near, history: (id: string) => History | undefined, ts: number, windowS: number, cm: number): { sensorId: string; cm: number } | undefined {
  if (cm <= 0) return undefined;
  let best: { sensorId: string; cm: number } | undefined;
  for (const id of near.neighbours) {
    const h = history(id);
    if (!h) continue;
    for (let i = h.recentTs.length - 1; i >= 0 && ts - h.recentTs[i]! <= windowS * 1000; i--) {
      const v = h.recentV[i]!;
      if (h.recentTs[i]! <= ts && v >= cm && (!best || v > best.cm)) best = { sensorId: id, cm: v };
    }
  }
  return best;
}

export interface Evidence {
  rain?: RainNear & { district: string };
  neighbour?: { sensorId: string; cm: number };
}

/** Does the evidence confirm a rise: rain this heavy near the site, or a neighbour this deep? */
export const confirms = (e: Evidence, r: CorroborationRule): boolean => (e.rain !== undefined && e.rain.mmPerH >= r.rainMmPerH) || e.neighbour !== undefined;

/** A site as corroboration sees it. */
export interface PlacedSite extends LatLon {
  id: string;
  kind: string;
  road: string;
  district: string;
}

/**
 * The gauges and neighbours of `site`: the rain sensors of the sites within rainRadiusM (none that
 * near: those of its district), and the ponding sensors of the other underpasses within
 * neighbourRadiusM or on the same named road within rainRadiusM (a ring road runs through the whole
 * city: an underpass at its other end is not a neighbour). Computed once per site per rules load
 * (rules/context.ts), never per reading.
 */
export function nearOf(site: PlacedSite, sites: readonly PlacedSite[], sensorsAt: (siteId: string, kind: 'rain' | 'ponding') => readonly string[], r: CorroborationRule): Near {
  const gauges: Array<{ id: string; d: number }> = [];
  const district: Array<{ id: string; d: number }> = [];
  const neighbours: string[] = [];
  for (const other of sites) {
    const d = metresBetween(site, other);
    for (const id of sensorsAt(other.id, 'rain')) {
      if (other.district === site.district) district.push({ id, d });
      if (d <= r.rainRadiusM) gauges.push({ id, d });
    }
    if (other.kind === 'underpass' && other.id !== site.id && (d <= r.neighbourRadiusM || (site.road !== '' && other.road === site.road && d <= r.rainRadiusM))) {
      neighbours.push(...sensorsAt(other.id, 'ponding'));
    }
  }
  // The nearest few speak for the site: a downtown site has eighty gauges within 5 km, and the
  // rain of the one 5 km away says little about this street.
  const nearest = (g: Array<{ id: string; d: number }>) => g.sort((a, b) => a.d - b.d || (a.id < b.id ? -1 : 1)).slice(0, r.rainGauges).map((x) => x.id);
  return { gauges: nearest(gauges.length > 0 ? gauges : district), neighbours };
}

/** What the sky near a site says of a rise: rain or a neighbour confirms it (wet), the gauges near reported none (dry), or nobody knows. */
export type Sky = 'wet' | 'dry' | 'unknown';
export const skyOf = (e: Evidence, r: CorroborationRule): Sky => (confirms(e, r) ? 'wet' : e.rain !== undefined ? 'dry' : 'unknown');

/** A ponding sensor's offset run: since when it reads at least baselineShiftCm, when the sky was last judged, and the judgement. */
export interface BaselineTrack {
  since: number;
  checkedAt: number;
  /** Set while judged shifted: the most rain a gauge near measured over the run and the dry spell before it. */
  shifted?: { mm: number };
}

/** The sky is judged again every 5 min of sensor time: a gauge's late reading may turn a dry spell wet. */
const REJUDGE_MS = 5 * 60_000;

/**
 * Baseline shift (issue 22, item 4): the sensor has read at least baselineShiftCm for
 * baselineShiftS, and every gauge near that reported measured less than baselineRainMm over the run
 * and baselineDryS before it. Rain near (a gauge's reading at or before this one) ends the
 * judgement at the next re-judging; a reading below baselineShiftCm ends the run. Returns the run to
 * keep (undefined: none).
 */
export function trackBaseline(t: BaselineTrack | undefined, ts: number, v: number, h: Pick<HealthRule, 'baselineShiftCm' | 'baselineShiftS' | 'baselineDryS' | 'baselineRainMm'>, near: () => Near, gauge: (id: string) => Gauge | undefined): BaselineTrack | undefined {
  if (v < h.baselineShiftCm) return undefined;
  const run = t ?? { since: ts, checkedAt: 0 }; // 0, not -Infinity: the state is saved as JSON
  if (ts - run.since < h.baselineShiftS * 1000 || ts - run.checkedAt < REJUDGE_MS) return run;
  run.checkedAt = ts;
  const rain = rainNear(near(), gauge, ts, (ts - run.since) / 1000 + h.baselineDryS);
  run.shifted = rain !== undefined && rain.mm < h.baselineRainMm ? { mm: Math.round(rain.mm * 10) / 10 } : undefined;
  return run;
}
