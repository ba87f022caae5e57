/**
 * The rules file: defaults per rule kind, overrides per site (DESIGN.md, Domain defaults). Every
 * number has a default, so an empty file is the city's standard rule set; a site override names
 * only what differs. Objects are strict: a misspelt key is an error, not a silently ignored rule.
 */
import { z } from 'zod';
import type { Site } from '../config/registry.ts';
import type { SensorKind } from '../contracts/index.ts';

const seconds = z.number().int().min(0).max(7 * 86_400);
const positive = z.number().positive();

export const UnderpassRule = z
  .strictObject({
    /** Warning stage: ponding above this (held for warnHoldS) warns the duty officers. */
    warnCm: positive.default(15),
    warnHoldS: seconds.default(60),
    /** The warning clears below this depth. */
    warnClearCm: z.number().min(0).default(10),
    /** Close above this depth (Shanghai 25 cm; Beijing 27 cm) when sustained. */
    closeCm: positive.default(25),
    /** Sustained = both: readings above closeCm for this long and this many in a row (0 / 1 turns one off). */
    closeSustainS: seconds.default(120),
    closeMinReadings: z.number().int().min(1).max(1000).default(3),
    /** Close early, before closeSustainS, when depth rises at least this fast (cm/min) over ≥2 readings above closeCm. */
    earlyRiseCmPerMin: positive.default(3),
    /**
     * Forecast closure (issue 22): close before the water gets there when the sensor's own steady
     * rise (a least-squares fit of its readings over forecastWindowS, ≥ 3 rising readings, none a
     * jump) will carry it past closeCm within forecastHorizonS — or before its next reading is due,
     * for a sensor reporting less often than that. 0 turns it off.
     */
    forecastHorizonS: seconds.default(300),
    forecastWindowS: seconds.default(600),
    /** Below this rise the water is not rising: no forecast. */
    forecastMinRateCmPerMin: positive.default(0.2),
    /** Only from this depth on (noise on a dry road forecasts nothing); default the warning depth. */
    forecastFromCm: z.number().min(0).optional(),
    /** Reopen below this lower depth (hysteresis), held for reopenHoldS over ≥ closeMinReadings readings. */
    reopenCm: z.number().min(0).default(15),
    reopenHoldS: seconds.default(600),
  })
  .refine((r) => r.reopenCm < r.closeCm, { message: 'reopenCm must be below closeCm (hysteresis)', path: ['reopenCm'] })
  .refine((r) => r.warnCm < r.closeCm, { message: 'warnCm must be below closeCm', path: ['warnCm'] })
  .refine((r) => r.warnClearCm < r.warnCm, { message: 'warnClearCm must be below warnCm (hysteresis)', path: ['warnClearCm'] });

export const WaterLevelRule = z
  .strictObject({
    /** Warning and danger levels, metres above datum. warningM defaults to the site's registry value; no level, no level alert. */
    warningM: z.number().optional(),
    /** Danger level; default warningM + dangerAboveWarningM. */
    dangerM: z.number().optional(),
    dangerAboveWarningM: positive.default(0.5),
    /** A level alert clears only below its level minus this (hysteresis). */
    hysteresisM: z.number().min(0).default(0.1),
    /** Readings in a row above (or below) a level before it fires (or clears): one odd reading is not a tide. */
    sustainReadings: z.number().int().min(1).max(100).default(2),
    /** Rate of rise: warn when the level rose at least this much (m) within riseWindowS. */
    riseM: positive.default(0.5),
    riseWindowS: seconds.default(3600),
  })
  .refine((r) => r.warningM === undefined || r.dangerM === undefined || r.dangerM > r.warningM, { message: 'dangerM must be above warningM', path: ['dangerM'] });

export const RAIN_LEVELS = ['blue', 'yellow', 'orange', 'red'] as const;
export type RainLevel = (typeof RAIN_LEVELS)[number];
export const RAIN_WINDOWS = { '10m': 600, '1h': 3600, '3h': 10_800, '6h': 21_600, '12h': 43_200, '24h': 86_400 } as const;
export type RainWindow = keyof typeof RAIN_WINDOWS;

const LevelThresholds = z.strictObject(Object.fromEntries(Object.keys(RAIN_WINDOWS).map((w) => [w, positive.optional()])) as Record<RainWindow, z.ZodOptional<typeof positive>>);

export const RainRule = z.strictObject({
  /** Shanghai rainstorm signals (rolling windows, mm): a level is reached when any of its windows is. */
  levels: z
    .strictObject({
      blue: LevelThresholds.default({ '1h': 35, '6h': 50 }),
      yellow: LevelThresholds.default({ '1h': 50, '6h': 80 }),
      orange: LevelThresholds.default({ '1h': 80, '6h': 100 }),
      red: LevelThresholds.default({ '3h': 100 }),
    })
    .default({ blue: { '1h': 35, '6h': 50 }, yellow: { '1h': 50, '6h': 80 }, orange: { '1h': 80, '6h': 100 }, red: { '3h': 100 } }),
  /** A gauge's level goes down only after its totals stayed below it this long (no flapping at the edge). */
  clearHoldS: seconds.default(1800),
  /** District alert: at least this many gauges of the district at a level. */
  districtMinGauges: z.number().int().min(1).max(1000).default(3),
});

const WindThreshold = z.strictObject({ meanMs: positive, gustMs: positive });

/**
 * Gale warning signals (大风预警信号) from the rain stations' anemometers, by Beaufort force in
 * m/s: blue = mean force 6 (10.8) or gusts force 7 (13.9); yellow = 8 (17.2) or 9 (20.8);
 * orange = 10 (24.5) or 11 (28.5); red = 12 (32.7) or 13 (37.0). A level is reached by either.
 */
export const WindRule = z.strictObject({
  levels: z
    .strictObject({
      blue: WindThreshold.default({ meanMs: 10.8, gustMs: 13.9 }),
      yellow: WindThreshold.default({ meanMs: 17.2, gustMs: 20.8 }),
      orange: WindThreshold.default({ meanMs: 24.5, gustMs: 28.5 }),
      red: WindThreshold.default({ meanMs: 32.7, gustMs: 37 }),
    })
    .default({ blue: { meanMs: 10.8, gustMs: 13.9 }, yellow: { meanMs: 17.2, gustMs: 20.8 }, orange: { meanMs: 24.5, gustMs: 28.5 }, red: { meanMs: 32.7, gustMs: 37 } }),
  /** A station's level goes down only after the wind stayed below it this long. */
  clearHoldS: seconds.default(1800),
});

export const HealthRule = z.strictObject({
  /** Offline: nothing arrived for offlineFactor × the kind's expected interval. */
  expectedIntervalS: z
    .strictObject({ 'water-level': seconds.default(300), rain: seconds.default(300), ponding: seconds.default(60) })
    .default({ 'water-level': 300, rain: 300, ponding: 60 }),
  offlineFactor: positive.default(3),
  lowBatteryV: positive.default(3.4),
  batteryHysteresisV: z.number().min(0).default(0.1),
  batteryReadings: z.number().int().min(1).default(3),
  /** Plausible ranges (narrower than what the contract accepts): outside = suspect. Rain in mm/min. */
  range: z
    .strictObject({
      ponding: z.tuple([z.number(), z.number()]).default([0, 200]),
      'water-level': z.tuple([z.number(), z.number()]).default([-2, 8]),
      rainMmPerMin: z.number().positive().default(6),
    })
    .default({ ponding: [0, 200], 'water-level': [-2, 8], rainMmPerMin: 6 }),
  /** A single reading that leaves and returns by more than this is a spike (ponding cm, water level m). */
  spike: z.strictObject({ ponding: positive.default(10), 'water-level': positive.default(0.5) }).default({ ponding: 10, 'water-level': 0.5 }),
  /** This many spikes within an hour raise a data-quality alert (one spike is only flagged). */
  spikesPerHour: z.number().int().min(1).default(3),
  /** Flat line: this many identical readings over at least flatlineMinS (ponding only above 0: a dry road reads 0). */
  flatlineReadings: z.number().int().min(2).default(20),
  flatlineMinS: seconds.default(1800),
  /** Parked vehicle under an ultrasonic sensor: from below stepFromCm a jump of ≥ stepJumpCm to a value that then stays within stepToleranceCm. */
  stepFromCm: z.number().min(0).default(1),
  stepJumpCm: positive.default(10),
  stepToleranceCm: z.number().min(0).default(0.3),
  /** … or within this many times the sensor's own noise on the dry road before the jump, whichever is wider. */
  stepNoiseFactor: z.number().min(0).default(5),
  /** A data-quality alert clears after this many clean readings. */
  cleanReadings: z.number().int().min(1).default(5),
  /**
   * Baseline shift (issue 22): a ponding sensor reading at least baselineShiftCm for
   * baselineShiftS while the rain gauges near its site measured less than baselineRainMm over
   * baselineDryS before is suspect — its readings warn and close nothing until the rain comes
   * (corroboration.rainMmPerH near the site) or it reads below baselineShiftCm again. No gauge
   * near that reported: no judgement (a dry spell cannot be told from a gauge that is silent).
   */
  baselineShiftCm: positive.default(5),
  baselineShiftS: seconds.default(1800),
  baselineDryS: seconds.default(21_600),
  baselineRainMm: z.number().min(0).default(1),
});

/**
 * Corroboration across sensors (issue 22, items 2–4): the rain gauges around a site and the
 * underpasses near it confirm a rise (a single reading above closeCm closes; a jump from a dry road
 * is water, not a vehicle) or, dry, cast doubt on a sustained offset (health.baselineShift*).
 * Only readings at or before the reading judged count (sensor time).
 */
export const CorroborationRule = z.strictObject({
  /** The nearest rainGauges rain gauges within this distance speak for the site's rain; none that near: the district's nearest. */
  rainRadiusM: positive.default(5000),
  rainGauges: z.number().int().min(1).max(100).default(5),
  /** Rain at least this heavy (mean over rainWindowS, the wettest gauge near) confirms a rise. */
  rainMmPerH: positive.default(10),
  rainWindowS: seconds.default(1800),
  /** Underpasses on the same road or within this distance are neighbours … */
  neighbourRadiusM: z.number().min(0).default(1500),
  /** … and one of them reading at least this depth within neighbourWindowS confirms a rise (0 turns it off). */
  neighbourCm: z.number().min(0).default(15),
  neighbourWindowS: seconds.default(900),
  /** Over water above the warning depth, in confirmed rain, a jump up to this is a surge of water, not a vehicle (0 turns it off). */
  surgeMaxCm: z.number().min(0).default(20),
});

export const AdvisoryRule = z.strictObject({
  /** Heavy rain in the district (any gauge at this level or above) … */
  rainLevel: z.enum(RAIN_LEVELS).default('yellow'),
  /** … while ponding at one of its underpasses rose at least this much within windowS, and is above minDepthCm. */
  pondingRiseCm: positive.default(5),
  windowS: seconds.default(900),
  minDepthCm: z.number().min(0).default(5),
  /** Clears after the condition stayed off this long. */
  clearHoldS: seconds.default(900),
});

const kinds = {
  underpass: UnderpassRule,
  waterLevel: WaterLevelRule,
  rain: RainRule,
  wind: WindRule,
  health: HealthRule,
  advisory: AdvisoryRule,
  corroboration: CorroborationRule,
};

/** Per-site overrides: any subset of the kinds' fields. */
const SiteOverride = z.strictObject({
  underpass: z.record(z.string(), z.unknown()).optional(),
  waterLevel: z.record(z.string(), z.unknown()).optional(),
  rain: z.record(z.string(), z.unknown()).optional(),
  wind: z.record(z.string(), z.unknown()).optional(),
  health: z.record(z.string(), z.unknown()).optional(),
  advisory: z.record(z.string(), z.unknown()).optional(),
  corroboration: z.record(z.string(), z.unknown()).optional(),
});

export const RulesFile = z.strictObject({
  version: z.literal(1, { error: 'version must be 1' }),
  defaults: z
    .strictObject({
      underpass: UnderpassRule.default(UnderpassRule.parse({})),
      waterLevel: WaterLevelRule.default(WaterLevelRule.parse({})),
      rain: RainRule.default(RainRule.parse({})),
      wind: WindRule.default(WindRule.parse({})),
      health: HealthRule.default(HealthRule.parse({})),
      advisory: AdvisoryRule.default(AdvisoryRule.parse({})),
      corroboration: CorroborationRule.default(CorroborationRule.parse({})),
    })
    .default({
      underpass: UnderpassRule.parse({}),
      waterLevel: WaterLevelRule.parse({}),
      rain: RainRule.parse({}),
      wind: WindRule.parse({}),
      health: HealthRule.parse({}),
      advisory: AdvisoryRule.parse({}),
      corroboration: CorroborationRule.parse({}),
    }),
  sites: z.record(z.string(), SiteOverride).default({}),
});
export type RulesFile = z.infer<typeof RulesFile>;
export type UnderpassRule = z.infer<typeof UnderpassRule>;
export type WaterLevelRule = z.infer<typeof WaterLevelRule>;
export type RainRule = z.infer<typeof RainRule>;
export type WindRule = z.infer<typeof WindRule>;
export type HealthRule = z.infer<typeof HealthRule>;
export type AdvisoryRule = z.infer<typeof AdvisoryRule>;
export type CorroborationRule = z.infer<typeof CorroborationRule>;

/** The effective rules of one site: defaults, then what the registry knows, then the site's override. */
export interface SiteRules {
  underpass: UnderpassRule;
  waterLevel: WaterLevelRule;
  rain: RainRule;
  wind: WindRule;
  health: HealthRule;
  advisory: AdvisoryRule;
  corroboration: CorroborationRule;
}

export interface RuleIssue {
  path: Array<string | number>;
  message: string;
}

/**
 * Resolve every site's effective rules (done once per load, never per reading). Registry values
 * (underpass thresholds, a station's warning level) sit between the defaults and the rules file's
 * own per-site override. Returns the issues of all sites at once.
 */
/** What of a registry site its rules depend on. */
export type SiteOfRules = Pick<Site, 'id' | 'underpass' | 'warningLevelM'>;

export function compileRules<S extends SiteOfRules>(file: RulesFile, sites: S[]): { rules: Map<string, SiteRules>; issues: RuleIssue[] } {
  const rules = new Map<string, SiteRules>();
  const issues: RuleIssue[] = [];
  const known = new Set(sites.map((s) => s.id));
  for (const id of Object.keys(file.sites)) {
    if (!known.has(id)) issues.push({ path: ['sites', id], message: `site ${id} is not in the registry` });
  }
  for (const site of sites) {
    const over = file.sites[site.id] ?? {};
    const fromRegistry: Partial<Record<keyof typeof kinds, Record<string, unknown>>> = {
      underpass: site.underpass ? { ...site.underpass } : {},
      waterLevel: site.warningLevelM !== undefined ? { warningM: site.warningLevelM } : {},
    };
    const out: Partial<SiteRules> = {};
    for (const [kind, schema] of Object.entries(kinds) as Array<[keyof typeof kinds, z.ZodType]>) {
      const merged = { ...(file.defaults[kind] as Record<string, unknown>), ...fromRegistry[kind], ...over[kind] };
      const r = schema.safeParse(merged);
      if (r.success) (out as Record<string, unknown>)[kind] = r.data;
      else for (const i of r.error.issues) issues.push({ path: ['sites', site.id, kind, ...(i.path as Array<string | number>)], message: i.message });
    }
    if (Object.keys(out).length === Object.keys(kinds).length) rules.set(site.id, out as SiteRules);
  }
  return { rules, issues };
}

export function expectedIntervalMs(h: HealthRule, kind: SensorKind): number {
  return h.expectedIntervalS[kind] * 1000;
}
