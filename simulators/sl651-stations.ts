/**
 * A scenario's rain and water-level gauges as SL 651 telemetry stations (`floodgate sim
 * --protocol sl651`, issue 23 §7): each station a TCP client that encodes its readings as 32
 * timed reports (rain as 22, 5-minute rain, or 1A for an hour; level as 39; battery as 38) and
 * waits for the centre's reply, as an RTU does: 20 s, then the same frame again, three times
 * (the copies are the centre's to drop). A malformed message of the scenario goes out as a frame
 * with a broken CRC, which the centre must refuse; a wrong-login fault reports with a wrong
 * password, which it must refuse by closing the link.
 */
import { encodeFrame, wallTimeOf, type FrameFields } from '../contracts/sl651-frame.ts';
import { encodeReport, type WallTime } from '../contracts/sl651-report.ts';
import { parseReadingPayload, type Reading } from '../contracts/index.ts';
import type { Provisioning, Registry } from '../config/registry.ts';
import type { Clock } from '../lib/clock.ts';
import type { Send } from './faults.ts';
import { paced, type SendSummary } from './replay.ts';
import { openRtuLink, type RtuLink } from './sl651-rtu.ts';

/** An RTU waits this long for the centre's reply, and sends a report this many times in all. */
export const RTU_REPLY_TIMEOUT_MS = 20_000;
export const RTU_TRIES = 4;
/** The demo city's stations keep China Standard Time (the centre's FLOODGATE_SL651_TZ default). */
const OFFSET_MS = 8 * 3_600_000;

export const wallOf = (ms: number): WallTime => wallTimeOf(ms + OFFSET_MS);

/** The elements a reading becomes, or undefined if SL 651 cannot carry it (a level below the datum). */
export function elementsOf(r: Reading): Array<[string, number]> | undefined {
  const battery: Array<[string, number]> = r.fields['battery_v'] !== undefined ? [['38', r.fields['battery_v']]] : [];
  if (r.kind === 'water-level') return r.fields['level_m']! < 0 ? undefined : [['39', r.fields['level_m']!], ...battery];
  if (r.kind === 'rain') return [[r.fields['interval_s'] === 3600 ? '1A' : '22', r.fields['rain_mm']!], ...battery];
  return undefined;
}

interface StationSim {
  address: string;
  password: string;
  serial: number;
  link: RtuLink | undefined;
  /** Reports go out one at a time, each after the last one's reply. */
  chain: Promise<void>;
}

export interface StationDeps {
  registry: Registry;
  provisioning: Provisioning;
  clock: Clock;
}

async function linkOf(st: StationSim, o: { host: string; port: number }): Promise<RtuLink> {
  if (st.link && !st.link.isClosed()) return st.link;
  st.link = await openRtuLink(o.host, o.port);
  return st.link;
}

/** Send one report and wait for its reply; again after a silence, as an RTU does. */
async function report(st: StationSim, fields: Omit<FrameFields, 'centre' | 'station' | 'password' | 'direction' | 'end'>, o: { host: string; port: number }): Promise<void> {
  const frame = encodeFrame({ direction: 'up', centre: '01', station: st.address, password: st.password, end: 'ETX', ...fields });
  let last: unknown;
  for (let attempt = 0; attempt < RTU_TRIES; attempt++) {
    try {
      const link = await linkOf(st, o);
      link.send(frame);
      await link.reply(RTU_REPLY_TIMEOUT_MS);
      return;
    } catch (err) {
      last = err;
    }
  }
  throw last instanceof Error ? last : new Error('no reply');
}

/** Does the centre answer a report sent with a wrong password? (It must close the link instead.) */
async function wrongLogin(st: StationSim, o: { host: string; port: number }, clock: Clock, k: number): Promise<boolean> {
  const link = await openRtuLink(o.host, o.port);
  const wrong = ((parseInt(st.password, 16) + 1 + k) % 0x10000).toString(16).toUpperCase().padStart(4, '0');
  const now = wallOf(clock.now());
  link.send(encodeFrame({ direction: 'up', centre: '01', station: st.address, password: wrong, func: 0x30, body: encodeReport({ serial: 0, sent: now, station: st.address, category: '50', at: now, elements: [] }), end: 'ETX' }));
  const answered = await link.reply(RTU_REPLY_TIMEOUT_MS).then(
    () => true,
    () => false,
  );
  link.close();
  return answered;
}

/** The job for one of the scenario's messages: its readings as reports, or a broken frame for a malformed one. */
function jobOf(s: Send, st: StationSim, o: { host: string; port: number }, clock: Clock): () => Promise<void> {
  const parsed = parseReadingPayload(s.kind, s.sensorId, s.payload);
  return async () => {
    if (parsed.readings.length === 0) {
      // Noise on the line: the same header with a CRC that does not match; nothing comes back.
      const now = wallOf(clock.now());
      const frame = encodeFrame({ direction: 'up', centre: '01', station: st.address, password: st.password, func: 0x32, body: encodeReport({ serial: st.serial, sent: now, station: st.address, category: '50', at: now, elements: [] }), end: 'ETX' });
      frame[frame.length - 1]! ^= 0xff;
      (await linkOf(st, o)).send(frame);
      return;
    }
    for (const r of parsed.readings) {
      const elements = elementsOf(r);
      if (!elements) continue;
      st.serial = (st.serial % 0xffff) + 1;
      const body = encodeReport({ serial: st.serial, sent: wallOf(clock.now()), station: st.address, category: r.kind === 'rain' ? '50' : '48', at: wallOf(r.ts), elements });
      await report(st, { func: 0x32, body }, o);
    }
  };
}

/** `sends` of SL 651 sensors as their stations, paced by simulated time as the MQTT devices are. */
export async function sendAsStations(sends: Send[], wrongLogins: Map<string, number>, o: { host: string; port: number; speed: number }, deps: StationDeps): Promise<Omit<SendSummary, 'simulatedMin' | 'wallMs'>> {
  const stationOf = new Map<string, StationSim>();
  const byAddress = new Map<string, StationSim>();
  for (const s of deps.registry.sensors) {
    const password = s.sl651 && deps.provisioning.sl651?.[s.sl651.station];
    if (!s.sl651 || !password) continue;
    const st = byAddress.get(s.sl651.station) ?? { address: s.sl651.station, password, serial: 0, link: undefined, chain: Promise.resolve() };
    byAddress.set(st.address, st);
    stationOf.set(s.id, st);
  }
  let refusedLogins = 0;
  let acceptedWrongLogins = 0;
  try {
    for (const [id, n] of wrongLogins) {
      const st = stationOf.get(id);
      for (let k = 0; st && k < n; k++) {
        if (await wrongLogin(st, o, deps.clock, k)) acceptedWrongLogins++;
        else refusedLogins++;
      }
    }
    const sent = await paced(sends, o.speed, (s) => {
      const st = stationOf.get(s.sensorId);
      if (!st) return undefined;
      // Two sensors of one station share its link: their reports queue on the station.
      const job = jobOf(s, st, o, deps.clock);
      return () => (st.chain = st.chain.then(job, job));
    });
    return { sensors: new Set(sends.map((x) => x.sensorId).filter((id) => stationOf.has(id))).size, ...sent, refusedLogins, acceptedWrongLogins };
  } finally {
    for (const st of byAddress.values()) st.link?.close();
  }
}

/** The sensors that report over SL 651 in this registry and provisioning (the others stay on MQTT). */
export function sl651Sensors(registry: Registry, provisioning: Provisioning): Set<string> {
  return new Set(registry.sensors.filter((s) => s.sl651 && provisioning.sl651?.[s.sl651.station]).map((s) => s.id));
}
