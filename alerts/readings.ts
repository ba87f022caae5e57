/**
 * A sensor's readings over a time range, for the console's charts (`GET /api/sensors/:id/readings`):
 * the kind's main field in buckets (the highest depth or level of each bucket; the rain of each
 * bucket summed), from wherever ingest stores them — the embedded store (`readings.db`, read
 * only) or InfluxDB through InfluxQL on `/query` (InfluxDB 1.x; 2.x through its v1 compatibility
 * API, where the bucket is the database; 3.x), sent through the official client's transport.
 */
import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { InfluxDB } from '@influxdata/influxdb-client';
import { MAIN_FIELD, MEASUREMENT, type SensorKind } from '../contracts/index.ts';
import { compileRules, RulesFile, type SiteOfRules, type SiteRules } from '../rules/spec.ts';

export interface SeriesQuery {
  sensorId: string;
  kind: SensorKind;
  fromMs: number;
  toMs: number;
  stepMs: number;
}
/** [bucket start ms, value] — buckets with no reading are absent. */
export type Points = Array<[number, number]>;

export interface ReadingsSource {
  name: 'embedded' | 'influxdb';
  series(q: SeriesQuery): Promise<Points>;
  close(): void;
}

/** Rain adds up over a bucket; depth and level show the bucket's highest. */
export const aggregateOf = (kind: SensorKind): 'sum' | 'max' => (kind === 'rain' ? 'sum' : 'max');

/** About `maxPoints` buckets over the range, whole minutes (at least one). */
export function stepFor(fromMs: number, toMs: number, maxPoints = 400): number {
  return Math.max(1, Math.ceil((toMs - fromMs) / maxPoints / 60_000)) * 60_000;
}

/**
 * Rain totals over the last hour and the last 6 hours before `toMs`, from bucketed sums (exact
 * when the buckets are a minute; within a bucket's width otherwise).
 */
export function rainTotals(points: Points, toMs: number, stepMs: number): { h1: number; h6: number } {
  const sum = (ms: number) => Math.round(points.filter(([t]) => t + stepMs > toMs - ms && t <= toMs).reduce((a, [, v]) => a + v, 0) * 10) / 10;
  return { h1: sum(3600_000), h6: sum(6 * 3600_000) };
}

/** The embedded store, opened read-only when it exists (ingest creates it with its first write). */
export function embeddedReadings(path: string): ReadingsSource {
  let db: Database.Database | undefined;
  const open = () => {
    if (!db && existsSync(path)) db = new Database(path, { readonly: true, fileMustExist: true });
    return db;
  };
  return {
    name: 'embedded',
    async series(q) {
      const d = open();
      if (!d) return [];
      const field = `$.${MAIN_FIELD[q.kind].field}`;
      // better-sqlite3 binds a JS number as REAL: the bucket is the quotient truncated, not an integer division.
      const rows = d
        .prepare(`SELECT CAST(ts / @step AS INTEGER) * @step AS t, ${aggregateOf(q.kind)}(json_extract(fields, @field)) AS v FROM readings
          WHERE measurement = @m AND sensor = @sensor AND ts >= @from AND ts < @to GROUP BY t ORDER BY t`)
        .all({ step: q.stepMs, field, m: MEASUREMENT[q.kind], sensor: q.sensorId, from: q.fromMs, to: q.toMs }) as Array<{ t: number; v: number | null }>;
      return rows.filter((r) => r.v !== null).map((r) => [r.t, Math.round(r.v! * 1000) / 1000]);
    },
    close: () => db?.close(),
  };
}

/** InfluxQL quoting: identifiers in double quotes, strings in single quotes (backslash escapes). */
const ident = (s: string) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
const str = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/** The InfluxQL of a series query (exported for its test). */
export function influxQl(q: SeriesQuery): string {
  const { field } = MAIN_FIELD[q.kind];
  return `SELECT ${aggregateOf(q.kind)}(${ident(field)}) FROM ${ident(MEASUREMENT[q.kind])} WHERE "sensor" = ${str(q.sensorId)} AND time >= ${q.fromMs}ms AND time < ${q.toMs}ms GROUP BY time(${q.stepMs}ms) fill(none)`;
}

export function influxReadings(cfg: { url: string; token: string; bucket: string; timeoutMs: number }): ReadingsSource {
  const transport = new InfluxDB({ url: cfg.url, token: cfg.token, timeout: cfg.timeoutMs }).transport;
  return {
    name: 'influxdb',
    async series(q) {
      const path = `/query?${new URLSearchParams({ db: cfg.bucket, q: influxQl(q), epoch: 'ms' })}`;
      const body = (await transport.request(path, null, { method: 'GET', headers: { accept: 'application/json' } })) as {
        results?: Array<{ error?: string; series?: Array<{ values: Array<[number, number | null]> }> }>;
        error?: string;
      };
      const r = body.results?.[0];
      const error = body.error ?? r?.error;
      if (error) throw new Error(`InfluxDB: ${error}`);
      return (r?.series?.[0]?.values ?? []).filter((v): v is [number, number] => v[1] !== null).map(([t, v]) => [t, Math.round(v * 1000) / 1000]);
    },
    close: () => {},
  };
}

export const RANGES = { '6h': 6, '24h': 24, '3d': 72, '7d': 168 } as const;
export type Range = keyof typeof RANGES;

export interface ReadingsView {
  sensor: { id: string; kind: SensorKind; site: string; field: string; unit: string };
  from: number;
  to: number;
  stepS: number;
  aggregate: 'sum' | 'max';
  points: Points;
  /** Rain: the last hour's and the last 6 hours' totals before `to`. */
  totals?: { h1: number; h6: number };
  /** Reference lines: the levels the rules in force compare this sensor with (defaults, the registry's values, the site's override). */
  thresholds: Array<{ name: string; value: number }>;
}

/** What a chart draws from a site's rules: the part of rules/spec.ts's SiteRules it reads. */
export type ChartRules = Pick<SiteRules, 'underpass' | 'waterLevel' | 'rain'>;

/** A rules file that states nothing: every site on the rules' defaults and the registry's values. */
const NO_RULES_FILE = RulesFile.parse({ version: 1 });

/**
 * A site's rules when no rules in force are at hand: resolved as the rules service resolves them
 * (rules/spec.ts compileRules: the defaults, then the registry's own values), with no file.
 */
export function defaultChartRules(site: SiteOfRules | undefined): ChartRules {
  return (site && compileRules(NO_RULES_FILE, [site]).rules.get(site.id)) ?? NO_RULES_FILE.defaults;
}

/** The levels the rules compare a sensor with, as the rules in force say (a site's override included). */
export function thresholdsOf(kind: SensorKind, rules: ChartRules): ReadingsView['thresholds'] {
  if (kind === 'ponding') return [{ name: 'warn', value: rules.underpass.warnCm }, { name: 'close', value: rules.underpass.closeCm }, { name: 'reopen', value: rules.underpass.reopenCm }];
  if (kind === 'water-level') {
    const w = rules.waterLevel.warningM;
    return w === undefined ? [] : [{ name: 'warning', value: w }, { name: 'danger', value: Math.round((w + rules.waterLevel.dangerAboveWarningM) * 1000) / 1000 }];
  }
  return (['blue', 'yellow', 'orange'] as const).flatMap((level) => {
    const mm = rules.rain.levels[level]['1h'];
    return mm === undefined ? [] : [{ name: `${level}-1h`, value: mm }];
  });
}

/** A sensor's chart data, or undefined for a sensor the registry does not know (or a load-test device). */
export async function readingsOf(source: ReadingsSource, sensor: { id: string; kind: SensorKind; site: string } | undefined, rules: ChartRules, range: Range, toMs: number): Promise<ReadingsView | undefined> {
  if (!sensor) return undefined;
  const fromMs = toMs - RANGES[range] * 3600_000;
  const stepMs = stepFor(fromMs, toMs);
  const points = await source.series({ sensorId: sensor.id, kind: sensor.kind, fromMs, toMs, stepMs });
  const { field, unit } = MAIN_FIELD[sensor.kind];
  return {
    sensor: { id: sensor.id, kind: sensor.kind, site: sensor.site, field, unit },
    from: fromMs,
    to: toMs,
    stepS: stepMs / 1000,
    aggregate: aggregateOf(sensor.kind),
    points,
    ...(sensor.kind === 'rain' ? { totals: rainTotals(points, toMs, stepMs) } : {}),
    thresholds: thresholdsOf(sensor.kind, rules),
  };
}
