import { watchFile, unwatchFile } from 'node:fs';
import { loadRegistry, type Registry } from './registry.ts';
import type { Logger } from '../lib/logger.ts';

/**
 * Reload a file when it changes (polling: robust to editors and atomic renames). A broken file is
 * refused with a clear error and what is in force stays in force.
 */
export function watchAndReload<T>(
  path: string,
  what: string,
  load: (path: string) => T,
  onChange: (value: T) => void,
  logger: Logger,
  opts: { intervalMs?: number; onRefused?: (err: Error) => void } = {},
): { close(): Promise<void> } {
  const listener = (curr: { mtimeMs: number }, prev: { mtimeMs: number }) => {
    if (curr.mtimeMs === prev.mtimeMs) return;
    let value: T;
    try {
      value = load(path);
    } catch (err) {
      logger.error({ path, err: (err as Error).message }, `${what} change refused; what was in force stays in force`);
      opts.onRefused?.(err as Error);
      return;
    }
    onChange(value);
  };
  watchFile(path, { interval: opts.intervalMs ?? 1000 }, listener);
  return { close: async () => unwatchFile(path, listener) };
}

export function watchRegistry(path: string, onChange: (r: Registry) => void, logger: Logger, intervalMs = 1000): { close(): Promise<void> } {
  return watchAndReload(path, 'registry', loadRegistry, onChange, logger, { intervalMs });
}
