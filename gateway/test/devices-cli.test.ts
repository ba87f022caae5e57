/**
 * `floodgate devices` against a running gateway that watches its registry file: add shows a
 * secret once that works at once; rotate keeps the old one valid; revoke disconnects; a broken
 * registry file is refused and the previous registry stays in force.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt, { type MqttClient } from 'mqtt';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createGateway, type GatewayHandle } from '../gateway.ts';
import { gatewayConfig } from '../config.ts';
import { createMetricsRegistry } from '../../lib/metrics.ts';
import { systemClock } from '../../lib/clock.ts';
import { watchRegistry } from '../../config/watch-registry.ts';
import { saveRegistry } from '../../config/registry.ts';
import { createLogger } from '../../lib/logger.ts';
import { eventually, smallCity } from '../../test/helpers/stack.ts';
import { tempDir } from '../../test/helpers/servers.ts';
import { Writable } from 'node:stream';

const BIN = fileURLToPath(new URL('../../bin/floodgate.js', import.meta.url));
const run = promisify(execFile);

describe('floodgate devices with a running gateway', () => {
  const dir = tempDir('devices');
  const registryPath = join(dir.path, 'registry.json');
  let gw: GatewayHandle;
  let watch: { close(): Promise<void> };
  let url: string;
  const logLines: string[] = [];

  const cli = async (...args: string[]) => (await run(process.execPath, [BIN, 'devices', ...args, '--registry', registryPath])).stdout;
  const secretFrom = (out: string) => out.split('\n')[1]!.trim();
  const connect = (id: string, password: string) =>
    mqtt.connectAsync(url, { protocolVersion: 4, clientId: id, username: id, password, reconnectPeriod: 0, connectTimeout: 5000 });
  const attempt = (id: string, password: string) => connect(id, password).then((c: MqttClient) => (c.end(), 'ok'), (e: { code?: number }) => `refused ${e.code}`);

  beforeAll(async () => {
    const city = await smallCity(1);
    saveRegistry(registryPath, city.registry);
    const logger = createLogger({ level: 'info', destination: new Writable({ write: (c, _e, cb) => (logLines.push(String(c)), cb()) }) });
    gw = await createGateway(gatewayConfig(), { logger, metrics: createMetricsRegistry(), registry: city.registry, serviceSecret: city.provisioning.serviceSecret, clock: systemClock });
    watch = watchRegistry(registryPath, (r) => gw.updateRegistry(r), logger, 100);
    url = `mqtt://127.0.0.1:${gw.port}`;
  });
  afterAll(async () => {
    await watch?.close();
    await gw?.close();
    dir.remove();
  });

  it('add → the new device connects with the secret shown once; the file holds only a hash', async () => {
    const out = await cli('add', 'PD-900', '--kind', 'ponding', '--site', 'UP-001');
    const secret = secretFrom(out);
    expect(secret).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(readFileSync(registryPath, 'utf8')).not.toContain(secret);
    expect(await eventually(async () => ((await attempt('PD-900', secret)) === 'ok' ? 'ok' : undefined), 'the gateway to pick up the new device')).toBe('ok');
  });

  it('rotate → old and new secret both work during the grace period', async () => {
    const first = secretFrom(await cli('add', 'PD-901', '--kind', 'ponding', '--site', 'UP-001'));
    await eventually(async () => (await attempt('PD-901', first)) === 'ok', 'PD-901 known');
    const second = secretFrom(await cli('rotate', 'PD-901', '--grace-s', '600'));
    await eventually(async () => (await attempt('PD-901', second)) === 'ok', 'the new secret accepted');
    expect(await attempt('PD-901', first)).toBe('ok');
    expect(await attempt('PD-901', 'neither')).toBe('refused 4');
    // Rotation without grace: the previous secret stops working at once.
    const third = secretFrom(await cli('rotate', 'PD-901', '--grace-s', '0'));
    await eventually(async () => (await attempt('PD-901', third)) === 'ok', 'the third secret accepted');
    expect(await attempt('PD-901', second)).toBe('refused 4');
  });

  it('revoke → a connected device is disconnected and refused afterwards', async () => {
    const secret = secretFrom(await cli('add', 'PD-902', '--kind', 'ponding', '--site', 'UP-001'));
    const dev = await eventually(() => connect('PD-902', secret).catch(() => undefined), 'PD-902 connected');
    const gone = new Promise<void>((resolve) => dev.once('close', () => resolve()));
    expect(await cli('revoke', 'PD-902')).toContain('revoked');
    await gone;
    expect(await attempt('PD-902', secret)).toBe('refused 5');
    expect(await cli('list', '--kind', 'ponding')).toMatch(/PD-902\s+ponding\s+UP-001\s+revoked/);
  });

  it('a broken registry file is refused; the previous registry stays in force', async () => {
    const secret = secretFrom(await cli('add', 'PD-903', '--kind', 'ponding', '--site', 'UP-001'));
    await eventually(async () => (await attempt('PD-903', secret)) === 'ok', 'PD-903 known');
    writeFileSync(registryPath, '{ "version": 1, "sensors": [ broken');
    await eventually(() => logLines.some((l) => l.includes('registry change refused')), 'the refusal in the log');
    expect(await attempt('PD-903', secret)).toBe('ok');
  });
});
