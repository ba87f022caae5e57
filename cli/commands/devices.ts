/** `floodgate devices`. */
import { z } from 'zod';
import { command, flag } from './command.ts';
import { print } from '../../lib/process.ts';
import { clientEnv } from '../env.ts';
import { dataFiles, loadRegistry } from '../../config/registry.ts';
import { SENSOR_KINDS } from '../../contracts/index.ts';

export const devices = command({
  summary: 'add, rotate, revoke and list devices in the registry',
  usage: `floodgate devices <add|rotate|revoke|list> [options]

  floodgate devices add ID --kind KIND --site SITE   a new device; its secret is printed once
      [--sl651-station ADDR [--sl651-password HEX4] [--sl651-networks CIDR,…]]
                                                      … that also reports as (part of) an SL 651
                                                      station: its 10-hex-digit address; a new
                                                      station's password is printed once unless given
  floodgate devices rotate ID [--grace-s S]           a new secret; the old one stays valid S seconds (default 86400)
  floodgate devices revoke ID                         refused at once; a connected device is disconnected
  floodgate devices list [--kind KIND] [--json]

Only a salted hash of a secret is stored. A running gateway picks up the change within a
second (a broken registry file is refused and the previous one stays in force).

Options:
  --registry PATH   default $FLOODGATE_REGISTRY or DATA_DIR/registry.json
  --data-dir DIR    default $FLOODGATE_DATA_DIR or ./data`,
  positionals: true,
  options: {
    kind: { type: 'string' },
    site: { type: 'string' },
    'grace-s': { type: 'string', default: '86400' },
    json: { type: 'boolean', default: false },
    'sl651-station': { type: 'string' },
    'sl651-password': { type: 'string' },
    'sl651-networks': { type: 'string' },
    registry: { type: 'string' },
    'data-dir': { type: 'string' },
  },
  flags: z.object({
    'sl651-station': z.string().regex(/^[0-9A-Fa-f]{10}$/, 'must be the station\'s address: 10 hex digits').optional(),
    'sl651-password': z.string().regex(/^[0-9A-Fa-f]{4}$/, 'must be 4 hex digits').optional(),
    'sl651-networks': z
      .string()
      .transform((v) => v.split(',').map((n) => n.trim()).filter(Boolean))
      .optional(),
    kind: z.enum(SENSOR_KINDS, { error: `must be one of ${SENSOR_KINDS.join(', ')}` }).optional(), site: flag.text, 'grace-s': flag.int(0, 365 * 86_400), json: flag.on, registry: flag.text, 'data-dir': flag.text }),
  async run(v, positionals) {
    const { addDevice, rotateDevice, revokeDevice, deviceState, stationFor } = await import('../../config/devices.ts');
    const { hashSecret, hashSecretSync, newSecret, newStationPassword, saveRegistry, verifySecret } = await import('../../config/registry.ts');
    const dir = v['data-dir'] ?? clientEnv(process.env).dataDir;
    const path = v.registry ?? clientEnv(process.env).registry ?? dataFiles(dir).registry;
    const [action, id, ...extra] = positionals;
    if (extra.length > 0) throw new Error(`unexpected arguments: ${extra.join(' ')}`);
    const registry = loadRegistry(path);
    const needId = () => {
      if (!id) throw new Error(`floodgate devices ${action} needs a device id`);
      return id;
    };
    const showSecret = (sensorId: string, secret: string) => {
      print(`${sensorId}: new secret (shown once; only its hash is stored):`);
      print(secret);
    };
    if (action === 'list') {
      const kind = v.kind;
      const rows = registry.sensors.filter((s) => !kind || s.kind === kind);
      const now = Date.now();
      if (v['json']) print(JSON.stringify(rows.map(({ secretHash: _h, previousSecretHash: _p, sl651, ...s }) => ({ ...s, ...(sl651 ? { sl651: { station: sl651.station, ...(sl651.networks ? { networks: sl651.networks } : {}) } } : {}), state: deviceState(s, now) }))));
      else for (const s of rows) print(`${s.id.padEnd(10)} ${s.kind.padEnd(12)} ${s.site.padEnd(10)} ${deviceState(s, now)}${s.sl651 ? `  SL 651 station ${s.sl651.station}` : ''}`);
      return;
    }
    if (action === 'add') {
      const { kind, site } = v;
      if (!kind) throw new Error(`--kind is required: one of ${SENSOR_KINDS.join(', ')}`);
      if (!site) throw new Error('--site is required');
      if ((v['sl651-password'] || v['sl651-networks']) && !v['sl651-station']) throw new Error('--sl651-password and --sl651-networks go with --sl651-station');
      const station = v['sl651-station']
        ? await stationFor(registry, v['sl651-station'], { password: v['sl651-password'], networks: v['sl651-networks'] }, verifySecret, hashSecretSync, newStationPassword)
        : undefined;
      const secret = newSecret();
      saveRegistry(path, addDevice(registry, { id: needId(), kind, site, ...(station ? { sl651: station.sl651 } : {}) }, await hashSecret(secret)));
      showSecret(needId(), secret);
      if (station?.password) print(`SL 651 station ${station.sl651.station}: password ${station.password} (shown once; set it in the station; only its hash is stored)`);
      else if (station) print(`SL 651 station ${station.sl651.station}: reports with the station's password`);
      return;
    }
    if (action === 'rotate') {
      const grace = v['grace-s'];
      const secret = newSecret();
      saveRegistry(path, rotateDevice(registry, needId(), await hashSecret(secret), Date.now(), grace));
      showSecret(needId(), secret);
      if (grace > 0) print(`the previous secret stays valid for ${grace} s`);
      return;
    }
    if (action === 'revoke') {
      saveRegistry(path, revokeDevice(registry, needId()));
      print(`${needId()}: revoked`);
      return;
    }
    throw new Error(`floodgate devices: unknown action ${JSON.stringify(action ?? '')}; use add, rotate, revoke or list`);
  },
});
