/**
 * `floodgate devices add … --sl651-station` against a running centre that follows the registry
 * file: the password shown once lets the station report at once; a second sensor joins the
 * station with its password; a wrong one is refused with DEVICE_INVALID.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createGateway, type GatewayHandle } from '../../gateway/gateway.ts';
import { gatewayConfig } from '../../gateway/config.ts';
import { createSl651, type Sl651Handle } from '../sl651.ts';
import { sl651Config } from '../config.ts';
import { createMetricsRegistry } from '../../lib/metrics.ts';
import { systemClock } from '../../lib/clock.ts';
import { watchRegistry } from '../../config/watch-registry.ts';
import { saveRegistry } from '../../config/registry.ts';
import { eventually, smallCity, testLogger } from '../../test/helpers/stack.ts';
import { tempDir } from '../../test/helpers/servers.ts';
import { encodeFrame } from '../../contracts/sl651-frame.ts';
import { encodeReport } from '../../contracts/sl651-report.ts';
import { openRtuLink } from '../../simulators/sl651-rtu.ts';

const BIN = fileURLToPath(new URL('../../bin/floodgate.js', import.meta.url));
const run = promisify(execFile);
const STATION = '00303A9006';

describe('floodgate devices add --sl651-station with a running centre', () => {
  const dir = tempDir('devices-sl651');
  const registryPath = join(dir.path, 'registry.json');
  let gw: GatewayHandle;
  let centre: Sl651Handle;
  let watch: { close(): Promise<void> };
  const cli = (...args: string[]) => run(process.execPath, [BIN, 'devices', ...args, '--registry', registryPath]);

  /** A 32 report from the station with `password`: answered (the serial back) or refused (the link closed). */
  async function tryReport(password: string): Promise<'answered' | 'refused'> {
    const rtu = await openRtuLink('127.0.0.1', centre.port);
    const t = { y: 2026, mo: 12, d: 7, h: 10, mi: 0, s: 0 };
    rtu.send(encodeFrame({ direction: 'up', centre: '01', station: STATION, password, func: 0x32, body: encodeReport({ serial: 5, sent: t, station: STATION, category: '48', at: t, elements: [['39', 2.5]] }), end: 'ETX' }));
    const outcome = await rtu.reply(30_000).then(
      () => 'answered' as const,
      () => 'refused' as const,
    );
    rtu.close();
    return outcome;
  }

  beforeAll(async () => {
    const city = await smallCity(1);
    saveRegistry(registryPath, city.registry);
    gw = await createGateway(gatewayConfig(), { logger: testLogger, metrics: createMetricsRegistry(), registry: city.registry, serviceSecret: city.provisioning.serviceSecret, clock: systemClock });
    centre = await createSl651(sl651Config({ mqttUrl: `mqtt://127.0.0.1:${gw.port}` }), { logger: testLogger, metrics: createMetricsRegistry(), registry: city.registry, serviceSecret: city.provisioning.serviceSecret, clock: systemClock });
    watch = watchRegistry(registryPath, (r) => centre.updateRegistry(r), testLogger, 100);
  });
  afterAll(async () => {
    await watch?.close();
    await centre?.close();
    await gw?.close();
    dir.remove();
  });

  it('add prints the new station\'s password once; the station reports with it as soon as the centre reads the file', async () => {
    expect(await tryReport('1234')).toBe('refused');
    const { stdout } = await cli('add', 'WL-900', '--kind', 'water-level', '--site', 'WS-001', '--sl651-station', STATION.toLowerCase());
    const password = /password ([0-9A-F]{4}) \(shown once/.exec(stdout)?.[1];
    expect(password, stdout).toBeDefined();
    const file = readFileSync(registryPath, 'utf8');
    expect(file).toContain(`"station": "${STATION}"`);
    expect(file).not.toContain(`"${password}"`);
    await eventually(async () => (await tryReport(password!)) === 'answered', 'the centre to admit the new station');
  });

  it('a second sensor joins the station with its password; another password is refused with DEVICE_INVALID', async () => {
    const wrong = await cli('add', 'RG-900', '--kind', 'rain', '--site', 'RS-001', '--sl651-station', STATION, '--sl651-password', '0000').then(
      () => '',
      (e: { stderr: string }) => e.stderr,
    );
    expect(wrong).toContain('DEVICE_INVALID');
    const { stdout } = await cli('add', 'RG-900', '--kind', 'rain', '--site', 'RS-001', '--sl651-station', STATION);
    expect(stdout).toContain(`SL 651 station ${STATION}: reports with the station's password`);
    const { stdout: list } = await cli('list', '--json');
    const rows = JSON.parse(list) as Array<{ id: string; sl651?: { station: string } }>;
    expect(rows.filter((r) => r.sl651?.station === STATION).map((r) => r.id)).toEqual(['WL-900', 'RG-900']);
    expect(list).not.toContain('passwordHash');
  });
});
