import { watchFile, unwatchFile } from 'node:fs';
import { loadRegistry, type Registry } from '../config/registry.ts';
import type { Logger } from './logger.ts';

/**
 * Reload the registry when its file changes (polling: robust to editors and atomic renames). A
 * broken file is refused with a clear error and the registry in force stays in force.
 */
export function watchRegistry(path: string, onChange: (r: Registry) => void, logger: Logger, intervalMs = 1000): { close(): Promise<void> } {
  const listener = (curr: { mtimeMs: number }, prev: { mtimeMs: number }) => {
    if (curr.mtimeMs === prev.mtimeMs) return;
    try {
      onChange(loadRegistry(path));
    } catch (err) {
      logger.error({ path, err: (err as Error).message }, 'registry change refused; the previous registry stays in force');
    }
  };
  watchFile(path, { interval: intervalMs }, listener);
  return { close: async () => unwatchFile(path, listener) };
}
