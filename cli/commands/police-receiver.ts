/** `floodgate police-receiver`. */
import { z } from 'zod';
import { command, flag } from './command.ts';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { print, closeOnSignal } from '../../lib/process.ts';
import { clientEnv } from '../env.ts';
import { createLogger } from '../../lib/logger.ts';
import { systemClock } from '../../lib/clock.ts';
import { readOrCreateSecretFile } from '../../lib/secret-file.ts';

export const policeReceiver = command({
  summary: 'a traffic-police endpoint for integration: verifies and prints notices',
  usage: `floodgate police-receiver [--port P] [--secret-file PATH] [options]

Listens for closure/reopen notices, verifies X-Floodgate-Signature (HMAC-SHA256 over
"timestamp.body") and the timestamp, answers 200 and prints one JSON line per notice on stdout.
A bad signature gets 401 and a log line on stderr. What it accepted is kept in
DATA_DIR/police-receiver.db: the same notice again is answered 200 as a duplicate (not printed
twice), and a notice older than one accepted for the same underpass (a lower sequence, or a lower
epoch: an alerts instance that no longer leads) is refused with 409, after a restart too.

Options:
  --port P          default 9090
  --host H          default 127.0.0.1
  --secret-file PATH  the HMAC secret, read from this file; default $FLOODGATE_POLICE_SECRET,
                    else DATA_DIR/police.secret (created if missing, the same file floodgate up
                    uses). Never on the command line: every user of the machine sees it in ps.
  --path PATH       default /notices
  --tolerance S     accepted clock skew in seconds, default 300
  --data-dir DIR    default $FLOODGATE_DATA_DIR or ./data`,
  options: {
    port: { type: 'string', default: '9090' },
    host: { type: 'string', default: '127.0.0.1' },
    secret: { type: 'string' },
    'secret-file': { type: 'string' },
    path: { type: 'string', default: '/notices' },
    tolerance: { type: 'string', default: '300' },
    'data-dir': { type: 'string' },
  },
  flags: z.object({ port: flag.port, host: z.string().min(1), secret: z.never({ error: 'would show the secret to every user of this machine in ps: use --secret-file PATH or $FLOODGATE_POLICE_SECRET' }).optional(), 'secret-file': flag.text, path: z.string().startsWith('/', 'must start with /'), tolerance: flag.int(1, 86_400), 'data-dir': flag.text }),
  async run(v) {
    const logger = createLogger({ name: 'police-receiver', destination: process.stderr });
    const dir = v['data-dir'] ?? clientEnv(process.env).dataDir;
    let secret = v['secret-file'] ? readFileSync(v['secret-file'], 'utf8').trim() : process.env['FLOODGATE_POLICE_SECRET'];
    if (v['secret-file'] && !secret) throw new Error(`--secret-file ${v['secret-file']}: the file is empty`);
    if (!secret) {
      const path = join(dir, 'police.secret');
      secret = readOrCreateSecretFile(path).secret;
      logger.info({ path }, 'using the police HMAC secret from file');
    }
    const { createPoliceReceiver } = await import('../../alerts/receiver/police-receiver.ts');
    const handle = await createPoliceReceiver(
      { host: v.host, port: v.port, secret, path: v.path, toleranceS: v.tolerance, stateFile: join(dir, 'police-receiver.db') },
      { clock: systemClock, logger, print },
    );
    logger.info({ url: handle.url }, 'police receiver listening');
    await closeOnSignal([handle], logger);
  },
});
