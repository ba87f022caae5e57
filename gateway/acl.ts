/**
 * Who may publish and subscribe to what: pure functions, no I/O, so every rule is table-tested.
 * Devices touch only their own topics; each service role has exactly the topics it needs; only
 * services touch floodgate/#; $SYS is read-only (DESIGN.md; issue "Gateway" §2).
 */
import { parseSensorTopic, type SensorKind } from '../contracts/index.ts';

export const SERVICE_ROLES = {
  ingest: {
    publish: ['floodgate/rejects/#', 'floodgate/ingest/#'],
    subscribe: ['sensors/+/+/reading', 'sensors/+/+/status', '$SYS/#'],
  },
  rules: {
    publish: ['floodgate/alerts/#'],
    // Overrides: an officer trusts a suspect sensor's readings (contracts/overrides.ts).
    subscribe: ['sensors/+/+/reading', 'sensors/+/+/status', 'floodgate/alerts/#', 'floodgate/overrides/#', '$SYS/#'],
  },
  alerts: {
    publish: ['floodgate/alerts/#', 'floodgate/notices/#', 'floodgate/overrides/#'],
    // Readings too: the console shows each sensor's latest value and a 6-hour sparkline.
    subscribe: ['floodgate/alerts/#', 'floodgate/ingest/#', 'sensors/+/+/reading', 'sensors/+/+/status', '$SYS/#'],
  },
  /** The SL 651 centre (sl651/): publishes its stations' readings and presence as theirs, subscribes to nothing. */
  sl651: {
    publish: ['sensors/+/+/reading', 'sensors/+/+/status'],
    subscribe: [],
  },
  /** Simulators and test rigs that speak for many devices over one connection. */
  'simulator-admin': {
    publish: ['sensors/#'],
    subscribe: ['sensors/#', 'floodgate/#', '$SYS/#'],
  },
} as const satisfies Record<string, { publish: readonly string[]; subscribe: readonly string[] }>;

export type ServiceRole = keyof typeof SERVICE_ROLES;
export const SERVICE_NAMES = Object.keys(SERVICE_ROLES) as ServiceRole[];
export const SERVICE_PREFIX = 'svc-';

export type Principal =
  | { type: 'device'; sensorId: string; kind: SensorKind }
  | { type: 'service'; name: ServiceRole }
  /** Lab mode only: anonymous test tools, kept away from sensors/ and floodgate/. */
  | { type: 'lab' };

export type Decision = { allow: true } | { allow: false; reason: string };

const allow: Decision = { allow: true };
const deny = (reason: string): Decision => ({ allow: false, reason });

/** Does `filter` match the concrete `topic`? [MQTT-4.7.1]; '$' topics only match filters that name them [MQTT-4.7.2-1]. */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  if (t[0]?.startsWith('$') && (f[0] === '#' || f[0] === '+')) return false;
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

/** Is every topic matched by `requested` also matched by `allowed`? (Subscription ⊆ grant.) */
export function filterCovers(allowed: string, requested: string): boolean {
  const a = allowed.split('/');
  const r = requested.split('/');
  for (let i = 0; i < a.length; i++) {
    if (a[i] === '#') return true;
    if (i >= r.length) return false;
    if (r[i] === '#') return false; // requested reaches further than this grant
    if (a[i] === '+') continue;
    if (a[i] !== r[i]) return false;
  }
  return a.length === r.length;
}

const isReserved = (topicOrFilter: string) => topicOrFilter.startsWith('floodgate/') || topicOrFilter.startsWith('sensors/');

export function canPublish(p: Principal, topic: string): Decision {
  // Test tools publish to `$` topics to check that root wildcards do not match them [MQTT-4.7.2-1]:
  // in lab mode, any but the broker's own $SYS.
  if (p.type === 'lab') return isReserved(topic) || topic.startsWith('$SYS') ? deny('lab clients may not publish to sensors/, floodgate/ or $SYS/') : allow;
  if (topic.startsWith('$')) return deny('topics starting with $ are read-only');
  if (p.type === 'service') {
    const grants = SERVICE_ROLES[p.name].publish;
    return grants.some((g) => topicMatches(g, topic)) ? allow : deny(`service ${p.name} may publish only to ${grants.join(', ')}`);
  }
  const t = parseSensorTopic(topic);
  if (!t || t.sensorId !== p.sensorId || t.kind !== p.kind) return deny(`device ${p.sensorId} may publish only to sensors/${p.kind}/${p.sensorId}/{reading,status}`);
  if (t.leaf !== 'reading' && t.leaf !== 'status') return deny(`devices may not publish to ${t.leaf}`);
  return allow;
}

/** In lab mode, whether a message may go to a client: a lab client gets nothing of sensors/ or floodgate/. */
export function labForward(p: Principal | undefined, topic: string): boolean {
  return p?.type !== 'lab' || !isReserved(topic);
}

export function canSubscribe(p: Principal, filter: string): Decision {
  if (p.type === 'lab') {
    // Root wildcards are allowed (test suites subscribe to `#` and `+/+`): what they would reach of
    // sensors/ and floodgate/ is never forwarded to a lab client (labForward).
    if (isReserved(filter) || filter.startsWith('$SYS')) return deny('lab clients may not subscribe to sensors/, floodgate/ or $SYS/');
    return allow;
  }
  if (p.type === 'service') {
    const grants = SERVICE_ROLES[p.name].subscribe;
    return grants.some((g) => filterCovers(g, filter)) ? allow : deny(`service ${p.name} may subscribe only to ${grants.join(', ')}`);
  }
  const own = [`sensors/${p.kind}/${p.sensorId}/config`, `floodgate/rejects/${p.kind}/${p.sensorId}`];
  if (own.includes(filter)) return allow;
  return deny(`device ${p.sensorId} may subscribe only to ${own.join(' and ')}`);
}
