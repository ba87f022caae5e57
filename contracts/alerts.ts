import { z } from 'zod';
import { REASON_KEYS, type Why as WhyData } from './reasons.ts';

/** Why an alert changed, as a template key and parameters (contracts/reasons.ts). */
export const Why = z.strictObject({
  key: z.enum(REASON_KEYS),
  params: z.record(z.string().max(32), z.union([z.string().max(200), z.number()])),
}) satisfies z.ZodType<WhyData>;
export type Why = z.infer<typeof Why>;

const IsoTime = z.iso.datetime({ offset: true });

/**
 * An alert state change, published by rules on floodgate/alerts/{ruleId}/{subjectId}
 * (QoS 1, retained: the retained message is the subject's current state).
 */
export const AlertEvent = z.object({
  /** One id per episode (firing → resolved), stable across the two events. */
  alertId: z.string().min(1).max(200),
  ruleId: z.string().min(1).max(64),
  subjectId: z.string().min(1).max(64),
  sensorId: z.string().min(1).max(64),
  state: z.enum(['firing', 'resolved']),
  severity: z.enum(['info', 'warning', 'critical']),
  /** Rain and gale rules: the warning signal's colour; a change while firing is a new event of the same alertId. */
  level: z.enum(['blue', 'yellow', 'orange', 'red']).optional(),
  value: z.number(),
  threshold: z.number(),
  unit: z.string().max(16),
  /** Sensor time of the reading that caused the change. */
  observedAt: IsoTime,
  /** Rule-engine time of the change. */
  changedAt: IsoTime,
  reason: z.string().max(500),
  /** The reason as a template key and parameters: the console renders it in the reader's language. */
  why: Why.optional(),
});
export type AlertEvent = z.infer<typeof AlertEvent>;

/** The rule ids of floodgate/alerts/{ruleId}/{subjectId} (rules/engine.ts produces them). */
export const ALERT_RULES = {
  underpassClosure: 'underpass-closure',
  underpassWarning: 'underpass-warning',
  waterLevelWarning: 'water-level-warning',
  waterLevelDanger: 'water-level-danger',
  waterLevelRise: 'water-level-rise',
  rainstorm: 'rainstorm',
  districtRainstorm: 'district-rainstorm',
  gale: 'gale',
  sensorOffline: 'sensor-offline',
  sensorBattery: 'sensor-battery',
  sensorDataQuality: 'sensor-data-quality',
  pumpAdvisory: 'pump-advisory',
} as const;
export type AlertRuleId = (typeof ALERT_RULES)[keyof typeof ALERT_RULES];
