/**
 * What the end-to-end benchmarks share: a police receiver that records what it verified, and
 * `floodgate up` as its own process on free ports with the demo city and load-test devices
 * provisioned, notices going to that receiver.
 */
import { createPoliceReceiver } from '../alerts/receiver/police-receiver.ts';
import { ensureProvisioned } from '../config/registry.ts';
import { provisionLoadDevices } from '../config/devices.ts';
import { systemClock } from '../lib/clock.ts';
import { createLogger } from '../lib/logger.ts';
import { freePort, startProcess, stopProcess, tempDir, waitForTcp } from '../test/helpers/servers.ts';

const BIN = new URL('../bin/floodgate.js', import.meta.url).pathname;
const SECRET = 'bench-police-secret-0123456789';

export async function startUpBench(o: { name: string; loadDevices: number; env?: Record<string, string> }) {
  const dir = tempDir(o.name);
  const police = await createPoliceReceiver({ host: '127.0.0.1', port: 0, secret: SECRET, toleranceS: 600, path: '/notices' }, { clock: systemClock, logger: createLogger({ name: 'bench', level: 'warn' }), print: () => {} });
  const [mqttPort, httpPort] = [await freePort(), await freePort()];
  await ensureProvisioned(dir.path);
  provisionLoadDevices(dir.path, o.loadDevices);
  // BENCH_UP_NODE_ARGS: e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" to profile `up` in a scenario.
  const nodeArgs = process.env['BENCH_UP_NODE_ARGS']?.split(' ').filter(Boolean) ?? [];
  const up = startProcess(process.execPath, [...nodeArgs, BIN, 'up'], {
    ...process.env,
    FLOODGATE_DATA_DIR: dir.path,
    FLOODGATE_MQTT_PORT: String(mqttPort),
    FLOODGATE_HTTP_PORT: String(httpPort),
    FLOODGATE_POLICE_URL: police.url,
    FLOODGATE_POLICE_SECRET: SECRET,
    FLOODGATE_LOG_LEVEL: 'warn',
    ...o.env,
  });
  try {
    await waitForTcp(httpPort, up.proc, up.logs, 120_000);
  } catch (err) {
    await stopProcess(up.proc);
    await police.close();
    dir.remove();
    throw err;
  }
  return {
    dir: dir.path,
    police,
    up,
    mqttPort,
    httpPort,
    async stop() {
      await stopProcess(up.proc);
      await police.close();
      dir.remove();
    },
  };
}
