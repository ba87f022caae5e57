/**
 * Topic names are built and parsed only here. Topic levels are validated so a sensor id can never
 * smuggle a wildcard or separator into a topic ([MQTT-4.7.1-1]: '#' and '+' are not allowed in a
 * PUBLISH topic name; '/' separates levels).
 */
import { SENSOR_KINDS, type SensorKind } from './kinds.ts';

export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export type SensorLeaf = 'reading' | 'status' | 'config';

function level(value: string, what: string): string {
  if (!ID_PATTERN.test(value)) throw new Error(`invalid ${what} for a topic level: ${JSON.stringify(value)}`);
  return value;
}

export const topics = {
  reading: (kind: SensorKind, sensorId: string) => `sensors/${kind}/${level(sensorId, 'sensor id')}/reading`,
  status: (kind: SensorKind, sensorId: string) => `sensors/${kind}/${level(sensorId, 'sensor id')}/status`,
  config: (kind: SensorKind, sensorId: string) => `sensors/${kind}/${level(sensorId, 'sensor id')}/config`,
  reject: (kind: string, sensorId: string) => `floodgate/rejects/${kind}/${sensorId}`,
  /** ingest's spool alarm (retained; contracts/ingest.ts). */
  ingestSpool: 'floodgate/ingest/spool',
  alert: (ruleId: string, subjectId: string) =>
    `floodgate/alerts/${level(ruleId, 'rule id')}/${level(subjectId, 'subject id')}`,
  /** An officer trusts a suspect sensor's readings (retained; contracts/overrides.ts). */
  override: (sensorId: string) => `floodgate/overrides/${level(sensorId, 'sensor id')}`,
  /** Subscriptions used by services. */
  allReadings: 'sensors/+/+/reading',
  allStatus: 'sensors/+/+/status',
  allAlerts: 'floodgate/alerts/+/+',
  allOverrides: 'floodgate/overrides/+',
  readingsOf: (kind: SensorKind) => `sensors/${kind}/+/reading`,
  alertsOf: (ruleId: string) => `floodgate/alerts/${level(ruleId, 'rule id')}/+`,
} as const;

export interface SensorTopic {
  readonly kind: SensorKind;
  readonly sensorId: string;
  readonly leaf: SensorLeaf;
}

/**
 * Parsed topics, shared (frozen): every service parses the topic of every reading, and a city's
 * sensors use a few thousand topics over and over — a map lookup instead of a split and a regex
 * test per message. Bounded: cleared when large.
 */
const parsedTopics = new Map<string, SensorTopic | null>();
const PARSED_TOPICS_MAX = 50_000;

/** Parse `sensors/{kind}/{id}/{leaf}`; null for anything else (including unknown kinds). */
export function parseSensorTopic(topic: string): SensorTopic | null {
  const known = parsedTopics.get(topic);
  if (known !== undefined) return known;
  const t = parseTopic(topic);
  if (parsedTopics.size >= PARSED_TOPICS_MAX) parsedTopics.clear();
  parsedTopics.set(topic, t && Object.freeze(t));
  return t;
}

function parseTopic(topic: string): SensorTopic | null {
  const parts = topic.split('/');
  if (parts.length !== 4 || parts[0] !== 'sensors') return null;
  const [, kind, sensorId, leaf] = parts as [string, string, string, string];
  if (!(SENSOR_KINDS as readonly string[]).includes(kind)) return null;
  if (!ID_PATTERN.test(sensorId)) return null;
  if (leaf !== 'reading' && leaf !== 'status' && leaf !== 'config') return null;
  return { kind: kind as SensorKind, sensorId, leaf };
}

/** Parse `floodgate/alerts/{ruleId}/{subjectId}`. */
export function parseAlertTopic(topic: string): { ruleId: string; subjectId: string } | null {
  const parts = topic.split('/');
  if (parts.length !== 4 || parts[0] !== 'floodgate' || parts[1] !== 'alerts') return null;
  const [, , ruleId, subjectId] = parts as [string, string, string, string];
  if (!ID_PATTERN.test(ruleId) || !ID_PATTERN.test(subjectId)) return null;
  return { ruleId, subjectId };
}

/** Parse `floodgate/overrides/{sensorId}`: the sensor id, or null. */
export function parseOverrideTopic(topic: string): string | null {
  const parts = topic.split('/');
  return parts.length === 3 && parts[0] === 'floodgate' && parts[1] === 'overrides' && ID_PATTERN.test(parts[2]!) ? parts[2]! : null;
}
