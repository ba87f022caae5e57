/**
 * SL 651 stations' image reports (function 36) for the console: the files the centre writes under
 * FLOODGATE_SL651_IMAGE_DIR/<station>/<observation time>-<serial>.jpg (sl651/reports.ts), found
 * through the registry (a sensor's station). Read-only; a name is checked before it becomes a path.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { RegistryIndex } from '../config/registry.ts';
import { isoWithOffset } from '../lib/time.ts';
import { IMAGE_FILE } from '../contracts/sl651-report.ts';


export interface StationImage {
  file: string;
  /** The observation time as the station's clock wrote it (its zone: FLOODGATE_SL651_TZ). */
  observed: string;
  serial: number;
  bytes: number;
  /** When the centre wrote it. */
  receivedAt: string;
}

export interface StationImages {
  /** Newest first; undefined: no such sensor, or not an SL 651 station's. */
  list(sensorId: string): Promise<StationImage[] | undefined>;
  read(sensorId: string, file: string): Promise<Buffer | undefined>;
}

export function stationImages(dir: string, index: () => RegistryIndex): StationImages {
  const dirOf = (sensorId: string) => {
    const station = index().sensor(sensorId)?.sl651?.station;
    return station ? join(dir, station) : undefined;
  };
  return {
    async list(sensorId) {
      const d = dirOf(sensorId);
      if (!d) return undefined;
      const names = await readdir(d).catch(() => [] as string[]);
      const images = await Promise.all(
        names
          .filter((n) => IMAGE_FILE.test(n))
          .map(async (file) => {
            const [, t, serial] = IMAGE_FILE.exec(file)!;
            const st = await stat(join(d, file));
            const observed = `${t!.slice(0, 4)}-${t!.slice(4, 6)}-${t!.slice(6, 8)}T${t!.slice(9, 11)}:${t!.slice(11, 13)}:${t!.slice(13, 15)}`;
            return { file, observed, serial: Number(serial), bytes: st.size, receivedAt: isoWithOffset(st.mtimeMs) };
          }),
      );
      return images.sort((a, b) => (a.observed < b.observed ? 1 : a.observed > b.observed ? -1 : b.serial - a.serial));
    },
    async read(sensorId, file) {
      const d = dirOf(sensorId);
      if (!d || !IMAGE_FILE.test(file)) return undefined;
      return readFile(join(d, file)).catch(() => undefined);
    },
  };
}
