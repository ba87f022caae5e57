import { InfluxDB, type WriteApi } from '@influxdata/influxdb-client';
import type { ReadingSink, StoredReading } from './sink.ts';
import { toLine } from './line-protocol.ts';

export interface InfluxConfig {
  url: string;
  token: string;
  org: string;
  bucket: string;
  timeoutMs: number;
}

/**
 * InfluxDB 2.x through the official client. The client's own retry buffer is switched off
 * (maxRetries 0, writeFailed rejects): it drops lines on close() and past maxBufferLines, so
 * durability stays with the caller, which holds the PUBACK until this write resolved.
 */
export function createInfluxSink(config: InfluxConfig): ReadingSink {
  const influx = new InfluxDB({ url: config.url, token: config.token, timeout: config.timeoutMs });
  const writeApi: WriteApi = influx.getWriteApi(config.org, config.bucket, 'ms', {
    batchSize: 5000,
    flushInterval: 0,
    maxRetries: 0,
    writeFailed(error) {
      return Promise.reject(error);
    },
  });
  return {
    name: 'influxdb',
    async write(batch: StoredReading[]) {
      writeApi.writeRecords(batch.map((b) => toLine(b.reading, b.tags)));
      await writeApi.flush();
    },
    async close() {
      // Nothing is pending here: every write() flushed before resolving.
      await writeApi.close().catch(() => undefined);
    },
  };
}
