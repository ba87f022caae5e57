/**
 * The gateway's sockets: MQTT over TCP, over TLS (mqtts) and over WebSocket, each connection
 * guarded for packet size and written in batches before aedes handles it.
 */
import { createServer, type Server, type AddressInfo } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { createServer as createHttpServer } from 'node:http';
import { readFileSync } from 'node:fs';
import type { Duplex } from 'node:stream';
import type { Aedes } from 'aedes';
import { WebSocketServer, createWebSocketStream } from 'ws';
import type { Logger } from '../lib/logger.ts';
import { batchWrites } from './write-batch.ts';
import { guardPacketSize } from './packet-guard.ts';
import type { GatewayConfig } from './config.ts';

export interface Listeners {
  port: number;
  tlsPort: number | undefined;
  wsPort: number | undefined;
  /** Drop WebSocket clients at once (before the broker closes). */
  terminateWebSockets(): void;
  close(): Promise<void>;
}

export async function openListeners(config: GatewayConfig, broker: Aedes, o: { logger: Logger; onOversize(size: number | 'malformed'): void; onBadProtocol(level: number): void }): Promise<Listeners> {
  const log = o.logger;
  const max = config.limits.maxPacketBytes;
  const handle = (conn: Duplex, req?: Parameters<Aedes['handle']>[1]) => broker.handle(guardPacketSize(batchWrites(conn), max, o.onOversize, o.onBadProtocol), req);

  const servers: Array<{ close(cb: () => void): void }> = [];
  const listen = (server: Server | ReturnType<typeof createHttpServer>, port: number, what: string) =>
    new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, config.host, () => {
        server.off('error', reject);
        server.on('error', (err) => log.error({ err }, `${what} listener error`));
        servers.push(server);
        resolve((server.address() as AddressInfo).port);
      });
    });

  const port = await listen(createServer((socket) => handle(socket)), config.port, 'mqtt');
  let tlsPort: number | undefined;
  if (config.tls) {
    const tlsServer = createTlsServer({ cert: readFileSync(config.tls.certPath), key: readFileSync(config.tls.keyPath) }, (socket) => handle(socket));
    tlsPort = await listen(tlsServer as unknown as Server, config.tls.port, 'mqtts');
  }
  let wsPort: number | undefined;
  let wss: WebSocketServer | undefined;
  if (config.wsPort !== undefined) {
    const httpServer = createHttpServer((_req, res) => res.writeHead(426, { 'content-type': 'text/plain' }).end('MQTT over WebSocket: connect with a WebSocket client\n'));
    wss = new WebSocketServer({ server: httpServer, maxPayload: max + 16 });
    wss.on('connection', (ws, req) => handle(createWebSocketStream(ws), req));
    wsPort = await listen(httpServer, config.wsPort, 'mqtt-ws');
  }
  return {
    port,
    tlsPort,
    wsPort,
    terminateWebSockets: () => wss?.clients.forEach((c) => c.terminate()),
    close: () => Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve())))).then(() => undefined),
  };
}
