/**
 * The drain: moves spooled readings to the store in batches, oldest first, and removes them from
 * the spool only after the store accepted them. Failures are decided by write-outcome.ts: retry
 * with backoff and jitter, or split the batch to isolate a refused line into the dead letters.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { backoffDelay, type BackoffPolicy } from '../lib/backoff.ts';
import { counter, gauge, type Registry as Metrics } from '../lib/metrics.ts';
import { Histogram } from 'prom-client';
import type { Logger } from '../lib/logger.ts';
import type { Clock } from '../lib/clock.ts';
import type { Spool, SpoolRow } from './spool.ts';
import { SinkError, type ReadingSink } from './sink.ts';
import { decideOnWriteFailure, splitBatch } from './write-outcome.ts';
import { KIND_OF_MEASUREMENT } from '../contracts/index.ts';

export interface DrainDeps {
  spool: Spool;
  sink: ReadingSink;
  logger: Logger;
  metrics: Metrics;
  clock: Clock;
  batchSize: number;
  backoff: BackoffPolicy;
  /** Idle poll when the spool is empty; admissions also wake the drain. */
  idleMs: number;
}

export interface Drain {
  wake(): void;
  /** Resolves when the spool is empty (tests, shutdown). */
  idle(): Promise<void>;
  close(): Promise<void>;
}

/** Rows per measurement, for the per-kind counter (a batch holds few kinds: a small map). */
function countBy(rows: SpoolRow[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const r of rows) counts.set(r.measurement, (counts.get(r.measurement) ?? 0) + 1);
  return counts;
}

export function createDrain(deps: DrainDeps): Drain {
  const { spool, sink, clock } = deps;
  const log = deps.logger.child({ component: 'drain' });
  const m = {
    written: counter(deps.metrics, 'floodgate_ingest_written_total', 'Readings accepted by the store, by kind', ['sink', 'kind']),
    retries: counter(deps.metrics, 'floodgate_ingest_write_retries_total', 'Store writes retried', ['sink', 'reason']),
    dead: counter(deps.metrics, 'floodgate_ingest_dead_letters_total', 'Readings the store refused for good'),
    up: gauge(deps.metrics, 'floodgate_ingest_store_up', '1 when the last store write succeeded', ['sink']),
    latency:
      (deps.metrics.getSingleMetric('floodgate_ingest_write_seconds') as Histogram<string> | undefined) ??
      new Histogram({
        name: 'floodgate_ingest_write_seconds',
        help: 'Store write latency per batch',
        labelNames: ['sink'],
        buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
        registers: [deps.metrics],
      }),
  };
  let closed = false;
  const stop = new AbortController();
  let wakeUp: (() => void) | undefined;
  let idleWaiters: Array<() => void> = [];
  let attempt = 0;

  /** Write rows; on a refused batch split until the bad line is alone, then dead-letter it. */
  async function writeRows(rows: SpoolRow[]): Promise<'done' | 'retry'> {
    const end = m.latency.startTimer({ sink: sink.name });
    try {
      await sink.write(rows);
      end();
      for (const [measurement, n] of countBy(rows)) m.written.inc({ sink: sink.name, kind: KIND_OF_MEASUREMENT[measurement] ?? measurement }, n);
      m.up.set({ sink: sink.name }, 1);
      return 'done';
    } catch (err) {
      end();
      const failure = err instanceof SinkError ? err.failure : { kind: 'network' as const, message: (err as Error).message };
      const decision = decideOnWriteFailure(failure, rows.length, backoffDelay(attempt, deps.backoff));
      if (decision.action === 'split') {
        const [a, b] = splitBatch(rows);
        log.warn({ rows: rows.length, error: (err as Error).message }, 'store refused a batch; splitting it to find the bad line');
        if ((await writeRows(a)) === 'retry') return 'retry';
        // The first half is settled; remove it so a retry of the second half cannot rewrite it.
        spool.remove(a);
        return writeRows(b);
      }
      if (decision.action === 'dead-letter') {
        m.up.set({ sink: sink.name }, 1); // the store answered: it is up, it refused this line
        spool.deadLetter(rows, decision.error, clock.now());
        m.dead.inc(rows.length);
        log.error({ sensorId: rows[0]?.sensor, ts: rows[0]?.ts, error: decision.error }, 'reading refused by the store; moved to dead letters');
        return 'done';
      }
      m.up.set({ sink: sink.name }, 0);
      m.retries.inc({ sink: sink.name, reason: failure.kind === 'http' ? String(failure.status) : 'network' });
      attempt++;
      log.warn({ error: (err as Error).message, attempt, retryInMs: decision.delayMs, spooled: spool.stats(clock.now()).rows }, 'store write failed; retrying');
      // Only shutdown cuts a backoff short: new admissions must not turn an outage into a spin.
      await sleep(decision.delayMs, undefined, { signal: stop.signal }).catch(() => undefined);
      return 'retry';
    }
  }

  async function loop() {
    while (!closed) {
      const rows = spool.peek(deps.batchSize, { wholeSegments: true });
      if (rows.length === 0) {
        for (const w of idleWaiters) w();
        idleWaiters = [];
        await Promise.race([sleep(deps.idleMs), new Promise<void>((r) => (wakeUp = r))]);
        continue;
      }
      try {
        if ((await writeRows(rows)) === 'done') {
          spool.remove(rows);
          attempt = 0;
        }
      } catch (err) {
        // A spool (disk) fault: logged and counted by the caller's metrics; wait and try again.
        log.error({ err }, 'drain fault');
        await sleep(1000);
      }
    }
  }

  const running = loop();
  return {
    wake: () => wakeUp?.(),
    idle: () => (spool.stats(clock.now()).rows === 0 ? Promise.resolve() : new Promise<void>((r) => idleWaiters.push(r))),
    async close() {
      closed = true;
      stop.abort();
      wakeUp?.();
      await running;
    },
  };
}
