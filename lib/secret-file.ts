import { randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Read a generated secret from `path`, creating it (mode 0600) on first use. Creation is atomic
 * and race-free (write a temp file, then link(2), which fails if the name exists), so two
 * processes started together agree on one secret.
 */
export function readOrCreateSecretFile(path: string): { secret: string; created: boolean } {
  try {
    return { secret: readFileSync(path, 'utf8').trim(), created: false };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}`;
  writeFileSync(tmp, randomBytes(24).toString('base64url') + '\n', { mode: 0o600 });
  let created = true;
  try {
    linkSync(tmp, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    created = false;
  } finally {
    unlinkSync(tmp);
  }
  return { secret: readFileSync(path, 'utf8').trim(), created };
}
