/**
 * SL 651 centre benchmark (issue 23): N stations (RTUs) connected at once, each then reporting
 * as fast as the centre answers (a 32 timed report with a level and the battery, the next one
 * sent when the reply comes, as an RTU does), for a while; side by side with the same N sensors as
 * MQTT devices publishing the same readings at QoS 1 to the gateway, each waiting for its PUBACK.
 *
 *   npm run bench -- sl651        (BENCH_STATIONS=5000 BENCH_SECONDS=20)
 *
 * Defaults of `floodgate sl651` and `floodgate gateway` (memory sessions), limits raised out of
 * the load's way (their checks still run). The gateway and the centre each run in their own
 * process, so their memory is measured alone; the load comes from this process; a service
 * subscriber (as ingest) takes every reading. "frame → stored" is the time from a report's
 * first byte to the centre's reply, which it sends only once the gateway has acknowledged the
 * readings, which it does once they are in the subscriber's session (stored); for MQTT, publish
 * → PUBACK, the same promise.
 */
import mqtt, { type MqttClient } from 'mqtt';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { hashSecretSync, newSecret, newStationPassword, saveRegistry, type Registry } from '../config/registry.ts';
import { freePort, startProcess, stopProcess, tempDir, waitForTcp } from '../test/helpers/servers.ts';
import { encodeFrame } from '../contracts/sl651-frame.ts';
import { encodeReport } from '../contracts/sl651-report.ts';
import { openRtuLink, type RtuLink } from '../simulators/sl651-rtu.ts';
import { wallOf } from '../simulators/sl651-stations.ts';
import { percentile } from '../lib/stats.ts';
import { mapLimit } from '../lib/map-limit.ts';

const N = Number(process.env['BENCH_STATIONS'] ?? 5000);
const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 20);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
const address = (i: number) => `99${String(i).padStart(8, '0')}`;
const id = (i: number) => `BS-${String(i).padStart(5, '0')}`;

function registry(): { registry: Registry; secrets: string[]; passwords: string[] } {
  const secrets: string[] = [];
  const passwords: string[] = [];
  const sensors = Array.from({ length: N }, (_, i) => {
    secrets.push(newSecret());
    passwords.push(newStationPassword());
    return { id: id(i), kind: 'water-level' as const, site: 'WS-BENCH', secretHash: hashSecretSync(secrets[i]!), sl651: { station: address(i), passwordHash: hashSecretSync(passwords[i]!) } };
  });
  return {
    registry: {
      version: 1,
      city: 'bench',
      districts: [{ id: 'bench', name: 'bench', police: { url: 'http://127.0.0.1:9/none', secretRef: 'FLOODGATE_POLICE_SECRET' } }],
      sites: [{ id: 'WS-BENCH', kind: 'water-level-station', name: 'bench station', road: '', district: 'bench', lat: 31, lon: 121 }],
      sensors,
    },
    secrets,
    passwords,
  };
}

/** Reports (or publishes) in a closed loop from every link until `until`; latencies in ms. */
async function closedLoop<L>(links: L[], until: number, once: (link: L, i: number, serial: number) => Promise<void>): Promise<{ count: number; latencies: number[]; errors: number }> {
  const latencies: number[] = [];
  let errors = 0;
  await Promise.all(
    links.map(async (link, i) => {
      for (let serial = 1; performance.now() < until; serial++) {
        const t = performance.now();
        try {
          await once(link, i, serial);
          latencies.push(performance.now() - t);
        } catch {
          errors++;
        }
      }
    }),
  );
  return { count: latencies.length, latencies: latencies.sort((a, b) => a - b), errors };
}

async function main() {
  const log = (s: string) => process.stdout.write(s + '\n');
  const dir = tempDir('bench-sl651');
  const procs: Array<Parameters<typeof stopProcess>[0]> = [];
  try {
    const { registry: reg, secrets, passwords } = registry();
    const serviceSecret = newSecret();
    saveRegistry(join(dir.path, 'registry.json'), reg);
    const [mqttPort, sl651Port] = [await freePort(), await freePort()];
    const env = { ...process.env, FLOODGATE_DATA_DIR: dir.path, FLOODGATE_SERVICE_SECRET: serviceSecret, FLOODGATE_LOG_LEVEL: 'error', FLOODGATE_MQTT_HOST: '127.0.0.1', FLOODGATE_MQTT_PORT: String(mqttPort), FLOODGATE_DEVICE_RATE: '10000', FLOODGATE_DEVICE_BURST: '100000', FLOODGATE_MAX_CONNECTIONS: '100000' };
    const gw = startProcess(process.execPath, [join(ROOT, 'bin/floodgate.js'), 'gateway'], env);
    procs.push(gw.proc);
    await waitForTcp(mqttPort, gw.proc, gw.logs, 60_000);
    const centre = startProcess(process.execPath, [join(ROOT, 'bin/floodgate.js'), 'sl651'], { ...env, FLOODGATE_MQTT_URL: `mqtt://127.0.0.1:${mqttPort}`, FLOODGATE_SL651_HOST: '127.0.0.1', FLOODGATE_SL651_PORT: String(sl651Port), FLOODGATE_SL651_STATION_RATE: '1000', FLOODGATE_SL651_STATION_BURST: '10000' });
    procs.push(centre.proc);
    await waitForTcp(sl651Port, centre.proc, centre.logs, 60_000);
    // The subscriber ingest would be: every reading is delivered to a persistent session.
    const sub = await mqtt.connectAsync(`mqtt://127.0.0.1:${mqttPort}`, { protocolVersion: 4, clientId: 'bench-ingest', clean: false, username: 'svc-ingest', password: serviceSecret, reconnectPeriod: 0 });
    let delivered = 0;
    sub.on('message', () => delivered++);
    await sub.subscribeAsync('sensors/+/+/reading', { qos: 1 });
    log(`SL 651 benchmark: ${N} stations, ${SECONDS} s of reports each way; node ${process.version}`);

    // SL 651: connect every station, each speaking once (a keep-alive) so the centre knows it.
    const centreBase = rssMb(centre.proc.pid!);
    const tc = performance.now();
    const links = await mapLimit(Array.from({ length: N }, (_, i) => i), 200, async (i) => {
      const link = await openRtuLink('127.0.0.1', sl651Port);
      link.send(encodeFrame({ direction: 'up', centre: '01', station: address(i), password: passwords[i]!, func: 0x2f, body: Buffer.concat([Buffer.from([0, 0]), Buffer.from('261207100000', 'hex')]), end: 'ETX' }));
      return link;
    });
    const connectS = (performance.now() - tc) / 1000;
    await sleep(2000);
    const centreRss = rssMb(centre.proc.pid!);
    const stillOpen = links.filter((l) => !l.isClosed()).length;
    const report = (link: RtuLink, i: number, serial: number) => {
      const now = Date.now();
      const body = encodeReport({ serial: serial % 65535, sent: wallOf(now), station: address(i), category: '48', at: wallOf(now - (serial % 100_000) * 60_000), elements: [['39', 1 + (serial % 300) / 100], ['38', 12.4]] });
      link.send(encodeFrame({ direction: 'up', centre: '01', station: address(i), password: passwords[i]!, func: 0x32, body, end: 'ETX' }));
      return link.reply(60_000).then(() => undefined);
    };
    const deliveredBefore = delivered;
    const s = await closedLoop(links, performance.now() + SECONDS * 1000, report);
    const slReadings = delivered - deliveredBefore;
    for (const l of links) l.close();

    // MQTT: the same sensors as devices, each publishing the same reading at QoS 1.
    await sleep(1000);
    const gwBase = rssMb(gw.proc.pid!);
    const tm = performance.now();
    const clients = await mapLimit(Array.from({ length: N }, (_, i) => i), 200, (i) => mqtt.connectAsync(`mqtt://127.0.0.1:${mqttPort}`, { protocolVersion: 4, clientId: id(i), username: id(i), password: secrets[i], reconnectPeriod: 0, keepalive: 300, connectTimeout: 60_000 }));
    const mqttConnectS = (performance.now() - tm) / 1000;
    await sleep(2000);
    const gwRss = rssMb(gw.proc.pid!);
    const deliveredBeforeMqtt = delivered;
    const m = await closedLoop(clients, performance.now() + SECONDS * 1000, (c: MqttClient, i, serial) => c.publishAsync(`sensors/water-level/${id(i)}/reading`, JSON.stringify({ ts: Date.now() - (serial % 100_000) * 60_000, level_m: 1 + (serial % 300) / 100, battery_v: 12.4 }), { qos: 1 }).then(() => undefined));
    const mqttReadings = delivered - deliveredBeforeMqtt;
    await mapLimit(clients, 500, (c) => c.endAsync(true).catch(() => undefined));
    await sub.endAsync(true);

    const row = (what: string, a: string, b: string) => `| ${what} | ${a} | ${b} |`;
    const table = [
      `| ${N} sensors, ${SECONDS} s | SL 651 (RTU → centre → gateway) | MQTT (device → gateway) |`,
      '|---|---|---|',
      row('connected at once', `${stillOpen} of ${N} links (in ${connectS.toFixed(1)} s)`, `${clients.length} of ${N} (in ${mqttConnectS.toFixed(1)} s)`),
      row('memory per connection', `${(((centreRss - centreBase) * 1024) / N).toFixed(1)} KB (centre RSS ${centreBase.toFixed(0)} → ${centreRss.toFixed(0)} MB)`, `${(((gwRss - gwBase) * 1024) / N).toFixed(1)} KB (gateway RSS ${gwBase.toFixed(0)} → ${gwRss.toFixed(0)} MB)`),
      row('reports (messages) answered per second', `${(s.count / SECONDS).toFixed(0)}`, `${(m.count / SECONDS).toFixed(0)}`),
      row('readings at the subscriber', `${slReadings}`, `${mqttReadings}`),
      row('frame → stored (reply) / publish → PUBACK, p50', `${percentile(s.latencies, 50).toFixed(1)} ms`, `${percentile(m.latencies, 50).toFixed(1)} ms`),
      row('… p99', `${percentile(s.latencies, 99).toFixed(1)} ms`, `${percentile(m.latencies, 99).toFixed(1)} ms`),
      row('errors (no reply in 60 s, closed)', `${s.errors}`, `${m.errors}`),
    ].join('\n');
    log('');
    log(table);
    log('');
    log(`SL 651 reports/s as a share of MQTT publishes/s in the same run: ${((s.count / Math.max(1, m.count)) * 100).toFixed(0)}% (each report is one frame in, one reply out, and a QoS 1 publish from the centre to the gateway)`);
    writeFileSync(fileURLToPath(new URL('results-sl651.md', import.meta.url)), `# sl651\n\n${table}\n`);
  } finally {
    for (const p of procs) await stopProcess(p);
    dir.remove();
  }
}

await main();
