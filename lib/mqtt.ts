import mqtt, { type MqttClient, type IClientOptions, type IPublishPacket } from 'mqtt';
import createDebug from 'debug';
import type { Logger } from './logger.ts';
import { requirePatchedVersion } from './patched-versions.ts';

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

/**
 * mqtt.js traces every packet through `debug('mqttjs:client')` (a dozen calls per message, each
 * collecting its arguments into an array even when tracing is off): a service that receives tens of
 * thousands of messages a second hands it a no-op instead, unless DEBUG=mqttjs* asks for the trace.
 */
const noTrace = () => undefined;

/** Connect a floodgate service to the broker; resolves after the first CONNACK. */
export async function connectService(opts: ServiceClientOptions, extra: Partial<IClientOptions> = {}): Promise<MqttClient> {
  requirePatchedVersion('mqtt', "the services' PUBACK handling (lib/mqtt.ts: handleMessage, _sendPacket)");
  // Asked per connection, not at load: DEBUG may be enabled after this module loaded (tests).
  const mqttTrace = createDebug('mqttjs:client');
  const client = mqtt.connect(opts.url, {
    protocolVersion: 4, // MQTT 3.1.1: aedes 1.x speaks nothing newer
    clientId: opts.clientId,
    username: `svc-${opts.service}`,
    password: opts.secret,
    clean: opts.clean,
    reconnectPeriod: 1000,
    // A broker resuming a thousand sessions at once may take a while to answer one more CONNECT;
    // giving up on it sooner only starts the wait again.
    connectTimeout: 30_000,
    manualConnect: true,
    log: mqttTrace.enabled ? mqttTrace : noTrace,
    ...extra,
  });
  const log = opts.logger.child({ mqtt: opts.clientId });
  clientLogs.set(client, log);
  ignoreConnackAfterEnd(client);
  client.on('reconnect', () => log.debug('reconnecting to broker'));
  client.on('offline', () => log.warn('broker connection lost'));
  client.on('error', (err) => log.warn({ err: err.message }, 'mqtt client error'));
  return client;
}

/**
 * mqtt.js 5.16: a CONNACK that arrives after end() (a standby ending a connection still waiting
 * for it: lib/guarded-clients.ts) emits 'connect' without recording the CONNACK, and the
 * resubscribe that follows reads `connackPacket.sessionPresent` of undefined and throws out of the
 * stream handler: the process died (HA chaos test, a rules standby after PostgreSQL came back).
 * An ended client has nothing to resubscribe.
 */
function ignoreConnackAfterEnd(client: MqttClient): void {
  const c = client as unknown as { _resubscribe(): void; connackPacket?: object };
  const resubscribe = c._resubscribe.bind(client);
  c._resubscribe = () => {
    if (c.connackPacket) resubscribe();
  };
}

/**
 * Ends a client for good. `end()` alone is not enough in mqtt.js 5.16: it does nothing while the
 * client is already disconnecting (a reconnect that ends the old connection first, a CONNACK
 * timeout), and the connect() that follows revives the client. A replaced ingest's client came
 * back that way and took the persistent session from its successor every few seconds, for
 * minutes (HA chaos test). A retired client's connect and reconnect do nothing, its socket is
 * closed, and it never reconnects.
 */
export function retireClient(client: MqttClient): void {
  const c = client as unknown as { options: { reconnectPeriod: number }; connect(): MqttClient; _reconnect(): void; stream?: { destroy(): void } };
  c.options.reconnectPeriod = 0;
  c._reconnect = () => undefined;
  c.connect = () => client;
  client.end(true);
  c.stream?.destroy();
}

/** Each client's logger (connectService binds it), for startClient's notes while it waits. */
const clientLogs = new WeakMap<MqttClient, Logger>();

/**
 * Start connecting (after handlers are installed) and wait for the first CONNACK, however long
 * the broker takes: a service never exits because the broker is slow or briefly away. When `up`
 * restarted during the city storm, 1,207 devices reconnected at once and the rules' CONNACK took
 * longer than the 15 s this used to allow; the process exited and 153 of 211 police notices waited
 * for a person to start it again. mqtt.js retries the connection every second meanwhile; a note
 * is logged every `noteEveryMs` with how long it has been. Only a refusal (a CONNACK return code:
 * bad credentials, not authorized) is final [MQTT-3.2.2.3].
 */
export function startClient(client: MqttClient, noteEveryMs = 15_000): Promise<void> {
  const log = clientLogs.get(client);
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const timer = setInterval(() => {
      const where = `${client.options.host}:${client.options.port}`;
      log?.warn({ broker: where, waitedMs: Date.now() - started }, 'no CONNACK from the broker yet; still trying');
    }, noteEveryMs);
    const onConnect = () => {
      cleanup();
      if (Date.now() - started >= noteEveryMs) log?.info({ waitedMs: Date.now() - started }, 'connected to the broker');
      resolve();
    };
    const onError = (err: Error) => {
      // Refusals are final; network errors are retried by mqtt.js.
      if ('code' in err && typeof (err as { code: unknown }).code === 'number') {
        cleanup();
        client.end(true);
        reject(err);
      }
    };
    const cleanup = () => {
      clearInterval(timer);
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
/** Drop the connection without PUBACK: with a persistent session the broker redelivers [MQTT-4.4.0-1]. */
function redeliverLater(client: MqttClient, logger: Logger, err: unknown, topic: string): void {
  logger.error({ err, topic }, 'message not processed; reconnecting so the broker redelivers it');
  client.stream?.destroy();
}

export function ackAfter(client: MqttClient, handler: MessageHandler, logger: Logger): void {
  client.handleMessage = (packet, callback) => {
    if (packet.cmd !== 'publish') return callback();
    const p = packet as IPublishPacket;
    handler(p.topic, Buffer.isBuffer(p.payload) ? p.payload : Buffer.from(p.payload), p).then(
      () => callback(),
      (err: unknown) => redeliverLater(client, logger, err, p.topic),
    );
  };
}

/**
 * PUBACK packets for `ids`, in order [MQTT-4.6.0-2]: fixed header 0x40, remaining length 2, the
 * packet identifier [MQTT-3.4]. The same four bytes are a valid MQTT 5 PUBACK: reason code 0x00
 * (Success) and no properties may be left out [MQTT-3.4.2.1].
 */
export function pubackFrames(ids: readonly number[]): Buffer {
  const out = Buffer.allocUnsafe(ids.length * 4);
  let at = 0;
  for (const id of ids) {
    out[at] = 0x40;
    out[at + 1] = 2;
    out.writeUInt16BE(id, at + 2);
    at += 4;
  }
  return out;
}

export function endClient(client: MqttClient): Promise<void> {
  return new Promise((resolve) => client.end(false, {}, () => resolve()));
}

/**
 * Entries waiting for the PUBACK mqtt.js is about to produce for their message. It does so
 * synchronously inside handleMessage's callback, so one slot serves nearly every message without
 * a Map insert and delete each (~1.5% of ingest's CPU); an entry still waiting when the next
 * arrives moves to the Map.
 */
class AwaitingPubacks<E> {
  // Plain fields, not #private ones: this runs for every message ingest and the rules receive.
  private nextId = -1;
  private next: E | undefined;
  private byId = new Map<number, E>();
  expect(messageId: number, entry: E): void {
    if (this.next !== undefined) this.byId.set(this.nextId, this.next);
    this.nextId = messageId;
    this.next = entry;
  }
  take(messageId: number): E | undefined {
    if (messageId === this.nextId) {
      const entry = this.next;
      this.nextId = -1;
      this.next = undefined;
      return entry;
    }
    const entry = this.byId.get(messageId);
    if (entry !== undefined) this.byId.delete(messageId);
    return entry;
  }
  /** The connection closed: its message ids mean nothing now. */
  forget(): void {
    this.nextId = -1;
    this.next = undefined;
    this.byId = new Map();
  }
}

/**
 * Group commit for QoS 1 subscribers: messages are handed to `accept` one by one (mqtt.js delivers
 * them serially), and every `maxDelayMs` or `maxBatch` messages `commit` makes all of them durable
 * in one go; only then are their PUBACKs sent [MQTT-4.3.2-2], in order [MQTT-4.6.0-2]. mqtt.js
 * sends a PUBACK right after handleMessage calls back, so the PUBACKs of pending messages are held
 * back by wrapping the client's internal `_sendPacket` (mqtt.js 5.x) — with one transaction per
 * message, SQLite's commit cost capped ingest at ~20k readings/s on its own, well below the broker.
 *
 * `commit` may be asynchronous (the rules service waits for its alert events' PUBACKs): groups are
 * then committed one after another while the next group fills, and acknowledged in that order.
 * `accept` may return a promise to apply backpressure (e.g. a full spool): delivery of the next
 * message waits for it. If `commit` fails, nothing of the group is acknowledged and the
 * connection is dropped, so the broker redelivers [MQTT-4.4.0-1].
 */
export function groupCommitAcks<T>(
  client: MqttClient,
  opts: {
    maxBatch: number;
    maxDelayMs: number;
    accept(topic: string, payload: Buffer, packet: IPublishPacket): T | Promise<T>;
    commit(items: T[]): void | Promise<void>;
    logger: Logger;
  },
): { flush(): void; settled(): Promise<void> } {
  type Packet = { cmd: string; messageId?: number };
  /** `ack`: the message id whose PUBACK mqtt.js produced and we hold until the commit. */
  type Held = { item: T; ack?: number; conn: number };
  /** Bumped when the connection closes: a held PUBACK belongs to the connection that produced it. */
  let conn = 0;
  let pending: Held[] = [];
  const awaiting = new AwaitingPubacks<Held>();
  let timer: NodeJS.Timeout | undefined;
  /** The asynchronous commits in flight, chained so that groups are acknowledged in order. */
  let chain: Promise<void> = Promise.resolve();
  let inFlight = 0;
  const c = client as unknown as { _sendPacket(packet: Packet, cb?: (err?: Error) => void, ...rest: unknown[]): void };
  const send = c._sendPacket.bind(client);
  c._sendPacket = (packet, cb, ...rest) => {
    const entry = packet.cmd === 'puback' && packet.messageId !== undefined ? awaiting.take(packet.messageId) : undefined;
    if (entry) {
      entry.ack = packet.messageId;
      cb?.(); // mqtt.js goes on to the next message; the PUBACK itself waits for the commit
      return;
    }
    send(packet, cb, ...rest);
  };

  const failed = (err: unknown, messages: number) => {
    opts.logger.error({ err, messages }, 'commit failed; dropping the connection so the broker redelivers');
    awaiting.forget();
    client.stream?.destroy();
  };
  // A PUBACK of a closed connection is not sent: mqtt.js would queue it and send it on the next
  // connection, where its id may name another message [MQTT-2.3.1-2]. The broker redelivers.
  // The group's PUBACKs go out as one buffer: through mqtt.js each is three writes of a corked
  // socket and a nextTick, 1,500 chunks for one writev per group (benchmarks/README.md).
  const ackAll = (batch: Held[]) => {
    const ids: number[] = [];
    for (const b of batch) if (b.ack !== undefined && b.conn === conn) ids.push(b.ack);
    const stream = client.stream as (NodeJS.WritableStream & { destroyed?: boolean }) | undefined;
    if (ids.length === 0 || !stream || stream.destroyed) return;
    stream.write(pubackFrames(ids));
    // mqtt.js' 'packetsend' event, as if it had written them (only built when someone listens).
    if (client.listenerCount('packetsend') > 0) for (const messageId of ids) client.emit('packetsend', { cmd: 'puback', messageId });
  };

  function flush() {
    clearTimeout(timer);
    timer = undefined;
    if (pending.length === 0) return;
    const batch = pending;
    pending = [];
    let r: void | Promise<void>;
    try {
      r = opts.commit(batch.map((b) => b.item));
    } catch (err) {
      return failed(err, batch.length);
    }
    if (!(r instanceof Promise) && inFlight === 0) return ackAll(batch);
    inFlight++;
    const done = Promise.resolve(r);
    done.catch(() => undefined); // handled below, in order; not an unhandled rejection meanwhile
    chain = chain
      .then(() => done)
      .then(
        () => ackAll(batch),
        (err: unknown) => failed(err, batch.length),
      )
      .finally(() => void inFlight--);
  }

  const fail = (err: unknown, topic: string) => redeliverLater(client, opts.logger, err, topic);

  /**
   * An accepted message joins the group. Declared once, not as a closure per message: the tsx
   * loader names every named function expression it creates (esbuild keepNames, a
   * defineProperty each), which cost ~2.5% of ingest's CPU at full rate (benchmarks/README.md).
   */
  function hold(item: T, p: IPublishPacket, callback: () => void) {
    const entry: Held = { item, conn };
    pending.push(entry);
    if (p.qos === 1 && p.messageId !== undefined) awaiting.expect(p.messageId, entry);
    callback(); // mqtt.js produces the PUBACK synchronously here; the wrapper above holds it
    if (pending.length >= opts.maxBatch) flush();
    else timer ??= setTimeout(flush, opts.maxDelayMs);
  }

  client.handleMessage = (packet, callback) => {
    if (packet.cmd !== 'publish') return callback();
    const p = packet as IPublishPacket;
    let r: T | Promise<T>;
    try {
      r = opts.accept(p.topic, Buffer.isBuffer(p.payload) ? p.payload : Buffer.from(p.payload), p);
    } catch (err) {
      return fail(err, p.topic);
    }
    if (r instanceof Promise)
      r.then(
        (item) => hold(item, p, callback),
        (err: unknown) => fail(err, p.topic),
      );
    else hold(r, p, callback);
  };
  // A dropped connection voids the held PUBACKs (their message ids belong to that connection): the
  // items are still committed, the broker redelivers the messages, and the spool drops the copies.
  client.on('close', () => {
    conn++;
    awaiting.forget();
    for (const b of pending) delete b.ack;
  });
  return { flush, settled: () => chain };
}
