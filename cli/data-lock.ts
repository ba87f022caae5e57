/**
 * One floodgate per data directory. Two `floodgate up` on one directory share its LevelDB broker
 * store and SQLite files; the second one used to die with "Iterator is not open" from deep inside
 * LevelDB. A pid file, created exclusively, says who holds the directory; one left by a process
 * that is gone (killed, crashed) is taken over.
 */
import { mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FloodgateError } from '../lib/errors.ts';

function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // exists, another user's
  }
}

export function lockDataDir(dir: string): { release(): void } {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'floodgate.pid');
  for (;;) {
    try {
      writeFileSync(path, `${process.pid}\n`, { flag: 'wx', mode: 0o644 });
      return {
        release() {
          try {
            if (readFileSync(path, 'utf8').trim() === String(process.pid)) unlinkSync(path);
          } catch {
            // already gone
          }
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = Number(readFileSync(path, 'utf8').trim());
    if (alive(holder)) throw new FloodgateError('DATA_DIR_LOCKED', `another floodgate (pid ${holder}) is using the data directory ${dir}; stop it first, or give this one its own FLOODGATE_DATA_DIR`);
    unlinkSync(path); // left by a process that is gone
  }
}
