/**
 * `--record FILE`: every message a simulator sends, one NDJSON line `{topic, payload}` each —
 * the form `floodgate backtest` and `floodgate sim replay` read. Buffered by a write stream; a
 * write error (disk full) surfaces on close instead of being lost.
 */
import { createWriteStream } from 'node:fs';

export interface Recorder {
  write: (line: string) => void;
  close: () => Promise<void>;
}

export function openRecorder(path: string | undefined): Recorder | undefined {
  if (!path) return undefined;
  const out = createWriteStream(path, { flags: 'w' });
  let failure: Error | undefined;
  out.on('error', (err) => (failure ??= err));
  return {
    write: (line) => {
      out.write(line + '\n');
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        out.end(() => (failure ? reject(new Error(`--record ${path}: ${failure.message}`)) : resolve()));
      }),
  };
}
