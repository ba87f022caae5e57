/**
 * Scenarios as files (simulators/scenarios/*.yaml, validated here): which part of the city, what
 * weather and what fails — driven by the physics of simulators/physics.ts through real MQTT
 * devices — and what the system should do about it (`expect`), which `floodgate sim --expect`
 * checks against the running system's API.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { FloodgateError } from '../lib/errors.ts';
import { Fault } from './faults.ts';
import { describeIssues } from '../lib/zod-issues.ts';

const minutes = z.number().int().min(0).max(7 * 24 * 60);
const perDistrict = z.union([z.number().int().min(0).max(1000), z.literal('all')]);

export const Scenario = z.strictObject({
  name: z.string().regex(/^[a-z0-9-]{1,40}$/),
  description: z.string().min(1).max(500),
  seed: z.number().int().min(0).default(1),
  durationMin: z.number().int().min(1).max(24 * 60),
  /**
   * The part of the city that runs: district ids (a moving storm reaches them in this order), or
   * `all` (every district, west to east). Per district: how many sensors of each kind, or `all`.
   */
  districts: z.union([z.literal('all'), z.array(z.string().min(1)).min(1)]),
  underpassesPerDistrict: perDistrict.default(4),
  gaugesPerDistrict: perDistrict.default(2),
  /** River gauges (water-level stations that are not tide stations of `tide`), per district. */
  riversPerDistrict: perDistrict.default(0),
  rain: z
    .strictObject({
      returnPeriodYears: z.number().min(1).max(1000),
      durationMin: z.number().int().min(5).max(24 * 60),
      peak: z.number().gt(0).lt(1).default(0.37),
      startMin: minutes.default(0),
      /** The cell moves: each next district in `districts` gets the storm this much later. */
      moveMinPerDistrict: minutes.default(0),
      tipMm: z.union([z.literal(0.1), z.literal(0.2), z.literal(0.5)]).default(0.5),
      /**
       * A thunderstorm cell is narrower than the city: the districts on its track get the full
       * storm (and its gust front), the others this fraction of it. No track: every district.
       */
      track: z.array(z.string().min(1)).min(1).optional(),
      outsideTrack: z.number().min(0).max(1).default(0.2),
    })
    .optional(),
  underpass: z
    .strictObject({
      basinM2: z.number().positive().default(800),
      catchmentM2: z.number().positive().default(15_000),
      runoff: z.number().gt(0).max(1).default(0.9),
      pumpM3PerMin: z.number().min(0).default(6),
      /** Pumps that stop: site id and the scenario minute. */
      pumpFailures: z.array(z.strictObject({ site: z.string().min(1), atMin: minutes })).default([]),
      /** Sites differ: each site's catchment and pump capacity vary by up to ± this fraction (seeded by its id). */
      variation: z.number().min(0).max(0.9).default(0),
    })
    .default({ basinM2: 800, catchmentM2: 15_000, runoff: 0.9, pumpM3PerMin: 6, pumpFailures: [], variation: 0 }),
  /** River gauges: their level sits this far below the station's warning level and rises with rain. */
  river: z
    .strictObject({ belowWarningM: z.number().default(1.2), rainResponseMPerMm: z.number().min(0).default(0.004) })
    .default({ belowWarningM: 1.2, rainResponseMPerMm: 0.004 }),
  /** A thunderstorm's gust front (physics.ts#gustFrontWind), measured by the rain stations' anemometers. */
  wind: z
    .strictObject({
      baseMs: z.number().min(0).max(60).default(3),
      peakGustMs: z.number().min(0).max(90),
      peakMeanMs: z.number().min(0).max(90),
      leadMin: z.number().min(0).max(120).default(5),
      decayMin: z.number().positive().max(600).default(20),
    })
    .optional(),
  /** Faults on demand (faults.ts): what the sensors and their links do wrong. */
  faults: z.array(Fault).default([]),
  /** River / tide stations (water-level sites) and the tide they see (physics.ts#tideLevel). */
  tide: z
    .strictObject({
      stations: z.array(z.string().min(1)).min(1),
      meanM: z.number(),
      amplitudeM: z.number().min(0),
      highWaterAtMin: z.number(),
      springNeap: z.number().min(0).max(1).default(0.2),
      springAtMin: z.number().default(0),
      overtide: z.number().min(0).max(0.5).default(0.15),
      surgeM: z.number().min(0).optional(),
      surgeAtMin: z.number().optional(),
      surgeHours: z.number().positive().optional(),
      /** Level rise per mm of rain over the previous 6 hours in the first district. */
      rainResponseMPerMm: z.number().min(0).optional(),
    })
    .optional(),
  /** What the system should do (checked by --expect). */
  expect: z
    .strictObject({
      /** Underpasses that must close (an underpass-closure alert for the site). */
      closed: z.array(z.string().min(1)).default([]),
      /** Underpasses that must close and, by the end of the run, reopen. */
      reopened: z.array(z.string().min(1)).default([]),
      /** Underpasses that must not close. */
      open: z.array(z.string().min(1)).default([]),
      /** Other alerts that must fire: rule and subject. */
      alerts: z.array(z.strictObject({ rule: z.string().min(1), subject: z.string().min(1) })).default([]),
      /** At least this many alerts of a rule (any subject), e.g. a city-wide storm's closures. */
      atLeast: z.array(z.strictObject({ rule: z.string().min(1), count: z.number().int().min(1) })).default([]),
      /** Alerts that must not fire (rule and subject): what a fault must not cause. */
      absent: z.array(z.strictObject({ rule: z.string().min(1), subject: z.string().min(1) })).default([]),
    })
    .default({ closed: [], reopened: [], open: [], alerts: [], atLeast: [], absent: [] }),
});
export type Scenario = z.infer<typeof Scenario>;

export const SCENARIO_DIR = fileURLToPath(new URL('./scenarios/', import.meta.url));

export function parseScenario(text: string, source: string): Scenario {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new FloodgateError('CONFIG_INVALID', `scenario ${source}: not YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  const r = Scenario.safeParse(raw);
  if (!r.success) throw new FloodgateError('CONFIG_INVALID', `scenario ${source} refused:\n${describeIssues(r.error.issues, { list: true })}`);
  return r.data;
}

/** A scenario by name (the bundled ones) or by path to a YAML file. */
export function loadScenario(nameOrPath: string): Scenario {
  const path = /[/.]/.test(nameOrPath) ? nameOrPath : join(SCENARIO_DIR, `${nameOrPath}.yaml`);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new FloodgateError('CONFIG_INVALID', `no scenario ${nameOrPath} (${path}); floodgate sim --list shows them`);
  }
  return parseScenario(text, path);
}

export function listScenarios(): Scenario[] {
  return readdirSync(SCENARIO_DIR)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => loadScenario(join(SCENARIO_DIR, f)));
}
