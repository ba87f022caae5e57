/**
 * What the centre does with a station's complete report: decode it, drop a copy (a retry: same
 * station, function, serial and observation time), publish its readings as the station's sensors
 * would over MQTT (QoS 1: resolved when the gateway acknowledged them, which it does once they
 * are stored), write an image report to a file, and say whether to answer.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { topics } from '../contracts/index.ts';
import { compactWallTime, decodeReport, imageFileName, type Sl651Report } from '../contracts/sl651-report.ts';
import { decodeAsciiReport } from '../contracts/sl651-ascii.ts';
import type { MqttClient } from '../lib/mqtt.ts';
import type { Logger } from '../lib/logger.ts';
import { RecentKeys } from '../lib/recent-keys.ts';
import type { Sl651Config } from './config.ts';
import type { Station } from './stations.ts';
import { mapReport, type MappedReport } from './readings.ts';
import type { ReportOutcome } from './link.ts';
import type { Sl651Metrics } from './metrics.ts';

/** Report functions a station sends on its own and a centre answers [SL 651-2014 Table 6]: 30 test … 36 image. */
const ANSWERED = new Set([0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36]);
/** Functions whose values are readings (the answered ones but test, manual and image; and the answers to a centre's queries: 37, 38, 3A). */
const WITH_READINGS = new Set([0x31, 0x32, 0x33, 0x34, 0x37, 0x38, 0x3a]);
/** Readings already published, by sensor and time: the copies a station's retries and overlapping reports (a 32's 22 and a 34's F4) bring. */
const REMEMBERED_READINGS = 200_000;
const REMEMBERED_REPORTS = 50_000;


export function createReportHandler(o: { config: Sl651Config; m: Sl651Metrics; mqtt: MqttClient }): (station: Station, func: number, body: Buffer, log: Logger, mode: 'hex' | 'ascii') => Promise<ReportOutcome> {
  const { config, m, mqtt } = o;
  const published = new RecentKeys<string>(REMEMBERED_READINGS);
  const answered = new RecentKeys<string>(REMEMBERED_REPORTS);
  const totals = new Map<string, MappedReport['total']>();

  async function publishReadings(station: Station, mapped: MappedReport): Promise<void> {
    await Promise.all(
      mapped.readings.map(async (r) => {
        const fresh = r.items.filter((i) => !published.has(`${r.sensorId}@${i['ts']}`));
        m.duplicates.inc({ what: 'reading' }, r.items.length - fresh.length);
        if (fresh.length === 0) return;
        await mqtt.publishAsync(topics.reading(r.kind, r.sensorId), JSON.stringify(fresh.length === 1 ? fresh[0] : fresh), { qos: 1 });
        for (const i of fresh) published.add(`${r.sensorId}@${i['ts']}`);
        m.readings.inc({ kind: r.kind }, fresh.length);
      }),
    );
    totals.set(station.address, mapped.total);
  }

  async function saveImage(station: Station, report: Sl651Report, body: Buffer): Promise<void> {
    const at = body.indexOf(Buffer.from([0xf3, 0xf3]), 8);
    if (at < 0) return;
    const dir = join(config.imageDir, station.address);
    await mkdir(dir, { recursive: true });
    const obs = report.observed ?? report.sent;
    await writeFile(join(dir, imageFileName(obs, report.serial)), body.subarray(at + 2));
    m.images.inc();
  }

  return async function report(station, func, body, flog, mode) {
    const silent = { reply: false };
    if (!ANSWERED.has(func) && !WITH_READINGS.has(func)) return silent; // answers to commands a centre sends: not ours to answer
    const decoded = mode === 'ascii' ? decodeAsciiReport(body) : decodeReport(func, body);
    if ('problem' in decoded) {
      m.badFrames.inc({ code: decoded.problem.code });
      flog.warn({ func, code: decoded.problem.code, head: body.subarray(0, 32).toString('hex') }, `SL 651 report refused: ${decoded.problem.message}`);
      return silent;
    }
    const r = decoded.report;
    if (r.station !== undefined && r.station !== station.address) return { refuse: { reason: 'other_station', message: `a report of station ${station.address} carries station ${r.station}` } };
    const obs = r.observed ?? r.sent;
    const key = `${station.address}:${func}:${r.serial}:${compactWallTime(obs)}`;
    if (answered.has(key)) {
      m.duplicates.inc({ what: 'report' });
      return { reply: ANSWERED.has(func) };
    }
    try {
      if (func === 0x36 && mode === 'hex') await saveImage(station, r, body);
      else if (WITH_READINGS.has(func)) {
        const mapped = mapReport(r, station, config.zone, totals.get(station.address));
        m.unmapped.inc({ why: 'unmapped' }, mapped.unmapped.length);
        m.unmapped.inc({ why: 'invalid' }, mapped.invalid.length);
        for (const bad of mapped.invalid) flog.warn({ kind: bad.id }, `SL 651 value refused by the reading contract: ${bad.reason}`);
        await publishReadings(station, mapped);
      }
    } catch (err) {
      m.faults.inc({ where: func === 0x36 ? 'image' : 'publish' });
      flog.error({ err, func }, 'SL 651 report not stored; not answered (the station sends it again)');
      return silent;
    }
    answered.add(key);
    return { reply: ANSWERED.has(func) };
  };
}
