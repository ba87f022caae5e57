/**
 * The device registry: the city's sites and sensors, the police endpoint of each district, and the
 * salted hash of each sensor's secret. Secrets themselves live only in the provisioning file that
 * the simulators (or a device-flashing station) read; the gateway sees hashes.
 */
import { createHmac, randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync, existsSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { isIP } from 'node:net';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { SENSOR_KINDS, ID_PATTERN } from '../contracts/index.ts';
import { FloodgateError } from '../lib/errors.ts';
import { describeIssues } from '../lib/zod-issues.ts';
import { mapLimit } from '../lib/map-limit.ts';

const Id = z.string().regex(ID_PATTERN, 'ids are letters, digits, "_", "." and "-" (max 64)');

/**
 * Site facts about an underpass's closure thresholds, when the road authority fixed them for this
 * site. Unset fields take the rules file's values (rules/spec.ts, config/rules.yaml).
 */
export const UnderpassThresholds = z.object({
  closeCm: z.number().positive().optional(),
  reopenCm: z.number().nonnegative().optional(),
  closeSustainS: z.number().int().min(0).optional(),
  closeMinReadings: z.number().int().min(1).optional(),
  reopenHoldS: z.number().int().min(0).optional(),
});
export type UnderpassThresholds = z.infer<typeof UnderpassThresholds>;

/** Names become InfluxDB tag values: no control characters, no trailing backslash (line protocol cannot carry one). */
const TagSafe = z
  .string()
  .min(1)
  .max(200)
  // eslint-disable-next-line no-control-regex
  .refine((s) => !/[\u0000-\u001f\u007f]/.test(s), 'must not contain control characters (newline, tab, …)')
  .refine((s) => !s.endsWith('\\'), 'must not end with a backslash (InfluxDB line protocol cannot store it)');

export const Site = z.object({
  id: Id,
  kind: z.enum(['underpass', 'water-level-station', 'rain-station']),
  name: TagSafe,
  road: z.string().max(200).default(''),
  district: Id,
  lat: z.number().min(-90).max(90),
  lon: z.number().min(-180).max(180),
  underpass: UnderpassThresholds.optional(),
  /** Warning level for water-level stations, metres above datum. */
  warningLevelM: z.number().optional(),
});
export type Site = z.infer<typeof Site>;

/** An IPv4 or IPv6 network in CIDR form (`10.20.0.0/16`, `2001:db8::/32`) or one address. */
const Network = z.string().refine((v) => {
  const [addr, bits, ...rest] = v.split('/');
  const family = isIP(addr ?? '');
  if (family === 0 || rest.length > 0) return false;
  if (bits === undefined) return true;
  const n = Number(bits);
  return /^\d+$/.test(bits) && n <= (family === 4 ? 32 : 128);
}, 'must be an IP address or a network in CIDR form (10.20.0.0/16)');

/**
 * A sensor that reports as (part of) an SL 651-2014 telemetry station (issue 23): the station's
 * address (10 hex digits; BCD in principle, but real stations use hex digits: `00303A9006`), the
 * hash of its 4-hex-digit password, and the networks it may connect from. One station may carry a
 * rain gauge and a water-level gauge: then two sensors of different kinds name the same station,
 * with the same password hash.
 */
export const Sl651Station = z.object({
  station: z
    .string()
    .regex(/^[0-9A-Fa-f]{10}$/, 'an SL 651 station address is 10 hex digits')
    .transform((a) => a.toUpperCase()),
  /** As secretHash: set by provisioning or `floodgate devices add --sl651-station`; a station without one is refused. */
  passwordHash: z.string().optional(),
  networks: z.array(Network).min(1).max(32).optional(),
});
export type Sl651Station = z.infer<typeof Sl651Station>;

export const Sensor = z.object({
  id: Id,
  kind: z.enum(SENSOR_KINDS),
  site: Id,
  /** `sha256$salt$mac` (or `scrypt$N$r$p$salt$hash` from earlier versions), base64. Absent in the bundled city; set by provisioning. */
  secretHash: z.string().optional(),
  /** After a rotation, the old secret stays valid until `previousValidUntil` (grace period). */
  previousSecretHash: z.string().optional(),
  previousValidUntil: z.iso.datetime({ offset: true }).optional(),
  /** A revoked device is refused at once and disconnected if connected. */
  revoked: z.boolean().optional(),
  /** A load-test device (`floodgate provision --load-devices N`, `floodgate sim load`): its readings are stored like any other, the rules and the console ignore it. */
  loadTest: z.boolean().optional(),
  sl651: Sl651Station.optional(),
});
export type Sensor = z.infer<typeof Sensor>;

export const PoliceEndpoint = z.object({
  /** An URL, or `$FLOODGATE_POLICE_URL` to use the alerts service's configured default. */
  url: z.string().min(1),
  /** Name of the setting holding the HMAC secret (`FLOODGATE_POLICE_SECRET` = configured default). */
  secretRef: z.string().min(1),
});

/** Who receives a district's closure notices, each with its own secret, format and delivery record. */
export const Recipient = z.object({
  id: Id,
  name: z.string().max(100).default(''),
  /** An URL, or `$FLOODGATE_POLICE_URL`. */
  url: z.string().min(1),
  secretRef: z.string().min(1),
  /** floodgate's JSON contract (DESIGN.md) or OASIS CAP 1.2 XML. */
  format: z.enum(['json', 'cap']).default('json'),
});
export type Recipient = z.infer<typeof Recipient>;

export const District = z.object({
  id: Id,
  name: z.string().min(1),
  police: PoliceEndpoint,
  /** Several recipients (traffic police, road administration …); default: `police`, JSON. */
  recipients: z.array(Recipient).min(1).max(10).optional(),
});

/** A district's recipients: its own list, or its police endpoint with the JSON contract. */
export function recipientsOf(d: District): Recipient[] {
  return d.recipients ?? [{ id: 'police', name: 'traffic police', url: d.police.url, secretRef: d.police.secretRef, format: 'json' }];
}
export type District = z.infer<typeof District>;

/**
 * A duty officers' channel (a city operations centre's group chat or webhook): which alert
 * transitions it carries, and how (alerts/channels.ts).
 */
export const DutyChannel = z.object({
  id: Id,
  format: z.enum(['webhook', 'wecom', 'dingtalk']),
  /** The robot's or webhook's URL (a WeCom URL carries its key; a DingTalk URL its access_token). */
  url: z.url({ protocol: /^https?$/ }),
  /** Name of the setting holding the HMAC secret (webhook: floodgate signature; DingTalk: 加签 secret). WeCom needs none. */
  secretRef: z.string().min(1).optional(),
  /** Rules whose alerts it carries. */
  rules: z
    .array(z.string().min(1))
    .min(1)
    .default(['underpass-closure', 'underpass-warning', 'water-level-danger', 'district-rainstorm', 'pump-advisory', 'notice-delivery', 'ingest-spool']),
  /** Only these districts (default: all). */
  districts: z.array(Id).optional(),
  /** 1: every transition; 2: only escalations (critical alerts nobody acknowledged in time). */
  tier: z.union([z.literal(1), z.literal(2)]).default(1),
});
export type DutyChannel = z.infer<typeof DutyChannel>;

export const Registry = z
  .object({
    version: z.literal(1),
    city: z.string(),
    /** The city's name per language (the console's title); `city` where a language is missing. */
    cityNames: z.strictObject({ zh: z.string().max(100).optional(), en: z.string().max(100).optional() }).optional(),
    districts: z.array(District).min(1),
    sites: z.array(Site),
    sensors: z.array(Sensor),
    dutyChannels: z.array(DutyChannel).max(20).optional(),
  })
  .superRefine((reg, ctx) => {
    const districts = new Set(reg.districts.map((d) => d.id));
    const sites = new Map(reg.sites.map((s) => [s.id, s]));
    const seen = new Set<string>();
    reg.sites.forEach((s, i) => {
      if (!districts.has(s.district)) ctx.addIssue({ code: 'custom', path: ['sites', i, 'district'], message: `unknown district ${s.district}` });
    });
    const stations = new Map<string, Sensor>();
    reg.sensors.forEach((s, i) => {
      if (s.sl651) {
        const other = stations.get(s.sl651.station);
        if (!other) stations.set(s.sl651.station, s);
        else if (other.kind === s.kind) ctx.addIssue({ code: 'custom', path: ['sensors', i, 'sl651', 'station'], message: `SL 651 station ${s.sl651.station} already carries ${s.kind} sensor ${other.id}` });
        else if (other.sl651!.passwordHash !== s.sl651.passwordHash || String(other.sl651!.networks) !== String(s.sl651.networks))
          ctx.addIssue({ code: 'custom', path: ['sensors', i, 'sl651'], message: `SL 651 station ${s.sl651.station}: password and networks must be those of ${other.id}, the station's other sensor` });
      }
      if (seen.has(s.id)) ctx.addIssue({ code: 'custom', path: ['sensors', i, 'id'], message: `duplicate sensor id ${s.id}` });
      seen.add(s.id);
      const site = sites.get(s.site);
      if (!site) ctx.addIssue({ code: 'custom', path: ['sensors', i, 'site'], message: `unknown site ${s.site}` });
      else if (s.kind === 'ponding' && site.kind !== 'underpass')
        ctx.addIssue({ code: 'custom', path: ['sensors', i, 'site'], message: `ponding sensor ${s.id} must sit at an underpass` });
    });
  });
export type Registry = z.infer<typeof Registry>;

/** Index for the lookups services do per reading. */
export interface RegistryIndex {
  registry: Registry;
  sensor(id: string): Sensor | undefined;
  site(id: string): Site | undefined;
  district(id: string): District | undefined;
  /** The site of a sensor, for tags. */
  siteOfSensor(id: string): Site | undefined;
}

export function indexRegistry(registry: Registry): RegistryIndex {
  const sensors = new Map(registry.sensors.map((s) => [s.id, s]));
  const sites = new Map(registry.sites.map((s) => [s.id, s]));
  const districts = new Map(registry.districts.map((d) => [d.id, d]));
  return {
    registry,
    sensor: (id) => sensors.get(id),
    site: (id) => sites.get(id),
    district: (id) => districts.get(id),
    siteOfSensor: (id) => {
      const s = sensors.get(id);
      return s ? sites.get(s.site) : undefined;
    },
  };
}

export function parseRegistry(json: unknown, source: string): Registry {
  const r = Registry.safeParse(json);
  if (r.success) return r.data;
  throw new FloodgateError('REGISTRY_INVALID', `invalid registry ${source}:\n${describeIssues(r.error.issues, { list: true, max: 20 })}`, r.error.issues);
}

export function loadRegistry(path: string): Registry {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new FloodgateError('REGISTRY_INVALID', `no registry at ${path}: run \`floodgate provision --data-dir ${dirname(path)}\` first (\`floodgate up\` provisions the demo city on its first start), or point FLOODGATE_REGISTRY at yours`);
    throw new FloodgateError('REGISTRY_INVALID', `cannot read registry ${path}: ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new FloodgateError('REGISTRY_INVALID', `registry ${path} is not JSON: ${(err as Error).message}`);
  }
  return parseRegistry(json, path);
}

// ---------------------------------------------------------------------------------------------
// Secrets. Every device secret is made by floodgate (`newSecret`: 192 random bits), never chosen
// by a person, so it cannot be guessed from a dictionary and a slow password hash buys nothing:
// NIST SP 800-63B §5.1.2.2 asks for a password-hashing scheme only for secrets under 112 bits of
// entropy. A salted HMAC-SHA-256 (`sha256$salt$mac`) verifies in microseconds, so a city-wide
// reconnect storm (10,000 devices after a gateway restart) costs the gateway nothing, where
// scrypt cost ~40 ms of CPU per device (minutes for the city). Registries written by earlier
// versions hold `scrypt$N$r$p$salt$hash`; those still verify, and `hashSecret(…, { scheme:
// 'scrypt' })` still writes them.

const SCRYPT = { N: 16384, r: 8, p: 1, keyLen: 32 } as const;

function scrypt(secret: string, salt: Buffer, keyLen: number, opts: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => scryptCb(secret, salt, keyLen, opts, (err, key) => (err ? reject(err) : resolve(key))));
}

const hmac = (salt: Buffer, secret: string) => createHmac('sha256', salt).update(secret).digest();

/** The salted HMAC-SHA-256 form, synchronously (provisioning ten thousand load-test devices). */
export function hashSecretSync(secret: string): string {
  const salt = randomBytes(16);
  return ['sha256', salt.toString('base64'), hmac(salt, secret).toString('base64')].join('$');
}

export async function hashSecret(secret: string, o: { scheme?: 'sha256' | 'scrypt'; N?: number } = {}): Promise<string> {
  if ((o.scheme ?? 'sha256') === 'sha256') return hashSecretSync(secret);
  const salt = randomBytes(16);
  const N = o.N ?? SCRYPT.N;
  const key = await scrypt(secret, salt, SCRYPT.keyLen, { N, r: SCRYPT.r, p: SCRYPT.p });
  return ['scrypt', N, SCRYPT.r, SCRYPT.p, salt.toString('base64'), key.toString('base64')].join('$');
}

export async function verifySecret(secret: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length === 3 && parts[0] === 'sha256') {
    const expected = Buffer.from(parts[2]!, 'base64');
    const mac = hmac(Buffer.from(parts[1]!, 'base64'), secret);
    return mac.length === expected.length && timingSafeEqual(mac, expected);
  }
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [, n, r, p, saltB64, keyB64] = parts as [string, string, string, string, string, string];
  const expected = Buffer.from(keyB64, 'base64');
  const opts = { N: Number(n), r: Number(r), p: Number(p), maxmem: 256 * 1024 * 1024 };
  const key = await scrypt(secret, Buffer.from(saltB64, 'base64'), expected.length, opts);
  return key.length === expected.length && timingSafeEqual(key, expected);
}

export function newSecret(): string {
  return randomBytes(24).toString('base64url');
}

// ---------------------------------------------------------------------------------------------
// Provisioning: give every sensor a secret, keep only its hash in the registry.

export const Provisioning = z.object({
  version: z.literal(1),
  /** MQTT password shared by the floodgate services (username `svc-<service>`). */
  serviceSecret: z.string().min(16),
  /** sensorId → secret, for simulators and device flashing. Keep this file private. */
  sensors: z.record(z.string(), z.string()),
  /** SL 651 station address → its password (4 hex digits), for the SL 651 simulator and the stations' set-up. */
  sl651: z.record(z.string(), z.string()).optional(),
});
export type Provisioning = z.infer<typeof Provisioning>;

/** An SL 651 station password: 4 hex digits (the frame's 2 bytes), as an RTU's set-up takes it. */
export function newStationPassword(): string {
  return randomBytes(2).toString('hex').toUpperCase();
}

function stationPassword(): { password: string; hash: string } {
  const password = newStationPassword();
  return { password, hash: hashSecretSync(password) };
}

export async function provision(city: Registry): Promise<{ registry: Registry; provisioning: Provisioning }> {
  const secrets: Record<string, string> = {};
  // One password per station, shared by the station's sensors (a station carrying rain and level).
  const passwords: Record<string, { password: string; hash: string }> = {};
  const sensors = await mapLimit(city.sensors, 4, async (s) => {
    const secret = newSecret();
    secrets[s.id] = secret;
    if (s.sl651 && !s.sl651.passwordHash) {
      const station = (passwords[s.sl651.station] ??= stationPassword());
      return { ...s, secretHash: await hashSecret(secret), sl651: { ...s.sl651, passwordHash: station.hash } };
    }
    return { ...s, secretHash: await hashSecret(secret) };
  });
  const sl651 = Object.fromEntries(Object.entries(passwords).map(([station, p]) => [station, p.password]));
  return {
    registry: { ...city, sensors },
    provisioning: { version: 1, serviceSecret: newSecret(), sensors: secrets, ...(Object.keys(sl651).length > 0 ? { sl651 } : {}) },
  };
}

export const BUNDLED_CITY = join(dirname(fileURLToPath(import.meta.url)), 'demo-city.json');

export interface DataFiles {
  registry: string;
  provisioning: string;
}

export function dataFiles(dataDir: string): DataFiles {
  return { registry: join(dataDir, 'registry.json'), provisioning: join(dataDir, 'provisioning.json') };
}

export function writeAtomic(path: string, text: string, mode: number): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text, { mode });
  renameSync(tmp, path);
}

/**
 * On first start, provision the bundled city into the data dir: `registry.json` (hashes only) and
 * `provisioning.json` (secrets, mode 0600). Existing files are never overwritten.
 */
export async function ensureProvisioned(dataDir: string, cityPath = BUNDLED_CITY): Promise<{ files: DataFiles; created: boolean }> {
  const files = dataFiles(dataDir);
  if (existsSync(files.registry) && existsSync(files.provisioning)) return { files, created: false };
  if (existsSync(files.registry) !== existsSync(files.provisioning)) {
    throw new FloodgateError('REGISTRY_INVALID', `${dataDir} has only one of registry.json and provisioning.json; restore the other or remove both to provision anew`);
  }
  const city = loadRegistry(cityPath);
  const { registry, provisioning } = await provision(city);
  mkdirSync(dataDir, { recursive: true });
  writeAtomic(files.provisioning, JSON.stringify(provisioning, null, 2) + '\n', 0o600);
  writeAtomic(files.registry, JSON.stringify(registry, null, 2) + '\n', 0o644);
  return { files, created: true };
}

/** Write a registry atomically (temp file + rename): a running gateway never reads half a file. */
export function saveRegistry(path: string, registry: Registry): void {
  writeAtomic(path, JSON.stringify(Registry.parse(registry), null, 2) + '\n', 0o644);
}

export function loadProvisioning(path: string): Provisioning {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new FloodgateError('REGISTRY_INVALID', `no provisioning file at ${path}: run \`floodgate provision --data-dir ${dirname(path)}\` first, or set FLOODGATE_SERVICE_SECRET`);
    throw new FloodgateError('REGISTRY_INVALID', `cannot read provisioning file ${path}: ${(err as Error).message}`);
  }
  const r = Provisioning.safeParse(json);
  if (!r.success) throw new FloodgateError('REGISTRY_INVALID', `invalid provisioning file ${path}: ${describeIssues(r.error.issues, { max: 3 })}`);
  return r.data;
}

