/**
 * The broker connections of a role's active part (lib/leadership.ts): every (re)connect is checked
 * against `mayRun` and ended at once when this instance may no longer act, so a replaced leader's
 * mqtt.js never takes the persistent session back from its successor [MQTT-3.1.4-2]. `connected`
 * waits for a connection's first CONNACK unless the part is aborted first; `abort` ends them all.
 */
import { connectService, startClient, type MqttClient } from './mqtt.ts';
import type { Logger } from './logger.ts';

export interface GuardedClients {
  connect(clientId: string, clean: boolean): Promise<MqttClient>;
  connected(client: MqttClient): Promise<void>;
  abort(): void;
}

/**
 * Ends a client for good. `end()` alone is not enough in mqtt.js 5.16: it does nothing while the
 * client is already disconnecting (a reconnect that ends the old connection first, a CONNACK
 * timeout), and the connect() that follows revives the client. A replaced ingest's client came
 * back that way and took the persistent session from its successor every few seconds, for
 * minutes (HA chaos test). A retired client's connect and reconnect do nothing, its socket is
 * closed, and it never reconnects.
 */
function retire(client: MqttClient): void {
  const c = client as unknown as { options: { reconnectPeriod: number }; connect(): MqttClient; _reconnect(): void; stream?: { destroy(): void } };
  c.options.reconnectPeriod = 0;
  c._reconnect = () => undefined;
  c.connect = () => client;
  client.end(true);
  c.stream?.destroy();
}

export function guardedClients(o: { url: string; service: string; secret: string; logger: Logger; mayRun(): boolean }): GuardedClients {
  const clients: MqttClient[] = [];
  let abortStart!: (err: Error) => void;
  const aborted = new Promise<never>((_, reject) => (abortStart = reject));
  aborted.catch(() => undefined);
  return {
    async connect(clientId, clean) {
      const c = await connectService({ url: o.url, service: o.service, secret: o.secret, clientId, clean, logger: o.logger });
      clients.push(c);
      c.on('connect', () => {
        if (!o.mayRun()) retire(c);
      });
      return c;
    },
    connected: (c) => Promise.race([startClient(c), aborted]),
    abort() {
      for (const c of clients) retire(c);
      abortStart(new Error(`the ${o.service} lease was lost while starting`));
    },
  };
}
