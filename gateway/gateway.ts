/**
 * The MQTT front door: aedes with authentication, ACL and limits as hooks (hooks.ts, one per
 * concern, the aedes way), floodgate's cures for aedes applied in one place (aedes-patches.ts),
 * and its listeners (listeners.ts). Devices log in as their sensor id with their own secret;
 * services as `svc-<role>` with the service secret; in lab mode anonymous tools get a sandbox.
 */
import { randomUUID } from 'node:crypto';
import { Aedes, type Client } from 'aedes';
import redisPersistence from 'aedes-persistence-redis';
import mqemitterRedis from 'mqemitter-redis';
import { Redis } from 'ioredis';
import { topics } from '../contracts/index.ts';
import { indexRegistry, type Registry, type RegistryIndex } from '../config/registry.ts';
import { counter, gauge, type Registry as Metrics } from '../lib/metrics.ts';
import type { Logger } from '../lib/logger.ts';
import type { Clock } from '../lib/clock.ts';
import { isoWithOffset } from '../lib/time.ts';
import type { GatewayConfig } from './config.ts';
import { indexedMemoryPersistence } from './session-store.ts';
import { levelSessionStore } from './level-session-store.ts';
import { createCredentialCheck } from './auth.ts';
import { brokerHooks, type Connections } from './hooks.ts';
import { openListeners } from './listeners.ts';
import { allClients, guardBus, orderOutgoingUpdates, requireAedesVersions, saidGoodbye, storeBeforePuback, storeSubscriptionsOnce } from './aedes-patches.ts';

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
  /** For /healthz: the broker is open and, where sessions or the bus are on Redis, every Redis connection is ready. */
  health(): { ok: boolean; checks: Record<string, boolean> };
  close(): Promise<void>;
}

function gatewayMetrics(metrics: Metrics, limits: GatewayConfig['limits']) {
  const limitGauges = gauge(metrics, 'floodgate_gateway_limit', 'Configured gateway limits', ['limit']);
  for (const [k, v] of Object.entries(limits)) limitGauges.set({ limit: k }, v);
  return {
    connects: counter(metrics, 'floodgate_gateway_connects_total', 'MQTT connection attempts by result', ['result']),
    aclDenied: counter(metrics, 'floodgate_gateway_acl_denied_total', 'Publish/subscribe requests refused by the ACL', ['action']),
    limitHits: counter(metrics, 'floodgate_gateway_limit_hits_total', 'Connections or packets refused by a limit', ['limit']),
    published: counter(metrics, 'floodgate_gateway_messages_in_total', 'PUBLISH packets accepted from clients', ['principal']),
    retainCleared: counter(metrics, 'floodgate_gateway_retain_cleared_total', 'Device messages whose retain flag was cleared: readings and status are never retained from devices (the retained status is the gateway\'s presence)', ['leaf']),
    takeovers: counter(metrics, 'floodgate_gateway_session_takeovers_total', 'Connections replaced by a newer one with the same client id'),
    revoked: counter(metrics, 'floodgate_gateway_revocations_total', 'Devices disconnected because they were revoked or removed'),
    clients: gauge(metrics, 'floodgate_gateway_clients', 'Connected MQTT clients'),
    devices: gauge(metrics, 'floodgate_gateway_devices_online', 'Connected devices'),
    faults: counter(metrics, 'floodgate_gateway_faults_total', 'Background faults, logged: a publish the store refused (publish), a session store write (session_store), a Redis connection failing (redis_<use>)', ['where']),
  };
}
type GatewayMetrics = ReturnType<typeof gatewayMetrics>;

/** Where sessions are kept (memory, LevelDB, Redis) and how brokers share messages (in process, Redis). */
function sessionStores(config: GatewayConfig, brokerId: string, m: GatewayMetrics, log: Logger) {
  const redis: Redis[] = [];
  const redisConnection = (url: string, use: string, subscriber = false) => {
    const conn = followedRedis(url, use, m, log, subscriber);
    redis.push(conn);
    return conn;
  };
  const persistence =
    config.persistence.type === 'level'
      ? levelSessionStore(config.persistence.dir, (err) => {
          m.faults.inc({ where: 'session_store' });
          log.error({ err }, 'could not write the session store');
        })
      : config.persistence.type === 'redis'
        ? // maxSessionDelivery -1: a reconnecting session gets its whole queue. The default (1000)
          // sent the first thousand and left the rest in Redis until the next reconnect: an ingest
          // that took over after 20 s of a storm received a third of what had queued for it.
          redisPersistence({ conn: redisConnection(config.persistence.url, 'sessions'), maxSessionDelivery: -1 })
        : indexedMemoryPersistence(brokerId);
  const bus = config.mq.type === 'redis' ? sharedBus(redisConnection(config.mq.url, 'bus_sub', true), redisConnection(config.mq.url, 'bus_pub')) : undefined;
  return { persistence, mq: bus?.mq, asyncStore: config.persistence.type !== 'memory', redisReady: () => redis.every((c) => c.status === 'ready') && (bus?.subscribed() ?? true) };
}

/**
 * A Redis connection whose faults are logged and counted: Redis away is an outage to ride out
 * (ioredis reconnects with backoff; the gateway holds what it cannot store unacknowledged), never
 * a crash. `subscriber`: no ready check — ioredis (issue redis/ioredis#2037) can send its INFO
 * check after a SUBSCRIBE queued while connecting, which Redis refuses in subscriber mode, and the
 * refusal crashed the gateway at start.
 */
function followedRedis(url: string, use: string, m: GatewayMetrics, log: Logger, subscriber: boolean): Redis {
  const conn = new Redis(url, subscriber ? { enableReadyCheck: false } : {});
  let down = false;
  conn.on('error', (err: Error) => {
    m.faults.inc({ where: `redis_${use}` });
    if (!down) log.error({ err: err.message, use }, 'Redis connection failed; reconnecting');
    down = true;
  });
  conn.on('ready', () => {
    if (down) log.warn({ use }, 'Redis connection back');
    down = false;
  });
  return conn;
}

/**
 * mqemitter-redis over our own connections, its errors (emitted on `state`) logged, not thrown.
 *
 * After Redis comes back, the publishing connection may be ready before the subscribing one has
 * subscribed again (ioredis resubscribes after it reports 'ready'): a message published in that
 * window reached no connected client. A persistent session still had it queued, but a client that
 * stayed connected through the outage only got it at its next reconnect, which may be never (the
 * Redis outage test, under load: 10 readings acknowledged to the device and not delivered in
 * 120 s). So until a PING sent after the resubscription has come back over the subscribing
 * connection (Redis answers a connection's commands in order), publishes are refused: not
 * acknowledged, the device sends them again.
 */
function sharedBus(subConn: Redis, pubConn: Redis) {
  const mq = mqemitterRedis({ subConn, pubConn });
  mq.state.on('error', () => undefined); // logged and counted on the connections
  let subscribed = false;
  subConn.on('close', () => (subscribed = false));
  subConn.on('ready', () =>
    // ioredis queues the resubscriptions right after emitting 'ready': the PING goes after them.
    setImmediate(() =>
      subConn.ping().then(
        () => (subscribed = subConn.status === 'ready'),
        () => undefined,
      ),
    ),
  );
  const bus = mq as unknown as { emit: (msg: unknown, cb?: (err?: Error) => void) => unknown };
  const emit = bus.emit.bind(mq);
  bus.emit = (msg, cb) => {
    if (subscribed) return emit(msg, cb);
    cb?.(new Error('the message bus (Redis) is not subscribed yet'));
    return mq;
  };
  return { mq, subscribed: () => subscribed };
}

/** Presence: a device's retained status (online, offline after DISCONNECT, lost otherwise), and the gauges. */
function followPresence(broker: Aedes, c: { connections: Connections; index(): RegistryIndex; clock: Clock; m: GatewayMetrics; log: Logger; closing(): boolean; disconnectIfRevoked(sensorId: string, client: Client): boolean }) {
  const { principals, deliveries, live, lastSeen } = c.connections;
  function publishPresence(sensorId: string, state: 'online' | 'offline' | 'lost') {
    const sensor = c.index().sensor(sensorId);
    if (!sensor || c.closing()) return;
    const now = c.clock.now();
    const payload = { state, ts: isoWithOffset(now), lastSeen: isoWithOffset(lastSeen.get(sensorId) ?? now), source: 'gateway' };
    broker.publish({ cmd: 'publish', topic: topics.status(sensor.kind, sensorId), payload: Buffer.from(JSON.stringify(payload)), qos: 1, retain: true, dup: false }, (err) => {
      if (err) c.log.warn({ sensorId, err: err.message }, 'could not publish presence');
    });
  }
  broker.on('clientReady', (client) => {
    deliveries.get(client)?.ready();
    c.m.clients.set(broker.connectedClients);
    const p = principals.get(client);
    if (p?.type !== 'device') return;
    if (c.disconnectIfRevoked(p.sensorId, client)) return; // revoked while its session was set up
    live.set(p.sensorId, client);
    lastSeen.set(p.sensorId, c.clock.now());
    c.m.devices.set(live.size);
    publishPresence(p.sensorId, 'online');
  });
  broker.on('clientDisconnect', (client) => {
    c.m.clients.set(broker.connectedClients);
    const p = principals.get(client);
    if (p?.type !== 'device' || live.get(p.sensorId) !== client) return; // replaced by a newer connection
    live.delete(p.sensorId);
    c.m.devices.set(live.size);
    publishPresence(p.sensorId, saidGoodbye(client) ? 'offline' : 'lost');
  });
  broker.on('keepaliveTimeout', (client) => c.log.info({ clientId: client.id }, 'keepalive timeout'));
  broker.on('clientError', (client, err) => c.log.debug({ clientId: client.id, err: err.message }, 'client error'));
  broker.on('connectionError', (client, err) => c.log.debug({ clientId: client?.id, err: err.message }, 'connection error'));
}

export async function createGateway(config: GatewayConfig, deps: GatewayDeps): Promise<GatewayHandle> {
  requireAedesVersions(config.persistence.type);
  const log = deps.logger.child({ component: 'gateway' });
  let index: RegistryIndex = indexRegistry(deps.registry);
  const connections: Connections = { principals: new WeakMap(), deliveries: new WeakMap(), live: new Map(), lastSeen: new Map() };
  const credentials = createCredentialCheck({ clock: deps.clock, serviceSecret: deps.serviceSecret, index: () => index });
  let closing = false;
  const m = gatewayMetrics(deps.metrics, config.limits);

  // aedes-persistence-level keys a session's queued messages by (broker id, counter) and sends
  // them back in key order; with aedes' random broker id, messages queued before a restart and
  // after it were sent in an arbitrary order (the rules, which ignore a sensor's older readings,
  // lost the older ones: the chaos suite saw closures 31 minutes late). A broker id that sorts
  // after every earlier one keeps a session's queue in publish order across restarts.
  const brokerId = sortableBrokerId(deps.clock.now());
  const { persistence, mq, asyncStore, redisReady } = sessionStores(config, brokerId, m, log);
  // Set once the broker exists (the hooks are its options); no publish arrives before.
  const patched: { acknowledgeAfterStore?: ReturnType<typeof storeBeforePuback> } = {};
  const broker: Aedes = await Aedes.createBroker({
    id: brokerId,
    persistence,
    ...(mq ? { mq } : {}),
    // Our hooks enforce limits.maxTopicLevels (with SUBACK 0x80 and a counter); aedes' own
    // check, kept at its ceiling, would drop the connection without saying why.
    maxTopicLevels: 100,
    concurrency: config.concurrency,
    ...brokerHooks({ config, clock: deps.clock, log, credentials, connections, broker: () => broker, acknowledgeAfterStore: (p, c, done) => patched.acknowledgeAfterStore!(p, c, done), m }),
  });
  patched.acknowledgeAfterStore = storeBeforePuback(broker, {
    asyncStore,
    onFault(err, topic) {
      m.faults.inc({ where: 'publish' });
      log.error({ err, topic }, 'could not store a publish; not acknowledged');
    },
  });
  guardBus(broker);
  orderOutgoingUpdates(broker, { asyncStore, deliveries: connections.deliveries });
  storeSubscriptionsOnce(broker);

  /** A device revoked or removed from the registry since it logged in is disconnected at once. */
  const disconnectIfRevoked = (sensorId: string, client: Client): boolean => {
    const s = index.sensor(sensorId);
    if (s && !s.revoked) return false;
    m.revoked.inc();
    log.warn({ sensorId }, 'device revoked or removed from the registry: disconnecting');
    client.close();
    return true;
  };
  followPresence(broker, { connections, index: () => index, clock: deps.clock, m, log, closing: () => closing, disconnectIfRevoked });

  const listeners = await openListeners(config, broker, {
    logger: log,
    onOversize(size) {
      m.limitHits.inc({ limit: 'packet_size' });
      log.warn({ size, max: config.limits.maxPacketBytes }, 'packet too large; connection closed');
    },
    onBadProtocol(level) {
      m.connects.inc({ result: 'protocol' });
      log.warn({ level }, `CONNECT with protocol level ${level}: answered CONNACK 0x01 (unacceptable protocol level: MQTT 3.1 and 3.1.1 are served) and closed`);
    },
  });
  if (config.labMode) log.warn('LAB MODE: anonymous clients are admitted to topics outside sensors/ and floodgate/. Never run lab mode on a city network.');
  const { port, tlsPort, wsPort } = listeners;
  log.info({ host: config.host, port, tlsPort, wsPort, persistence: config.persistence.type, mq: config.mq.type, brokerId: broker.id, sensors: deps.registry.sensors.length, limits: config.limits }, 'gateway listening');

  return {
    port,
    tlsPort,
    wsPort,
    broker,
    connectedDevices: () => [...connections.live.keys()],
    health() {
      const checks = { broker: !broker.closed, ...(config.persistence.type === 'redis' || config.mq.type === 'redis' ? { redis: redisReady() } : {}) };
      return { ok: Object.values(checks).every(Boolean), checks };
    },
    updateRegistry(registry) {
      index = indexRegistry(registry);
      credentials.forgetStale(registry);
      // Every connected client, not only the ready ones: a device whose CONNACK is out but whose
      // session is still being set up ('clientReady' not yet emitted) is disconnected too.
      for (const client of allClients(broker)) {
        const p = connections.principals.get(client);
        if (p?.type === 'device') disconnectIfRevoked(p.sensorId, client);
      }
      log.info({ sensors: registry.sensors.length }, 'registry updated');
    },
    async close() {
      closing = true;
      listeners.terminateWebSockets();
      // Close the broker first: it disconnects clients, which lets the listeners close.
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await listeners.close();
      await persistence.destroy();
      log.info('gateway closed');
    },
  };
}

/** A broker id that sorts (as a string) after the id of any earlier start: time first, then random. */
export function sortableBrokerId(nowMs: number): string {
  return `${nowMs.toString(36).padStart(10, '0')}-${randomUUID().slice(0, 8)}`;
}
