/**
 * The broker connections of a role's active part (lib/leadership.ts): every (re)connect is checked
 * against `mayRun` and ended at once when this instance may no longer act, so a replaced leader's
 * mqtt.js never takes the persistent session back from its successor [MQTT-3.1.4-2]. `connected`
 * waits for a connection's first CONNACK unless the part is aborted first; `abort` ends them all.
 */
import { connectService, retireClient, startClient, type MqttClient } from './mqtt.ts';
import type { Logger } from './logger.ts';

export interface GuardedClients {
  connect(clientId: string, clean: boolean): Promise<MqttClient>;
  connected(client: MqttClient): Promise<void>;
  abort(): void;
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
        if (!o.mayRun()) retireClient(c);
      });
      return c;
    },
    connected: (c) => Promise.race([startClient(c), aborted]),
    abort() {
      for (const c of clients) retireClient(c);
      abortStart(new Error(`the ${o.service} lease was lost while starting`));
    },
  };
}
