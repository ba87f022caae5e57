/**
 * Who may publish and subscribe to what: pure functions, no I/O, so every rule is table-tested.
 * DESIGN.md: devices publish only their own reading/status topics; only services touch floodgate/#.
 */
import { parseSensorTopic, type SensorKind } from '../contracts/index.ts';

export type Principal =
  | { type: 'device'; sensorId: string; kind: SensorKind }
  | { type: 'service'; name: string };

export type Decision = { allow: true } | { allow: false; reason: string };

const allow: Decision = { allow: true };
const deny = (reason: string): Decision => ({ allow: false, reason });

export function canPublish(p: Principal, topic: string): Decision {
  if (topic.startsWith('$')) return deny('topics starting with $ are reserved for the broker'); // [MQTT-4.7.2-1]
  if (p.type === 'service') return allow;
  const t = parseSensorTopic(topic);
  if (!t || t.sensorId !== p.sensorId || t.kind !== p.kind) return deny(`device ${p.sensorId} may publish only to sensors/${p.kind}/${p.sensorId}/{reading,status}`);
  if (t.leaf !== 'reading' && t.leaf !== 'status') return deny(`devices may not publish to ${t.leaf}`);
  return allow;
}

export function canSubscribe(p: Principal, filter: string): Decision {
  if (p.type === 'service') return allow;
  const own = [`sensors/${p.kind}/${p.sensorId}/config`, `floodgate/rejects/${p.kind}/${p.sensorId}`];
  if (own.includes(filter)) return allow;
  return deny(`device ${p.sensorId} may subscribe only to ${own.join(' and ')}`);
}

export const SERVICE_PREFIX = 'svc-';
export const SERVICE_NAMES = ['ingest', 'rules', 'alerts', 'sim'] as const;
