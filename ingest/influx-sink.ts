import { HttpError, InfluxDB, type WriteApi } from '@influxdata/influxdb-client';
import { SinkError, type ReadingSink, type SpoolRow } from './sink.ts';
import { lineOfRow } from './spool.ts';

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
 * InfluxDB 2.x/3.x (v2 write API) through the official client. The client's own retry buffer is
 * switched off (maxRetries 0, writeFailed rejects): it drops lines on close() and past
 * maxBufferLines, so durability stays in the spool, which removes rows only after this resolves.
 */
export function createInfluxSink(config: InfluxConfig): ReadingSink {
  const influx = new InfluxDB({ url: config.url, token: config.token, timeout: config.timeoutMs });
  const writeApi: WriteApi = influx.getWriteApi(config.org, config.bucket, 'ms', {
    batchSize: 1_000_000, // we hand over whole batches and flush them ourselves
    flushInterval: 0,
    maxRetries: 0,
    gzipThreshold: config.gzip ? 1000 : Number.MAX_SAFE_INTEGER, // the client's own default threshold is 1000 bytes
    writeFailed(error) {
      return Promise.reject(error);
    },
  });
  return {
    name: 'influxdb',
    async write(rows: SpoolRow[]) {
      writeApi.writeRecords(rows.map(lineOfRow));
      try {
        await writeApi.flush();
      } catch (err) {
        if (err instanceof HttpError) {
          const message = (err.json as { message?: string } | undefined)?.message ?? err.body ?? err.message;
          const retryAfter = err.retryAfter();
          throw new SinkError({ kind: 'http', status: err.statusCode, message: String(message).slice(0, 500), retryAfterMs: retryAfter > 0 ? retryAfter : undefined });
        }
        const e = err as Error & { code?: string };
        throw new SinkError({ kind: 'network', message: e.code ?? e.message });
      }
    },
    async close() {
      // Nothing is pending here: every write() flushed before resolving.
      await writeApi.close().catch(() => undefined);
    },
  };
}
