/** `floodgate provision`. */
import { z } from 'zod';
import { command, flag } from './command.ts';
import { print } from '../../lib/process.ts';
import { clientEnv } from '../env.ts';
import { ensureProvisioned } from '../../config/registry.ts';

export const provision = command({
  summary: 'provision the demo city into the data dir (registry + device secrets)',
  usage: `floodgate provision [--data-dir DIR] [--load-devices N]

Writes DIR/registry.json (salted hashes only) and DIR/provisioning.json (device secrets,
mode 0600) from config/demo-city.json. Existing files are kept. docker-compose runs this once.

--load-devices N adds load-test devices LD-00001 … LD-N (rain gauges at a synthetic site
LOADTEST, flagged loadTest: stored by ingest, ignored by the rules and the console) for
floodgate sim load. Running services pick them up within a second.`,
  options: { 'data-dir': { type: 'string' }, 'load-devices': { type: 'string' } },
  flags: z.object({ 'data-dir': flag.text, 'load-devices': flag.int(1, 100_000).optional() }),
  async run(v) {
    const dir = v['data-dir'] ?? clientEnv(process.env).dataDir;
    const { files, created } = await ensureProvisioned(dir);
    print(created ? `provisioned ${files.registry} and ${files.provisioning}` : `already provisioned: ${files.registry}`);
    const n = v['load-devices'];
    if (n === undefined) return;
    const { provisionLoadDevices } = await import('../../config/devices.ts');
    const r = provisionLoadDevices(dir, n);
    print(`load-test devices: ${r.added} added, ${r.total} in the registry`);
  },
});
