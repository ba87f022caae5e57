/**
 * Who is connecting: a device (its sensor id and its own secret, checked against the registry's
 * hash), or a service (`svc-<role>` and the service secret). Refusals carry the MQTT 3.1.1 CONNACK
 * return code [MQTT-3.2.2.3] that aedes sends.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { AuthenticateError } from 'aedes';
import { verifySecret, type Registry, type RegistryIndex, type Sensor } from '../config/registry.ts';
import type { Clock } from '../lib/clock.ts';
import { SERVICE_NAMES, SERVICE_PREFIX, type Principal, type ServiceRole } from './acl.ts';

// MQTT 3.1.1 CONNACK return codes [MQTT-3.2.2.3].
export const IDENTIFIER_REJECTED = 2;
export const SERVER_UNAVAILABLE = 3;
export const BAD_CREDENTIALS = 4;
export const NOT_AUTHORIZED = 5;

export function authError(message: string, returnCode: number): AuthenticateError {
  return Object.assign(new Error(message), { returnCode }) as AuthenticateError;
}

const sha256 = (s: string | Buffer) => createHash('sha256').update(s).digest();

export interface CredentialCheck {
  /** A device logging in as `username` on connection `clientId`; throws an AuthenticateError. */
  device(clientId: string, username: string, secret: string): Promise<Principal>;
  /** A service logging in as `svc-<role>`; throws an AuthenticateError. */
  service(username: string, secret: string): Principal;
  /** The registry changed: forget what was learnt of hashes that are gone (rotated or removed). */
  forgetStale(registry: Registry): void;
}

export function createCredentialCheck(deps: { clock: Clock; serviceSecret: string; index(): RegistryIndex }): CredentialCheck {
  const serviceDigest = sha256(deps.serviceSecret);
  /**
   * scrypt (registries of earlier versions) costs ~40 ms of CPU per check. After a secret matched
   * a stored hash once, remember a fast digest of it keyed by that hash (a rotation changes the
   * hash, which invalidates it): a city-wide reconnect storm then costs microseconds per device,
   * not minutes of CPU.
   */
  const verified = new Map<string, Buffer>();

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

  return {
    async device(clientId, username, secret) {
      const sensor = deps.index().sensor(username);
      if (!sensor?.secretHash) throw authError('unknown device', BAD_CREDENTIALS);
      if (sensor.revoked) throw authError('device revoked', NOT_AUTHORIZED);
      // A device's client id is its sensor id: one session per device, no impersonation by id.
      if (clientId !== sensor.id) throw authError(`client id must equal the device id ${sensor.id}`, NOT_AUTHORIZED);
      if (!(await secretMatches(sensor, secret))) throw authError('wrong secret', BAD_CREDENTIALS);
      return { type: 'device', sensorId: sensor.id, kind: sensor.kind };
    },
    service(username, secret) {
      const name = username.slice(SERVICE_PREFIX.length);
      if (!(SERVICE_NAMES as string[]).includes(name)) throw authError('unknown service', BAD_CREDENTIALS);
      if (!timingSafeEqual(sha256(secret), serviceDigest)) throw authError('wrong secret', BAD_CREDENTIALS);
      return { type: 'service', name: name as ServiceRole };
    },
    forgetStale(registry) {
      const hashes = new Set(registry.sensors.flatMap((s) => [s.secretHash, s.previousSecretHash]).filter(Boolean));
      for (const h of verified.keys()) if (!hashes.has(h)) verified.delete(h);
    },
  };
}
