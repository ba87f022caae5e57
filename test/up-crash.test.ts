/**
 * `floodgate up` runs every service in one process, so a SIGKILL takes the broker down together
 * with ingest. A reading the broker acknowledged to its device must still reach the store: `up`
 * keeps the broker's sessions and queued messages on disk (LevelDB under the data directory)
 * unless FLOODGATE_BROKER_PERSISTENCE says otherwise. With the memory store the readings of the
 * last commit window (acknowledged, not yet in ingest's spool) were lost here.
 */
import { afterAll, describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import { saveRegistry } from '../config/registry.ts';
import { freePort, startProcess, stopProcess, tempDir } from './helpers/servers.ts';
import { eventually, smallCity, RECENT_HOUR } from './helpers/stack.ts';

const BIN = fileURLToPath(new URL('../bin/floodgate.js', import.meta.url));
const SENSORS = ['PD-001', 'PD-002', 'PD-003', 'PD-004', 'PD-005'];
const PER_SENSOR = 400;

describe('floodgate up killed with SIGKILL', () => {
  const dir = tempDir('up-crash');
  const procs: ChildProcess[] = [];
  afterAll(async () => {
    for (const p of procs) await stopProcess(p);
    dir.remove();
  });

  it('loses no reading the broker acknowledged, and stores each once after the restart', { timeout: 120_000 }, async () => {
    const city = await smallCity(5);
    const registryPath = join(dir.path, 'registry.json');
    saveRegistry(registryPath, city.registry);
    const [mqttPort, httpPort] = [await freePort(), await freePort()];
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      FLOODGATE_LOG_LEVEL: process.env['FLOODGATE_TEST_LOG'] ?? 'error',
      FLOODGATE_REGISTRY: registryPath,
      FLOODGATE_SERVICE_SECRET: city.provisioning.serviceSecret,
      FLOODGATE_DATA_DIR: join(dir.path, 'data'),
      FLOODGATE_MQTT_PORT: String(mqttPort),
      FLOODGATE_HTTP_PORT: String(httpPort),
      // The devices replay a backlog as fast as they can: the per-device rate limit is lifted.
      FLOODGATE_DEVICE_RATE: '10000',
      FLOODGATE_DEVICE_BURST: '100000',
    };
    delete env['FLOODGATE_BROKER_PERSISTENCE'];
    delete env['INFLUX_URL'];
    const start = async () => {
      const p = startProcess(process.execPath, [BIN, 'up'], env);
      procs.push(p.proc);
      await eventually(() => p.logs().includes('Ctrl-C stops.'), `floodgate up to start\n${p.logs()}`, 60_000);
      return p;
    };

    const first = await start();
    expect(first.logs()).toContain(`LevelDB ${join(dir.path, 'data', 'broker')}`);
    // Every device sends its readings, 16 in flight, as fast as the broker acknowledges them; the
    // process is killed the moment the last acknowledgement arrives — inside ingest's commit window.
    await Promise.all(
      SENSORS.map(async (id) => {
        const d = await mqtt.connectAsync(`mqtt://127.0.0.1:${mqttPort}`, { protocolVersion: 4, clientId: id, username: id, password: city.provisioning.sensors[id], reconnectPeriod: 0 });
        let next = 0;
        await Promise.all(
          Array.from({ length: 16 }, async () => {
            while (next < PER_SENSOR) {
              const i = next++;
              await d.publishAsync(`sensors/ponding/${id}/reading`, JSON.stringify({ ts: RECENT_HOUR + i * 1000, seq: i, depth_cm: i / 10 }), { qos: 1 });
            }
          }),
        );
        d.stream.destroy(); // no DISCONNECT: the process is about to die anyway
      }),
    );
    first.proc.kill('SIGKILL');
    await new Promise((r) => (first.proc.exitCode !== null || first.proc.signalCode !== null ? r(undefined) : first.proc.once('exit', r)));

    const second = await start();
    const storePath = join(dir.path, 'data', 'readings.db');
    const stored = () => {
      if (!existsSync(storePath)) return [];
      const db = new Database(storePath, { readonly: true });
      try {
        return db.prepare("SELECT sensor, ts FROM readings WHERE measurement = 'ponding' ORDER BY sensor, ts").all() as Array<{ sensor: string; ts: number }>;
      } finally {
        db.close();
      }
    };
    const total = SENSORS.length * PER_SENSOR;
    // Waited for, then compared whatever is there: a shortfall fails below, naming what is missing.
    await eventually(() => stored().length >= total || undefined, `${total} readings in the embedded store`, 60_000).catch(() => undefined);
    // The store's key is (measurement, sensor, ts): exactly the readings sent, none missing.
    const rows = stored();
    expect(rows.length, second.logs().slice(-2000)).toBe(total);
    for (const id of SENSORS) {
      expect(rows.filter((r) => r.sensor === id).map((r) => r.ts)).toEqual(Array.from({ length: PER_SENSOR }, (_, i) => RECENT_HOUR + i * 1000));
    }
    await stopProcess(second.proc);
    expect(second.proc.exitCode).toBe(0);
  });
});
