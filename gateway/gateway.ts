/**
 * The MQTT front door: aedes with authentication, ACL and limits as hooks (one hook per concern,
 * the aedes way). Devices log in as their sensor id with their own secret; services as
 * `svc-<role>` with the service secret; in lab mode anonymous tools get a sandbox.
 */
import { createServer, type Server, type AddressInfo } from 'node:net';
import { batchWrites } from './write-batch.ts';
import { createServer as createTlsServer } from 'node:tls';
import { createServer as createHttpServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { Aedes, type AuthenticateError, type Client, type PublishPacket } from 'aedes';
import { WebSocketServer, createWebSocketStream } from 'ws';
import redisPersistence from 'aedes-persistence-redis';
import mqemitterRedis from 'mqemitter-redis';
import { Redis } from 'ioredis';
import { topics } from '../contracts/index.ts';
import { canPublish, canSubscribe, SERVICE_NAMES, SERVICE_PREFIX, type Principal, type ServiceRole, type Decision } from './acl.ts';
import { keepaliveProblem, takeToken, topicLevels, type Bucket } from './limits.ts';
import { guardPacketSize } from './packet-guard.ts';
import { indexRegistry, verifySecret, type Registry, type RegistryIndex, type Sensor } from '../config/registry.ts';
import { counter, gauge, type Registry as Metrics } from '../lib/metrics.ts';
import type { Logger } from '../lib/logger.ts';
import type { Clock } from '../lib/clock.ts';
import { isoWithOffset } from '../lib/time.ts';
import type { GatewayConfig } from './config.ts';
import { lastAssignedPacketId, nextPacketId } from './packet-ids.ts';
import { useExactDedupe, type DeliveryControl } from './delivery-dedupe.ts';
import { indexedMemoryPersistence } from './session-store.ts';
import { levelSessionStore } from './level-session-store.ts';
import { requirePatchedVersion } from '../lib/patched-versions.ts';
import { guardMq } from './mq-guard.ts';

export interface GatewayDeps {
  logger: Logger;
  metrics: Metrics;
  registry: Registry;
  serviceSecret: string;
  clock: Clock;
}

export interface GatewayHandle {
  /** Bound ports (useful when configured with 0). */
  port: number;
  tlsPort: number | undefined;
  wsPort: number | undefined;
  broker: Aedes;
  /** Swap in a new registry: revoked or removed devices are disconnected at once. */
  updateRegistry(registry: Registry): void;
  /** Connected devices (sensor ids). */
  connectedDevices(): string[];
  close(): Promise<void>;
}

// MQTT 3.1.1 CONNACK return codes [MQTT-3.2.2.3].
const SERVER_UNAVAILABLE = 3;
const BAD_CREDENTIALS = 4;
const NOT_AUTHORIZED = 5;
/** Nothing to call back (a publish nobody waits for: a memory store keeps call order anyway). */
const noop = () => undefined;

function authError(message: string, returnCode: number): AuthenticateError {
  return Object.assign(new Error(message), { returnCode }) as AuthenticateError;
}

const sha256 = (s: string | Buffer) => createHash('sha256').update(s).digest();

export async function createGateway(config: GatewayConfig, deps: GatewayDeps): Promise<GatewayHandle> {
  requirePatchedVersion('aedes', "the gateway's cures for aedes (packet ids, delivery dedupe, the bus guard, the session store, PUBACK after store, in-order delivery)");
  if (config.persistence.type === 'level') requirePatchedVersion('aedes-persistence-level', 'the LevelDB session store (gateway/level-session-store.ts)');
  const log = deps.logger.child({ component: 'gateway' });
  const { limits } = config;
  let index: RegistryIndex = indexRegistry(deps.registry);
  const principals = new WeakMap<Client, Principal>();
  /** The topic a client last published to and was allowed (see authorizePublish). */
  const allowedTopic = new WeakMap<Client, string>();
  const keepalives = new WeakMap<Client, number>();
  /** The stored outgoing queue of a client's session (aedes types do not expose the persistence). */
  const sessionQueue = (client: Client) =>
    (broker as unknown as { persistence: { outgoingStream(c: Client): AsyncIterable<{ messageId?: number }> } }).persistence.outgoingStream(client);
  /** Connections asking to resume a persistent session (clean=false). */
  const resuming = new WeakSet<Client>();
  /** Per client: the end of its last QoS 1 publish (they are stored one after another). */
  const publishing = new WeakMap<Client, Promise<void>>();
  /** Per client: its exact dedupe and, for a resumed session, the hold until its queue is sent. */
  const deliveries = new WeakMap<Client, DeliveryControl>();
  const serviceDigest = sha256(deps.serviceSecret);
  /**
   * scrypt (registries of earlier versions) costs ~40 ms of CPU per check. After a secret matched a stored hash once, remember a
   * fast digest of it keyed by that hash (a rotation changes the hash, which invalidates it): a
   * city-wide reconnect storm then costs microseconds per device, not minutes of CPU.
   */
  const verified = new Map<string, Buffer>();
  const buckets = new Map<string, Bucket>();
  const lastSeen = new Map<string, number>();
  /** The live connection of each device, to tell a takeover from a disconnect. */
  const live = new Map<string, Client>();
  let closing = false;

  const m = {
    connects: counter(deps.metrics, 'floodgate_gateway_connects_total', 'MQTT connection attempts by result', ['result']),
    aclDenied: counter(deps.metrics, 'floodgate_gateway_acl_denied_total', 'Publish/subscribe requests refused by the ACL', ['action']),
    limitHits: counter(deps.metrics, 'floodgate_gateway_limit_hits_total', 'Connections or packets refused by a limit', ['limit']),
    published: counter(deps.metrics, 'floodgate_gateway_messages_in_total', 'PUBLISH packets accepted from clients', ['principal']),
    takeovers: counter(deps.metrics, 'floodgate_gateway_session_takeovers_total', 'Connections replaced by a newer one with the same client id'),
    revoked: counter(deps.metrics, 'floodgate_gateway_revocations_total', 'Devices disconnected because they were revoked or removed'),
    clients: gauge(deps.metrics, 'floodgate_gateway_clients', 'Connected MQTT clients'),
    devices: gauge(deps.metrics, 'floodgate_gateway_devices_online', 'Connected devices'),
    faults: counter(deps.metrics, 'floodgate_gateway_faults_total', 'Background faults (a publish the store refused), logged', ['where']),
  };
  const limitGauges = gauge(deps.metrics, 'floodgate_gateway_limit', 'Configured gateway limits', ['limit']);
  for (const [k, v] of Object.entries(limits)) limitGauges.set({ limit: k }, v);

  async function secretMatches(sensor: Sensor, secret: string): Promise<boolean> {
    const now = deps.clock.now();
    const candidates = [sensor.secretHash];
    if (sensor.previousSecretHash && sensor.previousValidUntil && now < Date.parse(sensor.previousValidUntil)) candidates.push(sensor.previousSecretHash);
    const digest = sha256(secret);
    for (const hash of candidates) {
      if (!hash) continue;
      const cached = verified.get(hash);
      if (cached) {
        if (timingSafeEqual(cached, digest)) return true;
        continue;
      }
      if (await verifySecret(secret, hash)) {
        verified.set(hash, digest);
        return true;
      }
    }
    return false;
  }

  async function authenticateDevice(client: Client, username: string, secret: string): Promise<Principal> {
    const sensor = index.sensor(username);
    if (!sensor?.secretHash) throw authError('unknown device', BAD_CREDENTIALS);
    if (sensor.revoked) throw authError('device revoked', NOT_AUTHORIZED);
    // A device's client id is its sensor id: one session per device, no impersonation by id.
    if (client.id !== sensor.id) throw authError(`client id must equal the device id ${sensor.id}`, NOT_AUTHORIZED);
    if (!(await secretMatches(sensor, secret))) throw authError('wrong secret', BAD_CREDENTIALS);
    return { type: 'device', sensorId: sensor.id, kind: sensor.kind };
  }

  function authenticateService(username: string, secret: string): Principal {
    const name = username.slice(SERVICE_PREFIX.length);
    if (!(SERVICE_NAMES as string[]).includes(name)) throw authError('unknown service', BAD_CREDENTIALS);
    if (!timingSafeEqual(sha256(secret), serviceDigest)) throw authError('wrong secret', BAD_CREDENTIALS);
    return { type: 'service', name: name as ServiceRole };
  }

  function publishPresence(sensorId: string, state: 'online' | 'offline' | 'lost') {
    const sensor = index.sensor(sensorId);
    if (!sensor || closing) return;
    const now = deps.clock.now();
    const payload = { state, ts: isoWithOffset(now), lastSeen: isoWithOffset(lastSeen.get(sensorId) ?? now), source: 'gateway' };
    broker.publish(
      { cmd: 'publish', topic: topics.status(sensor.kind, sensorId), payload: Buffer.from(JSON.stringify(payload)), qos: 1, retain: true, dup: false },
      (err) => {
        if (err) log.warn({ sensorId, err: err.message }, 'could not publish presence');
      },
    );
  }

  function denied(client: Client, action: 'publish' | 'subscribe', target: string, d: Decision & { allow: false }, limit?: string) {
    if (limit) m.limitHits.inc({ limit });
    else m.aclDenied.inc({ action });
    log.warn({ clientId: client.id, [action === 'publish' ? 'topic' : 'filter']: target, reason: d.reason }, `${action} denied${action === 'publish' ? '; disconnecting client' : ''}`);
  }

  // aedes-persistence-level keys a session's queued messages by (broker id, counter) and sends
  // them back in key order; with aedes' random broker id, messages queued before a restart and
  // after it were sent in an arbitrary order (the rules, which ignore a sensor's older readings,
  // lost the older ones: the chaos suite saw closures 31 minutes late). A broker id that sorts
  // after every earlier one keeps a session's queue in publish order across restarts.
  const brokerId = sortableBrokerId(deps.clock.now());
  const persistence =
    config.persistence.type === 'level'
      ? levelSessionStore(config.persistence.dir, (err) => {
          m.faults.inc({ where: 'session_store' });
          log.error({ err }, 'could not write the session store');
        })
      : config.persistence.type === 'redis'
        ? redisPersistence({ conn: new Redis(config.persistence.url) })
        : indexedMemoryPersistence(brokerId);
  const asyncStore = config.persistence.type !== 'memory';
  const mq = config.mq.type === 'redis' ? mqemitterRedis({ connectionString: config.mq.url }) : undefined;
  const broker = await Aedes.createBroker({
    id: brokerId,
    ...(persistence ? { persistence } : {}),
    ...(mq ? { mq } : {}),
    // Our hooks enforce limits.maxTopicLevels (with SUBACK 0x80 and a counter); aedes' own
    // check, kept at its ceiling, would drop the connection without saying why.
    maxTopicLevels: 100,
    concurrency: config.concurrency,
    preConnect: (client, packet, done) => {
      keepalives.set(client, packet.keepalive ?? 0);
      if (packet.clean === false) resuming.add(client);
      deliveries.set(client, useExactDedupe(client as unknown as Parameters<typeof useExactDedupe>[0], { holdUntilReady: packet.clean === false, brokerId: broker.id }));
      done(null, true);
    },
    authenticate: (client, username, password, done) => {
      const clog = log.child({ clientId: client.id, username });
      const refuse = (result: string, err: AuthenticateError, limit?: string) => {
        m.connects.inc({ result });
        if (limit) m.limitHits.inc({ limit });
        clog.warn({ reason: err.message }, 'refused connection');
        done(err, false);
      };
      // Cheap checks before the secret check (scrypt for registries of earlier versions).
      if (broker.connectedClients >= limits.maxConnections) {
        return refuse('refused', authError(`connection limit ${limits.maxConnections} reached`, SERVER_UNAVAILABLE), 'connections');
      }
      const kaProblem = keepaliveProblem(keepalives.get(client) ?? 0, limits);
      if (kaProblem) return refuse('refused', authError(kaProblem, NOT_AUTHORIZED), 'keepalive');
      if (!username && !password && config.labMode) {
        principals.set(client, { type: 'lab' });
        m.connects.inc({ result: 'lab' });
        return done(null, true);
      }
      if (!username || !password) return refuse('anonymous', authError('anonymous connections are not allowed', NOT_AUTHORIZED));
      const secret = password.toString('utf8');
      const attempt = username.startsWith(SERVICE_PREFIX)
        ? Promise.resolve().then(() => authenticateService(username, secret))
        : authenticateDevice(client, username, secret);
      attempt.then(
        (principal) => {
          principals.set(client, principal);
          if (principal.type === 'device' && live.has(principal.sensorId)) {
            // [MQTT-3.1.4-2] the broker disconnects the existing client with the same id.
            m.takeovers.inc();
            clog.warn({ sensorId: principal.sensorId }, 'second connection for this device: it takes over the session, the first is closed');
          }
          m.connects.inc({ result: 'ok' });
          if (!resuming.has(client)) return done(null, true);
          // A resumed session: new packet ids continue after the unacknowledged ones (packet-ids.ts).
          lastAssignedPacketId(sessionQueue(client)).then(
            (last) => {
              const next = nextPacketId(last);
              if (next !== undefined) (client as unknown as { _nextId: number })._nextId = next;
              done(null, true);
            },
            (err: unknown) => {
              clog.warn({ err }, 'could not read the session queue; packet ids start at random');
              done(null, true);
            },
          );
        },
        (err: AuthenticateError) => refuse('refused', typeof err.returnCode === 'number' ? err : authError('authentication failed', BAD_CREDENTIALS)),
      );
    },
    authorizePublish: (client, packet, done) => {
      // client is null for messages the broker itself publishes (presence).
      if (!client) return done(null);
      const principal = principals.get(client);
      if (!principal) return done(new Error('not authenticated'));
      // The topic checks depend on the principal, fixed for the connection, and the topic alone;
      // a device publishes to one topic again and again, so its last allowed one is not re-checked.
      if (allowedTopic.get(client) !== packet.topic) {
        if (topicLevels(packet.topic) > limits.maxTopicLevels) {
          const d = { allow: false as const, reason: `topic has more than ${limits.maxTopicLevels} levels` };
          denied(client, 'publish', packet.topic, d, 'topic_levels');
          return done(new Error(d.reason));
        }
        const decision = canPublish(principal, packet.topic);
        if (!decision.allow) {
          // aedes closes the connection when this hook errors: the client is cut off, and the
          // message is delivered to no one (so nothing of it is stored).
          denied(client, 'publish', packet.topic, decision);
          return done(new Error(decision.reason));
        }
        allowedTopic.set(client, packet.topic);
      }
      if (principal.type === 'device') {
        const now = deps.clock.now();
        const r = takeToken(buckets.get(principal.sensorId), now, limits.deviceRatePerS, limits.deviceBurst);
        buckets.set(principal.sensorId, r.bucket);
        if (!r.allowed) {
          // Sustained abuse: disconnect. A QoS 1 message is not acknowledged, so a well-behaved
          // device resends it after reconnecting; nothing it meant to send is lost.
          const d = { allow: false as const, reason: `publish rate above ${limits.deviceRatePerS}/s (burst ${limits.deviceBurst})` };
          denied(client, 'publish', packet.topic, d, 'rate');
          return done(new Error(d.reason));
        }
        lastSeen.set(principal.sensorId, now);
      }
      m.published.inc({ principal: principal.type });
      if (packet.qos !== 1) return done(null);
      // aedes answers a QoS 1 PUBLISH with PUBACK first and stores it in its subscribers'
      // sessions afterwards: a broker killed in between has acknowledged a message it never
      // kept, and the device will not resend it. [MQTT-4.3.2-2] only requires the PUBACK to
      // follow "ownership" — so floodgate takes ownership first: publish (stored in every
      // persistent session, enqueueOffline before emitPacket) and only then let aedes write the
      // PUBACK; its own publish of the same packet is then skipped (publishedFirst).
      // aedes handles the packets of one socket read concurrently. The memory store completes
      // their enqueues in call order; an asynchronous one (LevelDB, Redis) in any order — there a
      // client's publishes are stored one at a time, so they reach the bus and the sessions in
      // the order it sent them [MQTT-4.6.0-6] (gateway/test/resume-order.test.ts).
      if (!asyncStore) return storeFirst(packet as PublishPacket, client, done, noop);
      const mine = (publishing.get(client) ?? Promise.resolve()).then(() => new Promise<void>((resolve) => storeFirst(packet as PublishPacket, client, done, resolve)));
      publishing.set(client, mine);
    },
    authorizeSubscribe: (client, sub, done) => {
      const principal = principals.get(client);
      const decision: Decision =
        topicLevels(sub.topic) > limits.maxTopicLevels
          ? { allow: false, reason: `filter has more than ${limits.maxTopicLevels} levels` }
          : principal
            ? canSubscribe(principal, sub.topic)
            : { allow: false, reason: 'not authenticated' };
      if (!decision.allow) {
        denied(client, 'subscribe', sub.topic, decision, topicLevels(sub.topic) > limits.maxTopicLevels ? 'topic_levels' : undefined);
        // [MQTT-3.9.3] a refused subscription is answered with 0x80 in SUBACK; aedes does that for null.
        return done(null, null);
      }
      done(null, sub);
    },
  });
  // The runtime signature is publish(packet, client?, done) (aedes.js); the typings omit the client.
  type RawPublish = (packet: PublishPacket, client: Client | null, done: (err?: Error) => void) => void;
  const publishFirst = broker.publish.bind(broker) as unknown as RawPublish;
  /** QoS 1 packets already published (stored) before their PUBACK: aedes' own publish skips them. */
  const publishedFirst = new WeakSet<object>();
  /**
   * Store a QoS 1 publish in every session, then let aedes acknowledge it (authorizePublish above).
   * Declared once rather than as a closure per message: the tsx loader names each named function
   * expression it creates (a defineProperty per message; see lib/mqtt.ts#groupCommitAcks).
   */
  function storeFirst(packet: PublishPacket, client: Client, done: (err: Error | null) => void, settled: () => void) {
    publishFirst(packet, client, (err) => {
      settled();
      if (err) {
        m.faults.inc({ where: 'publish' });
        log.error({ err, topic: packet.topic }, 'could not store a publish; not acknowledged');
        return done(err); // not acknowledged: the device resends after reconnecting
      }
      publishedFirst.add(packet);
      done(null);
    });
  }
  (broker as unknown as { publish: (packet: PublishPacket, client: Client | null | ((err?: Error) => void), done?: (err?: Error) => void) => void }).publish = (packet, client, done) => {
    if (typeof client === 'function') return publishFirst(packet, null, client);
    if (publishedFirst.has(packet)) {
      publishedFirst.delete(packet);
      return done?.();
    }
    return publishFirst(packet, client, done ?? noop);
  };
  // aedes' in-process bus recurses once per queued message (a backlog of a few thousand kills
  // the process) and shifts its queue in O(n) (a large backlog drains at a crawl): mq-guard.ts.
  guardMq((broker as unknown as { mq: unknown }).mq);

  /** A device revoked or removed from the registry since it logged in is disconnected at once. */
  const disconnectIfRevoked = (sensorId: string, client: Client): boolean => {
    const s = index.sensor(sensorId);
    if (s && !s.revoked) return false;
    m.revoked.inc();
    log.warn({ sensorId }, 'device revoked or removed from the registry: disconnecting');
    client.close();
    return true;
  };

  // Every QoS 1 delivery to a persistent session passes outgoingUpdate (the message gets its
  // packet id in the store) and is written when that resolves. With an asynchronous store
  // (LevelDB, Redis) those updates finish in any order, and so did the writes: a client's
  // messages overtook each other [MQTT-4.6.0-6]. There the updates still run side by side, but each
  // resolves only after the client's previous one: writes go out in delivery order
  // (gateway/test/resume-order.test.ts). A message sent from a resumed session's queue is also
  // remembered, so the deliveries held meanwhile (delivery-dedupe.ts) do not send it twice.
  const store = (broker as unknown as { persistence: { outgoingUpdate(c: Client, p: object): Promise<unknown> } }).persistence;
  const outgoingUpdate = store.outgoingUpdate.bind(store);
  const updating = new WeakMap<Client, Promise<unknown>>();
  store.outgoingUpdate = (c, p) => {
    deliveries.get(c)?.markDelivered(p);
    // The memory store resolves its updates in call order already (as its enqueues, above).
    if (!asyncStore) return outgoingUpdate(c, p);
    const op = outgoingUpdate(c, p);
    // Observed at once: a failure (the store closing under a shutdown) is the caller's, through
    // inOrder; it must not count as unhandled while the previous update is still pending.
    op.catch(() => {});
    const inOrder = (updating.get(c) ?? Promise.resolve()).then(
      () => op,
      () => op,
    );
    updating.set(
      c,
      inOrder.catch(() => {}), // the caller handles its own failure; the order holds for the rest
    );
    return inOrder;
  };

  broker.on('clientReady', (client) => {
    deliveries.get(client)?.ready();
    m.clients.set(broker.connectedClients);
    const p = principals.get(client);
    if (p?.type !== 'device') return;
    if (disconnectIfRevoked(p.sensorId, client)) return; // revoked while its session was set up
    live.set(p.sensorId, client);
    lastSeen.set(p.sensorId, deps.clock.now());
    m.devices.set(live.size);
    publishPresence(p.sensorId, 'online');
  });
  broker.on('clientDisconnect', (client) => {
    m.clients.set(broker.connectedClients);
    const p = principals.get(client);
    if (p?.type !== 'device' || live.get(p.sensorId) !== client) return; // replaced by a newer connection
    live.delete(p.sensorId);
    m.devices.set(live.size);
    // A DISCONNECT packet means a clean goodbye; anything else (timeout, network) is "lost".
    publishPresence(p.sensorId, (client as unknown as { _disconnected: boolean })._disconnected ? 'offline' : 'lost');
  });
  broker.on('keepaliveTimeout', (client) => log.info({ clientId: client.id }, 'keepalive timeout'));
  broker.on('clientError', (client, err) => log.debug({ clientId: client.id, err: err.message }, 'client error'));
  broker.on('connectionError', (client, err) => log.debug({ clientId: client?.id, err: err.message }, 'connection error'));

  const handle = (conn: Duplex, req?: Parameters<Aedes['handle']>[1]) => {
    const guarded = guardPacketSize(batchWrites(conn), limits.maxPacketBytes, (size) => {
      m.limitHits.inc({ limit: 'packet_size' });
      log.warn({ size, max: limits.maxPacketBytes }, 'packet too large; connection closed');
    });
    broker.handle(guarded, req);
  };

  const servers: Array<{ close(cb: () => void): void }> = [];
  const listen = (server: Server | ReturnType<typeof createHttpServer>, port: number, what: string) =>
    new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, config.host, () => {
        server.off('error', reject);
        server.on('error', (err) => log.error({ err }, `${what} listener error`));
        servers.push(server);
        resolve((server.address() as AddressInfo).port);
      });
    });

  const port = await listen(createServer((socket) => handle(socket)), config.port, 'mqtt');
  let tlsPort: number | undefined;
  if (config.tls) {
    const tlsServer = createTlsServer({ cert: readFileSync(config.tls.certPath), key: readFileSync(config.tls.keyPath) }, (socket) => handle(socket));
    tlsPort = await listen(tlsServer as unknown as Server, config.tls.port, 'mqtts');
  }
  let wsPort: number | undefined;
  let wss: WebSocketServer | undefined;
  if (config.wsPort !== undefined) {
    const httpServer = createHttpServer((_req, res) => res.writeHead(426, { 'content-type': 'text/plain' }).end('MQTT over WebSocket: connect with a WebSocket client\n'));
    wss = new WebSocketServer({ server: httpServer, maxPayload: limits.maxPacketBytes + 16 });
    wss.on('connection', (ws, req) => handle(createWebSocketStream(ws), req));
    wsPort = await listen(httpServer, config.wsPort, 'mqtt-ws');
  }
  if (config.labMode) {
    log.warn('LAB MODE: anonymous clients are admitted to topics outside sensors/ and floodgate/. Never run lab mode on a city network.');
  }
  log.info(
    { host: config.host, port, tlsPort, wsPort, persistence: config.persistence.type, mq: config.mq.type, brokerId: broker.id, sensors: deps.registry.sensors.length, limits },
    'gateway listening',
  );

  return {
    port,
    tlsPort,
    wsPort,
    broker,
    connectedDevices: () => [...live.keys()],
    updateRegistry(registry) {
      index = indexRegistry(registry);
      const hashes = new Set(registry.sensors.flatMap((s) => [s.secretHash, s.previousSecretHash]).filter(Boolean));
      for (const h of verified.keys()) if (!hashes.has(h)) verified.delete(h);
      // Every connected client, not only the ready ones: a device whose CONNACK is out but whose
      // session is still being set up ('clientReady' not yet emitted) is disconnected too.
      for (const client of Object.values((broker as unknown as { clients: Record<string, Client> }).clients)) {
        const p = principals.get(client);
        if (p?.type === 'device') disconnectIfRevoked(p.sensorId, client);
      }
      log.info({ sensors: registry.sensors.length }, 'registry updated');
    },
    async close() {
      closing = true;
      wss?.clients.forEach((c) => c.terminate());
      // Close the broker first: it disconnects clients, which lets the listeners close.
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
      if (persistence) await persistence.destroy();
      log.info('gateway closed');
    },
  };
}

/** A broker id that sorts (as a string) after the id of any earlier start: time first, then random. */
export function sortableBrokerId(nowMs: number): string {
  return `${nowMs.toString(36).padStart(10, '0')}-${randomUUID().slice(0, 8)}`;
}
