/**
 * Device lifecycle as pure registry transformations (the CLI does the I/O): add, rotate with a
 * grace period, revoke. Secrets never enter the registry, only their hashes.
 */
import { FloodgateError } from '../lib/errors.ts';
import type { SensorKind } from '../contracts/index.ts';
import { Registry, type Sl651Station, dataFiles, hashSecretSync, loadProvisioning, loadRegistry, newSecret, writeAtomic, type Sensor } from './registry.ts';
import { describeIssues } from '../lib/zod-issues.ts';

function find(registry: Registry, id: string): Sensor {
  const s = registry.sensors.find((x) => x.id === id);
  if (!s) throw new FloodgateError('DEVICE_UNKNOWN', `no device ${id} in the registry`);
  return s;
}

function replace(registry: Registry, sensor: Sensor): Registry {
  return { ...registry, sensors: registry.sensors.map((s) => (s.id === sensor.id ? sensor : s)) };
}

export function addDevice(registry: Registry, d: { id: string; kind: SensorKind; site: string; sl651?: Sl651Station }, secretHash: string): Registry {
  if (registry.sensors.some((s) => s.id === d.id)) throw new FloodgateError('DEVICE_EXISTS', `device ${d.id} already exists (rotate its secret instead)`);
  const next = { ...registry, sensors: [...registry.sensors, { id: d.id, kind: d.kind, site: d.site, secretHash, ...(d.sl651 ? { sl651: d.sl651 } : {}) }] };
  // The registry's own rules (known site, ponding sensors at underpasses, id format) apply.
  const r = Registry.safeParse(next);
  if (!r.success) throw new FloodgateError('REGISTRY_INVALID', describeIssues(r.error.issues));
  return r.data;
}

/** New secret now; the old one stays valid for `graceS` so devices can be updated in the field. */
export function rotateDevice(registry: Registry, id: string, secretHash: string, nowMs: number, graceS: number): Registry {
  const s = find(registry, id);
  if (s.revoked) throw new FloodgateError('DEVICE_UNKNOWN', `device ${id} is revoked; add it anew under a new id`);
  const rotated: Sensor = { ...s, secretHash };
  if (graceS > 0 && s.secretHash) {
    rotated.previousSecretHash = s.secretHash;
    rotated.previousValidUntil = new Date(nowMs + graceS * 1000).toISOString();
  } else {
    delete rotated.previousSecretHash;
    delete rotated.previousValidUntil;
  }
  return replace(registry, rotated);
}

/** Revoked devices stay listed (audit) but are refused and disconnected at once. */
export function revokeDevice(registry: Registry, id: string): Registry {
  const s = find(registry, id);
  const { previousSecretHash: _p, previousValidUntil: _v, ...rest } = s;
  return replace(registry, { ...rest, revoked: true });
}

export function deviceState(s: Sensor, nowMs: number): string {
  if (s.revoked) return 'revoked';
  if (!s.secretHash) return 'unprovisioned';
  if (s.previousValidUntil && Date.parse(s.previousValidUntil) > nowMs) return `rotating (old secret valid until ${s.previousValidUntil})`;
  return 'active';
}

export const LOAD_SITE = 'LOADTEST';
export const loadDeviceId = (i: number) => `LD-${String(i).padStart(5, '0')}`;

/**
 * Load-test devices LD-00001 … LD-<n> (`floodgate provision --load-devices N`): rain gauges at one
 * synthetic site, flagged `loadTest` so the rules and the console ignore them while the gateway
 * and ingest treat them like any device. `secrets` gives each new device its secret and hash
 * (the caller stores the secrets); devices already there are kept as they are.
 */
export function withLoadDevices(registry: Registry, n: number, secretFor: (id: string) => { hash: string }): { registry: Registry; added: string[] } {
  const sites = registry.sites.some((s) => s.id === LOAD_SITE)
    ? registry.sites
    : [...registry.sites, { id: LOAD_SITE, kind: 'rain-station' as const, name: 'load test', road: '', district: registry.districts[0]!.id, lat: registry.sites[0]?.lat ?? 0, lon: registry.sites[0]?.lon ?? 0 }];
  const have = new Set(registry.sensors.map((s) => s.id));
  const added: string[] = [];
  const sensors = [...registry.sensors];
  for (let i = 1; i <= n; i++) {
    const id = loadDeviceId(i);
    if (have.has(id)) continue;
    sensors.push({ id, kind: 'rain', site: LOAD_SITE, secretHash: secretFor(id).hash, loadTest: true });
    added.push(id);
  }
  return { registry: Registry.parse({ ...registry, sites, sensors }), added };
}

/**
 * Add load-test devices to a provisioned data dir (`floodgate provision --load-devices N`): their
 * secrets into provisioning.json, their hashes into registry.json (written in that order, so a
 * crash in between leaves secrets without devices, never devices nobody can log in as). Running
 * services pick the registry change up within a second.
 */
export function provisionLoadDevices(dataDir: string, n: number): { added: number; total: number } {
  const files = dataFiles(dataDir);
  const registry = loadRegistry(files.registry);
  const provisioning = loadProvisioning(files.provisioning);
  const secrets: Record<string, string> = {};
  const next = withLoadDevices(registry, n, (id) => {
    const secret = newSecret();
    secrets[id] = secret;
    return { hash: hashSecretSync(secret) };
  });
  if (next.added.length === 0) return { added: 0, total: registry.sensors.filter((s) => s.loadTest).length };
  writeAtomic(files.provisioning, JSON.stringify({ ...provisioning, sensors: { ...provisioning.sensors, ...secrets } }, null, 2) + '\n', 0o600);
  writeAtomic(files.registry, JSON.stringify(next.registry, null, 2) + '\n', 0o644);
  return { added: next.added.length, total: next.registry.sensors.filter((s) => s.loadTest).length };
}

/**
 * The SL 651 station a new device reports through (`devices add … --sl651-station ADDR`): a
 * station the registry already has (its other sensor) keeps its password and networks, and a
 * password given must be that one; a new station takes the password given or a new one, which the
 * caller shows once.
 */
export async function stationFor(registry: Registry, address: string, o: { password?: string; networks?: string[] }, verify: (password: string, hash: string) => Promise<boolean>, hash: (password: string) => string, newPassword: () => string): Promise<{ sl651: Sl651Station; password?: string }> {
  const station = address.toUpperCase();
  const password = o.password?.toUpperCase();
  if (password !== undefined && !/^[0-9A-F]{4}$/.test(password)) throw new FloodgateError('DEVICE_INVALID', 'an SL 651 password is 4 hex digits (the frame carries 2 bytes)');
  const other = registry.sensors.find((s) => s.sl651?.station === station);
  if (other?.sl651) {
    if (password !== undefined && other.sl651.passwordHash && !(await verify(password, other.sl651.passwordHash))) throw new FloodgateError('DEVICE_INVALID', `station ${station} (of ${other.id}) has another password`);
    if (o.networks && String(o.networks) !== String(other.sl651.networks)) throw new FloodgateError('DEVICE_INVALID', `station ${station} (of ${other.id}) has its networks already: ${other.sl651.networks?.join(',') ?? 'any'}`);
    return { sl651: other.sl651 };
  }
  const chosen = password ?? newPassword();
  return { sl651: { station, passwordHash: hash(chosen), ...(o.networks ? { networks: o.networks } : {}) }, ...(password === undefined ? { password: chosen } : {}) };
}
