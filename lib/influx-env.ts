/**
 * The InfluxDB settings, one schema for every service that talks to it (ingest writes, alerts
 * reads for the console's charts): all four of INFLUX_URL, INFLUX_TOKEN, INFLUX_ORG and
 * INFLUX_BUCKET, or none (none = the embedded store).
 */
import { z } from 'zod';
import { optionalString } from './env.ts';

export const INFLUX_VARS = ['INFLUX_URL', 'INFLUX_TOKEN', 'INFLUX_ORG', 'INFLUX_BUCKET'] as const;

export const InfluxEnvShape = {
  INFLUX_URL: optionalString.pipe(z.url({ error: 'INFLUX_URL must be an http(s) URL' }).optional()),
  INFLUX_TOKEN: optionalString,
  INFLUX_ORG: optionalString,
  INFLUX_BUCKET: optionalString,
  INFLUX_TIMEOUT_MS: z.coerce.number().int().min(100).max(300_000).default(10_000),
};

type InfluxVars = Partial<Record<(typeof INFLUX_VARS)[number], string>>;

/** A superRefine step: half an InfluxDB configuration is a mistake, not a request for the embedded store. */
export function allOrNoInflux(e: InfluxVars, ctx: z.RefinementCtx): void {
  const set = INFLUX_VARS.filter((k) => e[k] !== undefined);
  if (set.length > 0 && set.length < INFLUX_VARS.length) {
    for (const k of INFLUX_VARS.filter((k) => e[k] === undefined)) {
      ctx.addIssue({ code: 'custom', path: [k], message: `required when ${set.join(', ')} ${set.length > 1 ? 'are' : 'is'} set` });
    }
  }
}

/** The connection, when configured. */
export function influxFromEnv(e: InfluxVars & { INFLUX_TIMEOUT_MS: number }): { url: string; token: string; org: string; bucket: string; timeoutMs: number } | undefined {
  return e.INFLUX_URL && e.INFLUX_TOKEN && e.INFLUX_ORG && e.INFLUX_BUCKET ? { url: e.INFLUX_URL, token: e.INFLUX_TOKEN, org: e.INFLUX_ORG, bucket: e.INFLUX_BUCKET, timeoutMs: e.INFLUX_TIMEOUT_MS } : undefined;
}
