import mqtt, { type MqttClient, type IClientOptions, type IPublishPacket } from 'mqtt';
import type { Logger } from './logger.ts';

export type { MqttClient };

export interface ServiceClientOptions {
  url: string;
  service: string;
  secret: string;
  clientId: string;
  /** false = persistent session: QoS 1 messages queue in the broker while we are away. */
  clean: boolean;
  logger: Logger;
}

/** Connect a floodgate service to the broker; resolves after the first CONNACK. */
export async function connectService(opts: ServiceClientOptions, extra: Partial<IClientOptions> = {}): Promise<MqttClient> {
  const client = mqtt.connect(opts.url, {
    protocolVersion: 4, // MQTT 3.1.1: aedes 1.x speaks nothing newer
    clientId: opts.clientId,
    username: `svc-${opts.service}`,
    password: opts.secret,
    clean: opts.clean,
    reconnectPeriod: 1000,
    connectTimeout: 10_000,
    manualConnect: true,
    ...extra,
  });
  const log = opts.logger.child({ mqtt: opts.clientId });
  client.on('reconnect', () => log.debug('reconnecting to broker'));
  client.on('offline', () => log.warn('broker connection lost'));
  client.on('error', (err) => log.warn({ err: err.message }, 'mqtt client error'));
  return client;
}

/** Start connecting (after handlers are installed) and wait for the first CONNACK. */
export function startClient(client: MqttClient, timeoutMs = 15_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`no CONNACK from ${client.options.host}:${client.options.port} within ${timeoutMs} ms`));
    }, timeoutMs);
    const onConnect = () => {
      cleanup();
      resolve();
    };
    const onError = (err: Error) => {
      // Authentication failures are final; network errors are retried by mqtt.js.
      if ('code' in err && typeof (err as { code: unknown }).code === 'number') {
        cleanup();
        reject(err);
      }
    };
    const cleanup = () => {
      clearTimeout(timer);
      client.off('connect', onConnect);
      client.off('error', onError);
    };
    client.on('connect', onConnect);
    client.on('error', onError);
    client.connect();
  });
}

export type MessageHandler = (topic: string, payload: Buffer, packet: IPublishPacket) => Promise<void>;

/**
 * Acknowledge (PUBACK) a QoS 1 message only after `handler` resolved, i.e. after what it did is
 * durable. mqtt.js calls handleMessage serially per connection and sends the PUBACK from its
 * callback [MQTT-4.3.2-2: the receiver owns the message once it sends PUBACK]. If the handler
 * fails, the connection is dropped without PUBACK: with a persistent session the broker
 * redelivers the message after reconnect [MQTT-4.4.0-1].
 */
export function ackAfter(client: MqttClient, handler: MessageHandler, logger: Logger): void {
  client.handleMessage = (packet, callback) => {
    if (packet.cmd !== 'publish') return callback();
    const p = packet as IPublishPacket;
    handler(p.topic, Buffer.isBuffer(p.payload) ? p.payload : Buffer.from(p.payload), p).then(
      () => callback(),
      (err: unknown) => {
        logger.error({ err, topic: p.topic }, 'message not processed; reconnecting so the broker redelivers it');
        client.stream?.destroy();
      },
    );
  };
}

export function endClient(client: MqttClient): Promise<void> {
  return new Promise((resolve) => client.end(false, {}, () => resolve()));
}
