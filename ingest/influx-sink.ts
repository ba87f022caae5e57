import { HttpError, InfluxDB, type CommunicationObserver, type SendOptions } from '@influxdata/influxdb-client';
import { SinkError, type ReadingSink, type SpoolRow } from './sink.ts';
import { linesBody } from './line-protocol.ts';
import { parseRetryAfter } from '../lib/backoff.ts';
import { systemClock, type Clock } from '../lib/clock.ts';

export interface InfluxConfig {
  url: string;
  token: string;
  org: string;
  bucket: string;
  timeoutMs: number;
  /**
   * Compress write bodies. Off by default: on loopback or a LAN, gzip cost the ingest process more
   * CPU per reading than the whole line-protocol encoding (benchmarks/README.md); across a WAN or
   * to a metered cloud bucket the ~10× smaller bodies are worth it.
   */
  gzip?: boolean;
}

/**
 * InfluxDB 2.x/3.x (v2 write API) through the official client's transport (auth, timeout, proxy,
 * gzip, HttpError with Retry-After). Not through its WriteApi: that buffers lines and retries on
 * its own, drops lines on close() and past maxBufferLines — durability stays in the spool, which
 * removes rows only after this resolves — and measures every line's UTF-8 length in a JS loop
 * (benchmarks/README.md). A batch is one request, sent as the WriteApi would send it.
 */
export function createInfluxSink(config: InfluxConfig, clock: Clock = systemClock): ReadingSink {
  const influx = new InfluxDB({ url: config.url, token: config.token, timeout: config.timeoutMs });
  const path = `/api/v2/write?org=${encodeURIComponent(config.org)}&bucket=${encodeURIComponent(config.bucket)}&precision=ms`;
  const options: SendOptions = {
    method: 'POST',
    headers: { 'content-type': 'text/plain; charset=utf-8' },
    gzipThreshold: config.gzip ? 1000 : Number.MAX_SAFE_INTEGER, // the client's own default threshold is 1000 bytes
  };
  // `send`, not `request`: request() JSON-encodes a body that is not a string. The body is the
  // batch's UTF-8 bytes (linesBody), which send() takes as it takes a string (Buffer.from, which
  // copies a Buffer); tested against VictoriaMetrics and a recording HTTP server.
  const send = influx.transport.send.bind(influx.transport) as unknown as (path: string, body: Buffer, options: SendOptions, callbacks: Partial<CommunicationObserver<Uint8Array>>) => void;
  return {
    name: 'influxdb',
    async write(rows: SpoolRow[]) {
      if (rows.length === 0) return;
      let status = 0;
      try {
        await new Promise<void>((resolve, reject) =>
          send(path, linesBody(rows), options, {
            responseStarted: (_headers, statusCode) => void (status = statusCode ?? 0),
            complete: resolve,
            error: reject,
          }),
        );
      } catch (err) {
        if (err instanceof HttpError) {
          const message = (err.json as { message?: string } | undefined)?.message ?? err.body ?? err.message;
          // Not err.retryAfter(): that is the header's seconds (and 0 for an HTTP-date) [RFC 9110 §10.2.3].
          const header = err.headers?.['retry-after'];
          const retryAfterMs = parseRetryAfter(Array.isArray(header) ? header[0] : header, clock.now());
          throw new SinkError({ kind: 'http', status: err.statusCode, message: String(message).slice(0, 500), retryAfterMs });
        }
        const e = err as Error & { code?: string };
        throw new SinkError({ kind: 'network', message: e.code ?? e.message });
      }
      // As the WriteApi: a write is accepted with 204 (or 201), anything else is a failure.
      if (status !== 204 && status !== 201) throw new SinkError({ kind: 'http', status, message: `204 HTTP response status code expected, but ${status} returned`, retryAfterMs: undefined });
    },
    async close() {
      // Nothing is pending here: every write() resolved before the drain removed its rows.
    },
  };
}
