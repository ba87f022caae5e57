/**
 * The spool's level, watched: gauges every second, a retained alarm on `floodgate/ingest/spool`
 * whenever the level changes (the alerts service raises a duty-officer alert from it), and the
 * pruning of old admission keys and dead letters once a minute. By a passed-in clock.
 */
import { SpoolAlarm, topics } from '../contracts/index.ts';
import { repeat, type TimerClock } from '../lib/clock.ts';
import { counter, gauge, type Registry as Metrics } from '../lib/metrics.ts';
import type { Logger } from '../lib/logger.ts';
import { isoWithOffset } from '../lib/time.ts';
import type { Spool } from './spool.ts';
import { spoolLevel, type SpoolLevel } from './write-outcome.ts';

export interface SpoolWatchDeps {
  spool: Spool;
  clock: TimerClock;
  logger: Logger;
  metrics: Metrics;
  maxBytes: number;
  rejectsRetentionMs: number;
  /** Publish the alarm (retained, QoS 1). */
  publish(topic: string, payload: string): void;
}

export interface SpoolWatch {
  /** Read the level now (and alarm if it changed). */
  check(): SpoolLevel;
  /** Checked per message, so the bound holds to within one commit group. */
  full(): boolean;
  /** Forget the level last stated: the next check states it again (a new leader's alarm). */
  reset(): void;
  /** Counted each time admission waits for room. */
  waited(): void;
  stop(): void;
}

export function watchSpool(d: SpoolWatchDeps): SpoolWatch {
  const m = {
    spoolRows: gauge(d.metrics, 'floodgate_ingest_spool_rows', 'Readings in the spool, not yet in the store'),
    spoolBytes: gauge(d.metrics, 'floodgate_ingest_spool_bytes', 'Bytes of the readings waiting in the spool (bounded by FLOODGATE_SPOOL_MAX_BYTES)'),
    spoolFileBytes: gauge(d.metrics, 'floodgate_ingest_spool_file_bytes', 'Spool database and WAL on disk (also dedupe keys, dead letters, free pages)'),
    spoolAge: gauge(d.metrics, 'floodgate_ingest_spool_oldest_age_seconds', 'Age of the oldest reading in the spool'),
    spoolFullWaits: counter(d.metrics, 'floodgate_ingest_spool_full_waits_total', 'Times admission waited because the spool was full'),
  };
  let level: SpoolLevel | undefined;
  function check(): SpoolLevel {
    const s = d.spool.stats(d.clock.now());
    m.spoolRows.set(s.rows);
    m.spoolBytes.set(s.bytes);
    m.spoolFileBytes.set(s.fileBytes);
    m.spoolAge.set(s.oldestAgeMs / 1000);
    const now = spoolLevel(s.bytes, d.maxBytes);
    if (now !== level) {
      level = now;
      // Parsed on the way out: the alerts service raises a duty-officer alert from it.
      const msg = SpoolAlarm.parse({ level: now, rows: s.rows, bytes: s.bytes, maxBytes: d.maxBytes, oldestAgeS: Math.max(0, Math.round(s.oldestAgeMs / 1000)), at: isoWithOffset(d.clock.now()) });
      (now === 'ok' ? d.logger.info.bind(d.logger) : d.logger.warn.bind(d.logger))(msg, `spool ${now}`);
      d.publish(topics.ingestSpool, JSON.stringify(msg));
    }
    return now;
  }
  let ticks = 0;
  const timer = repeat(d.clock, 1000, () => {
    try {
      check();
      if (++ticks % 60 === 0) {
        d.spool.pruneSeen(d.clock.now());
        d.spool.pruneRejects(d.clock.now(), d.rejectsRetentionMs, 100_000);
      }
    } catch (err) {
      d.logger.error({ err }, 'spool check failed');
    }
  });
  return {
    check,
    full: () => spoolLevel(d.spool.heldBytes(), d.maxBytes) === 'full',
    reset: () => {
      level = undefined;
    },
    waited: () => m.spoolFullWaits.inc(),
    stop: () => timer.stop(),
  };
}
