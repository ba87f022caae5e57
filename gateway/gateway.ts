/**
 * The MQTT front door: aedes over TCP with authentication and ACL as hooks (one hook per concern,
 * the aedes way). Devices log in as their sensor id with their own secret; services as
 * `svc-<name>` with the service secret.
 */
import { createServer, type Server, type AddressInfo } from 'node:net';
import { createHash, timingSafeEqual } from 'node:crypto';
import { Aedes, type AuthenticateError, type Client } from 'aedes';
import { canPublish, canSubscribe, SERVICE_NAMES, SERVICE_PREFIX, type Principal } from './acl.ts';
import { indexRegistry, verifySecret, type Registry } from '../config/registry.ts';
import { counter, gauge, type Registry as Metrics } from '../lib/metrics.ts';
import type { Logger } from '../lib/logger.ts';
import type { GatewayConfig } from './config.ts';

export interface GatewayDeps {
  logger: Logger;
  metrics: Metrics;
  registry: Registry;
  serviceSecret: string;
}

export interface GatewayHandle {
  /** The bound TCP port (useful when configured with 0). */
  port: number;
  broker: Aedes;
  close(): Promise<void>;
}

// MQTT 3.1.1 CONNACK return codes [MQTT-3.2.2.3].
const BAD_CREDENTIALS = 4;
const NOT_AUTHORIZED = 5;

function authError(message: string, returnCode: number): AuthenticateError {
  return Object.assign(new Error(message), { returnCode }) as AuthenticateError;
}

const sha256 = (s: string | Buffer) => createHash('sha256').update(s).digest();

export async function createGateway(config: GatewayConfig, deps: GatewayDeps): Promise<GatewayHandle> {
  const log = deps.logger.child({ component: 'gateway' });
  const index = indexRegistry(deps.registry);
  const principals = new WeakMap<Client, Principal>();
  const serviceDigest = sha256(deps.serviceSecret);
  /**
   * scrypt costs ~40 ms of CPU per check. After a device proved its secret once, remember a fast
   * digest of it (keyed by the stored hash, so a rotated hash invalidates it): a city-wide
   * reconnect storm then costs microseconds per device, not minutes of CPU.
   */
  const verified = new Map<string, { storedHash: string; digest: Buffer }>();

  const m = {
    connects: counter(deps.metrics, 'floodgate_gateway_connects_total', 'MQTT connection attempts by result', ['result']),
    aclDenied: counter(deps.metrics, 'floodgate_gateway_acl_denied_total', 'Publish/subscribe requests refused by the ACL', ['action']),
    published: counter(deps.metrics, 'floodgate_gateway_messages_in_total', 'PUBLISH packets accepted from clients', ['principal']),
    clients: gauge(deps.metrics, 'floodgate_gateway_clients', 'Connected MQTT clients'),
  };

  async function authenticateDevice(client: Client, username: string, password: string): Promise<Principal> {
    const sensor = index.sensor(username);
    if (!sensor?.secretHash) throw authError('unknown device', BAD_CREDENTIALS);
    // A device's client id is its sensor id: one session per device, no impersonation by id.
    if (client.id !== sensor.id) throw authError(`client id must equal the device id ${sensor.id}`, NOT_AUTHORIZED);
    const cached = verified.get(sensor.id);
    const digest = sha256(password);
    if (cached && cached.storedHash === sensor.secretHash) {
      if (timingSafeEqual(cached.digest, digest)) return { type: 'device', sensorId: sensor.id, kind: sensor.kind };
      throw authError('wrong secret', BAD_CREDENTIALS);
    }
    if (!(await verifySecret(password, sensor.secretHash))) throw authError('wrong secret', BAD_CREDENTIALS);
    verified.set(sensor.id, { storedHash: sensor.secretHash, digest });
    return { type: 'device', sensorId: sensor.id, kind: sensor.kind };
  }

  function authenticateService(username: string, password: string): Principal {
    const name = username.slice(SERVICE_PREFIX.length);
    if (!(SERVICE_NAMES as readonly string[]).includes(name)) throw authError('unknown service', BAD_CREDENTIALS);
    if (!timingSafeEqual(sha256(password), serviceDigest)) throw authError('wrong secret', BAD_CREDENTIALS);
    return { type: 'service', name };
  }

  const broker = await Aedes.createBroker({
    authenticate: (client, username, password, done) => {
      const clog = log.child({ clientId: client.id, username });
      if (!username || !password) {
        m.connects.inc({ result: 'anonymous' });
        clog.warn('refused anonymous connection');
        return done(authError('anonymous connections are not allowed', NOT_AUTHORIZED), false);
      }
      const secret = password.toString('utf8');
      const attempt = username.startsWith(SERVICE_PREFIX)
        ? Promise.resolve().then(() => authenticateService(username, secret))
        : authenticateDevice(client, username, secret);
      attempt.then(
        (principal) => {
          principals.set(client, principal);
          m.connects.inc({ result: 'ok' });
          done(null, true);
        },
        (err: AuthenticateError) => {
          m.connects.inc({ result: 'refused' });
          clog.warn({ reason: err.message }, 'refused connection');
          done(typeof err.returnCode === 'number' ? err : authError('authentication failed', BAD_CREDENTIALS), false);
        },
      );
    },
    authorizePublish: (client, packet, done) => {
      // client is null for messages the broker itself publishes.
      if (!client) return done(null);
      const principal = principals.get(client);
      const decision = principal ? canPublish(principal, packet.topic) : { allow: false as const, reason: 'not authenticated' };
      if (!decision.allow) {
        m.aclDenied.inc({ action: 'publish' });
        // aedes closes the connection when this hook errors: the device is cut off, and the
        // message is not delivered to anyone (so nothing of it is stored).
        log.warn({ clientId: client.id, topic: packet.topic, reason: decision.reason }, 'publish denied; disconnecting client');
        return done(new Error(decision.reason));
      }
      m.published.inc({ principal: principal!.type });
      done(null);
    },
    authorizeSubscribe: (client, sub, done) => {
      const principal = principals.get(client);
      const decision = principal ? canSubscribe(principal, sub.topic) : { allow: false as const, reason: 'not authenticated' };
      if (!decision.allow) {
        m.aclDenied.inc({ action: 'subscribe' });
        log.warn({ clientId: client.id, filter: sub.topic, reason: decision.reason }, 'subscription denied');
        // [MQTT-3.9.3] a refused subscription is answered with 0x80 in SUBACK; aedes does that for null.
        return done(null, null);
      }
      done(null, sub);
    },
  });

  broker.on('client', () => m.clients.set(broker.connectedClients));
  broker.on('clientDisconnect', () => m.clients.set(broker.connectedClients));
  broker.on('clientError', (client, err) => log.debug({ clientId: client.id, err: err.message }, 'client error'));
  broker.on('connectionError', (client, err) => log.debug({ clientId: client?.id, err: err.message }, 'connection error'));

  const server: Server = createServer(broker.handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => log.error({ err }, 'mqtt listener error'));
  const port = (server.address() as AddressInfo).port;
  log.info({ host: config.host, port, sensors: deps.registry.sensors.length }, 'gateway listening (MQTT over TCP)');

  return {
    port,
    broker,
    async close() {
      // Close the broker first: it disconnects clients, which lets server.close() complete.
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
      log.info('gateway closed');
    },
  };
}
