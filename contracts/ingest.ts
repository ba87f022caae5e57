import { z } from 'zod';

/** How full ingest's spool is: `warning` from 50%, `critical` from 80% (ingest/write-outcome.ts). */
export const SPOOL_LEVELS = ['ok', 'warning', 'critical', 'full'] as const;

/**
 * The share of FLOODGATE_SPOOL_MAX_BYTES at which each level starts: ingest judges by it, and the
 * alerts service states it as the duty-officer alert's threshold.
 */
export const SPOOL_LEVEL_FROM = { warning: 0.5, critical: 0.8, full: 1 } as const;

/**
 * The spool alarm ingest publishes, retained, on `floodgate/ingest/spool` whenever the level
 * changes: the store (InfluxDB) is not keeping up and readings are piling up on ingest's disk.
 */
export const SpoolAlarm = z
  .object({
    level: z.enum(SPOOL_LEVELS),
    /** Readings waiting for the store. */
    rows: z.number().int().min(0),
    bytes: z.number().int().min(0),
    maxBytes: z.number().int().positive(),
    /** Age of the oldest waiting reading, seconds. */
    oldestAgeS: z.number().int().min(0),
    at: z.iso.datetime({ offset: true }),
  })
  .strict();
export type SpoolAlarm = z.infer<typeof SpoolAlarm>;

/** The rule id of the duty-officer alert the alerts service raises from a spool alarm. */
export const INGEST_SPOOL_RULE = 'ingest-spool';
