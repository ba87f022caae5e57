/**
 * aedes' hooks, one per concern (the aedes way): preConnect notes what the CONNECT asked for,
 * authenticate checks limits then credentials, authorizePublish checks the ACL, topic depth and
 * the device's rate (and takes ownership of a QoS 1 message before its PUBACK),
 * authorizeSubscribe checks the ACL. Refusals are counted and logged with the reason.
 */
import type { Aedes, AedesOptions, AuthenticateError, Client, PublishPacket } from 'aedes';
import type { Counter } from '../lib/metrics.ts';
import type { Clock } from '../lib/clock.ts';
import type { Logger } from '../lib/logger.ts';
import { canPublish, canSubscribe, labForward, SERVICE_PREFIX, type Decision, type Principal } from './acl.ts';
import { keepaliveProblem, takeToken, topicLevels, type Bucket } from './limits.ts';
import { authError, BAD_CREDENTIALS, IDENTIFIER_REJECTED, NOT_AUTHORIZED, SERVER_UNAVAILABLE, type CredentialCheck } from './auth.ts';
import { continuePacketIds } from './aedes-patches.ts';
import { useExactDedupe, type DeliveryControl } from './delivery-dedupe.ts';
import type { GatewayConfig } from './config.ts';

/** What the hooks know of each connection, shared with the broker's event handlers. */
export interface Connections {
  principals: WeakMap<Client, Principal>;
  deliveries: WeakMap<Client, DeliveryControl>;
  /** The live connection of each device, to tell a takeover from a disconnect. */
  live: Map<string, Client>;
  lastSeen: Map<string, number>;
}

export interface HookContext {
  config: GatewayConfig;
  clock: Clock;
  log: Logger;
  credentials: CredentialCheck;
  connections: Connections;
  broker(): Aedes;
  /** For an allowed QoS 1 publish: store it, then acknowledge (aedes-patches.ts#storeBeforePuback). */
  acknowledgeAfterStore(packet: PublishPacket, client: Client, done: (err: Error | null) => void): void;
  m: { connects: Counter<string>; aclDenied: Counter<string>; limitHits: Counter<string>; published: Counter<string>; takeovers: Counter<string>; retainCleared: Counter<string> };
}

type Hooks = Required<Pick<AedesOptions, 'preConnect' | 'authenticate' | 'authorizePublish' | 'authorizeSubscribe'>> & Pick<AedesOptions, 'authorizeForward'>;

/** The hooks' own memory of each connection. */
interface HookState extends HookContext {
  keepalives: WeakMap<Client, number>;
  /** Connections asking to resume a persistent session (clean=false). */
  resuming: WeakSet<Client>;
  /** Connections that sent a zero-length client id (aedes then makes one up). */
  anonymousIds: WeakSet<Client>;
  /** The topic a client last published to and was allowed (see authorizePublish). */
  allowedTopic: WeakMap<Client, string>;
  buckets: Map<string, Bucket>;
}

export function brokerHooks(c: HookContext): Hooks {
  const st: HookState = { ...c, keepalives: new WeakMap(), resuming: new WeakSet(), anonymousIds: new WeakSet(), allowedTopic: new WeakMap(), buckets: new Map() };
  const { principals, deliveries } = c.connections;
  const { limits } = c.config;
  return {
    preConnect: (client, packet, done) => {
      st.keepalives.set(client, packet.keepalive ?? 0);
      // Keepalive 0 turns the client's keepalive off [MQTT-3.1.2-10]; the server "is permitted to
      // disconnect a Client that it determines to be inactive" (its non-normative comment): aedes
      // then closes a link silent for 1.5 × keepaliveMaxS, as for a client that asked for that.
      if (packet.keepalive === 0) packet.keepalive = limits.keepaliveMaxS;
      if (packet.clean === false) st.resuming.add(client);
      if (!packet.clientId) st.anonymousIds.add(client);
      deliveries.set(client, useExactDedupe(client as unknown as Parameters<typeof useExactDedupe>[0], { holdUntilReady: packet.clean === false, brokerId: c.broker().id }));
      done(null, true);
    },
    authenticate: (client, username, password, done) => checkConnect(st, client, username, password, done),
    authorizePublish: (client, packet, done) => {
      // client is null for messages the broker itself publishes (presence).
      if (!client) return done(null);
      const principal = principals.get(client);
      if (!principal) return done(new Error('not authenticated'));
      // A device publishes to one topic again and again: its last allowed one is not re-checked.
      if (st.allowedTopic.get(client) !== packet.topic) {
        const refusal = topicRefusal(st, client, principal, packet.topic);
        if (refusal) return done(new Error(refusal));
        st.allowedTopic.set(client, packet.topic);
      }
      if (principal.type === 'device') {
        const refusal = rateRefusal(st, client, principal.sensorId, packet.topic) ?? presenceRefusal(st, client, packet);
        if (refusal) return done(new Error(refusal));
      }
      c.m.published.inc({ principal: principal.type });
      if (packet.qos !== 1) return done(null);
      c.acknowledgeAfterStore(packet as PublishPacket, client, done);
    },
    authorizeSubscribe: (client, sub, done) => {
      const principal = principals.get(client);
      const tooDeep = topicLevels(sub.topic) > limits.maxTopicLevels;
      const decision: Decision = tooDeep ? { allow: false, reason: `filter has more than ${limits.maxTopicLevels} levels` } : principal ? canSubscribe(principal, sub.topic) : { allow: false, reason: 'not authenticated' };
      if (!decision.allow) {
        denied(st, client, 'subscribe', sub.topic, decision, tooDeep ? 'topic_levels' : undefined);
        // [MQTT-3.9.3] a refused subscription is answered with 0x80 in SUBACK; aedes does that for null.
        return done(null, null);
      }
      done(null, sub);
    },
    // Only in lab mode (a check per delivery otherwise costs every message): a lab client's root
    // wildcard never brings it the city's readings or alerts.
    ...(c.config.labMode ? { authorizeForward: ((client, packet) => (labForward(principals.get(client), packet.topic) ? packet : null)) satisfies NonNullable<AedesOptions['authorizeForward']> } : {}),
  };
}

function denied(st: HookState, client: Client, action: 'publish' | 'subscribe', target: string, d: Decision & { allow: false }, limit?: string) {
  if (limit) st.m.limitHits.inc({ limit });
  else st.m.aclDenied.inc({ action });
  st.log.warn({ clientId: client.id, [action === 'publish' ? 'topic' : 'filter']: target, reason: d.reason }, `${action} denied${action === 'publish' ? '; disconnecting client' : ''}`);
}

/** Cheap checks (connection count, keepalive) before the secret check (scrypt for registries of earlier versions). */
function checkConnect(st: HookState, client: Client, username: string | undefined, password: Buffer | undefined, done: (err: AuthenticateError | null, ok: boolean | null) => void): void {
  const { limits } = st.config;
  const clog = st.log.child({ clientId: client.id, username });
  const refuse = (result: string, err: AuthenticateError, limit?: string) => {
    st.m.connects.inc({ result });
    if (limit) st.m.limitHits.inc({ limit });
    clog.warn({ reason: err.message }, 'refused connection');
    done(err, false);
  };
  if (st.broker().connectedClients >= limits.maxConnections) return refuse('refused', authError(`connection limit ${limits.maxConnections} reached`, SERVER_UNAVAILABLE), 'connections');
  // [MQTT-3.1.3-8] a zero-byte client id with CleanSession 0: CONNACK 0x02 (identifier rejected).
  if (st.anonymousIds.has(client) && st.resuming.has(client)) return refuse('refused', authError('a zero-length client id needs a clean session', IDENTIFIER_REJECTED));
  const kaProblem = keepaliveProblem(st.keepalives.get(client) ?? 0, limits);
  if (kaProblem) return refuse('refused', authError(kaProblem, NOT_AUTHORIZED), 'keepalive');
  if (!username && !password && st.config.labMode) {
    st.connections.principals.set(client, { type: 'lab' });
    st.m.connects.inc({ result: 'lab' });
    return done(null, true);
  }
  if (!username || !password) return refuse('anonymous', authError('anonymous connections are not allowed', NOT_AUTHORIZED));
  const secret = password.toString('utf8');
  const attempt = username.startsWith(SERVICE_PREFIX) ? Promise.resolve().then(() => st.credentials.service(username, secret)) : st.credentials.device(client.id, username, secret);
  attempt.then(
    (principal) => admitted(st, client, principal, clog, done),
    (err: AuthenticateError) => refuse('refused', typeof err.returnCode === 'number' ? err : authError('authentication failed', BAD_CREDENTIALS)),
  );
}

function admitted(st: HookState, client: Client, principal: Principal, clog: Logger, done: (err: AuthenticateError | null, ok: boolean | null) => void) {
  st.connections.principals.set(client, principal);
  if (principal.type === 'device' && st.connections.live.has(principal.sensorId)) {
    // [MQTT-3.1.4-2] the broker disconnects the existing client with the same id.
    st.m.takeovers.inc();
    clog.warn({ sensorId: principal.sensorId }, 'second connection for this device: it takes over the session, the first is closed');
  }
  st.m.connects.inc({ result: 'ok' });
  if (!st.resuming.has(client)) return done(null, true);
  continuePacketIds(st.broker(), client).then(
    () => done(null, true),
    (err: unknown) => {
      clog.warn({ err }, 'could not read the session queue; packet ids start at random');
      done(null, true);
    },
  );
}

/** The topic checks depend on the principal, fixed for the connection, and the topic alone. */
function topicRefusal(st: HookState, client: Client, principal: Principal, topic: string): string | undefined {
  const { limits } = st.config;
  if (topicLevels(topic) > limits.maxTopicLevels) {
    const d = { allow: false as const, reason: `topic has more than ${limits.maxTopicLevels} levels` };
    denied(st, client, 'publish', topic, d, 'topic_levels');
    return d.reason;
  }
  const decision = canPublish(principal, topic);
  // aedes closes the connection when the hook errors: the client is cut off, and the message is
  // delivered to no one (so nothing of it is stored).
  if (!decision.allow) denied(st, client, 'publish', topic, decision);
  return decision.allow ? undefined : decision.reason;
}

/** A device above its rate is disconnected: its unacknowledged QoS 1 message is resent after it reconnects, so nothing is lost. */
function rateRefusal(st: HookState, client: Client, sensorId: string, topic: string): string | undefined {
  const { limits } = st.config;
  const now = st.clock.now();
  const r = takeToken(st.buckets.get(sensorId), now, limits.deviceRatePerS, limits.deviceBurst);
  st.buckets.set(sensorId, r.bucket);
  if (r.allowed) {
    st.connections.lastSeen.set(sensorId, now);
    return undefined;
  }
  const d = { allow: false as const, reason: `publish rate above ${limits.deviceRatePerS}/s (burst ${limits.deviceBurst})` };
  denied(st, client, 'publish', topic, d, 'rate');
  return d.reason;
}

/**
 * Issue 23 §9: a device's retained reading was handed to every later subscriber as if it were new,
 * and a device could retain a status claiming `"source":"gateway"`. A device's message is never
 * retained (the retain flag is cleared, counted; the reading itself is kept) [MQTT-3.3.1-5 lets a
 * server decide what it retains only by the flag, so the flag goes]; the retained status of a
 * device's topic is the gateway's presence alone, and a device's status that claims a source is
 * refused.
 */
function presenceRefusal(st: HookState, client: Client, packet: { topic: string; retain: boolean; payload: Buffer | string }): string | undefined {
  const leaf = packet.topic.slice(packet.topic.lastIndexOf('/') + 1);
  if (packet.retain) {
    packet.retain = false;
    st.m.retainCleared.inc({ leaf });
    st.log.debug({ clientId: client.id, topic: packet.topic }, 'a device asked to retain its message: not retained');
  }
  if (leaf !== 'status') return undefined;
  let claimed: unknown;
  try {
    claimed = (JSON.parse(packet.payload.toString()) as { source?: unknown } | null)?.source;
  } catch {
    return undefined; // not JSON: a device's own business, and not retained
  }
  if (claimed === undefined) return undefined;
  const d = { allow: false as const, reason: 'a device may not state the source of its presence: only the gateway does' };
  denied(st, client, 'publish', packet.topic, d);
  return d.reason;
}
