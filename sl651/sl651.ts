/**
 * floodgate as an SL 651-2014 centre station (issue 23): hydrological RTUs connect over TCP and
 * report; each reading enters the pipeline exactly as a device's MQTT reading would (the same
 * contracts, the same topics `sensors/{kind}/{id}/reading`), published by this service as
 * `svc-sl651` at QoS 1, and the station is answered only after the gateway has acknowledged the
 * readings (it acknowledges once they are stored): a station whose report was not stored gets no
 * reply and sends it again, and the copies are dropped here by station, function, serial and
 * observation time.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { topics } from '../contracts/index.ts';
import type { Registry } from '../config/registry.ts';
import { connectService, endClient, startClient, type MqttClient } from '../lib/mqtt.ts';
import type { Registry as Metrics } from '../lib/metrics.ts';
import type { Logger } from '../lib/logger.ts';
import type { Clock } from '../lib/clock.ts';
import { isoWithOffset } from '../lib/time.ts';
import { takeToken, type Bucket } from '../lib/token-bucket.ts';
import type { Sl651Config } from './config.ts';
import { createStationCheck, indexStations, type Station } from './stations.ts';
import { sl651Metrics } from './metrics.ts';
import { createReportHandler } from './reports.ts';
import { serveLink, type Closable, type LinkEnd, type LinkHooks } from './link.ts';

export interface Sl651Deps {
  logger: Logger;
  metrics: Metrics;
  registry: Registry;
  serviceSecret: string;
  clock: Clock;
}

export interface Sl651Handle {
  port: number;
  updateRegistry(registry: Registry): void;
  /** Stations with a link open now. */
  connectedStations(): string[];
  health(): { ok: boolean; checks: Record<string, boolean> };
  close(): Promise<void>;
}

export async function createSl651(config: Sl651Config, deps: Sl651Deps): Promise<Sl651Handle> {
  const log = deps.logger.child({ component: 'sl651' });
  const m = sl651Metrics(deps.metrics);
  let stations = indexStations(deps.registry);
  const check = createStationCheck(() => stations);
  const buckets = new Map<string, Bucket>();
  /** The open link of each station (a newer one replaces it) and presence. */
  const live = new Map<string, Closable>();

  const mqtt: MqttClient = await connectService({ url: config.mqttUrl, service: 'sl651', secret: deps.serviceSecret, clientId: config.clientId, clean: true, logger: log });
  await startClient(mqtt);

  function publishPresence(station: Station, state: 'online' | 'offline' | 'lost') {
    const now = deps.clock.now();
    for (const [kind, sensorId] of Object.entries(station.sensors)) {
      const payload = JSON.stringify({ state, ts: isoWithOffset(now), source: 'sl651', station: station.address });
      mqtt.publish(topics.status(kind as keyof Station['sensors'], sensorId), payload, { qos: 1, retain: true }, (err) => {
        if (err) log.warn({ sensorId, err: err.message }, 'could not publish presence');
      });
    }
  }

  const report = createReportHandler({ config, m, mqtt });

  const hooks: LinkHooks = {
    check,
    takeToken(address) {
      const r = takeToken(buckets.get(address), deps.clock.now(), config.stationRatePerS, config.stationBurst);
      buckets.set(address, r.bucket);
      return r.allowed;
    },
    report,
    online(station, link) {
      const old = live.get(station.address);
      live.set(station.address, link);
      m.stations.set(live.size);
      if (!old) return publishPresence(station, 'online');
      // A modem that lost its link redials before the old socket times out: the new link wins.
      log.info({ station: station.address }, 'SL 651 station connected again: closing its older link');
      old.close();
    },
    offline(station, link, how: LinkEnd) {
      if (live.get(station.address) !== link) return; // a newer link took over
      live.delete(station.address);
      m.stations.set(live.size);
      publishPresence(station, how);
    },
    count: {
      badFrame: (code) => m.badFrames.inc({ code }),
      refused: (reason) => m.refused.inc({ reason }),
      limit: (limit) => m.limits.inc({ limit }),
      frame: (func) => m.frames.inc({ func }),
      reply: (end) => m.replies.inc({ end }),
    },
  };

  const sockets = new Set<Socket>();
  // No Nagle: a station waits for each reply, a small frame that should leave at once.
  const server: Server = createServer({ noDelay: true }, (socket) => {
    sockets.add(socket);
    m.links.set(sockets.size);
    socket.on('close', () => {
      sockets.delete(socket);
      m.links.set(sockets.size);
    });
    serveLink(socket, config, deps.clock, hooks, log);
  });
  server.maxConnections = config.maxConnections;
  server.on('drop', () => m.limits.inc({ limit: 'connections' }));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve());
  });
  server.on('error', (err) => log.error({ err }, 'SL 651 listener error'));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  log.info({ port, stations: stations.size }, 'SL 651 centre listening');

  return {
    port,
    updateRegistry(registry) {
      stations = indexStations(registry);
    },
    connectedStations: () => [...live.keys()],
    health: () => ({ ok: server.listening && mqtt.connected, checks: { listener: server.listening, mqtt: mqtt.connected } }),
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
      await endClient(mqtt);
    },
  };
}
