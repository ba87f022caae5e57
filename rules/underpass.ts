/**
 * The underpass closure rule as a pure state machine (no I/O, no clock: time is the sensor's).
 *
 * - Close when ponding stays above `closeCm` for at least `closeSustainS` over at least
 *   `closeMinReadings` consecutive readings. Ultrasonic sensors see passing vehicles as upward
 *   spikes; one reading above the line never closes a road (DESIGN.md, Domain defaults).
 * - Reopen with hysteresis: only when ponding stays below the lower `reopenCm` for `reopenHoldS`
 *   over at least `closeMinReadings` readings.
 * Readings are evaluated in sensor-time order; older or duplicate timestamps are ignored, so a
 * redelivered or store-and-forward batch cannot flip the state back.
 */
import type { UnderpassThresholds } from '../config/registry.ts';

export type UnderpassState =
  | { phase: 'open'; lastTs: number | undefined; run: Run | undefined }
  | { phase: 'closed'; lastTs: number | undefined; run: Run | undefined; alertId: string; closedTs: number };

/** A run of consecutive readings on the far side of a threshold. */
interface Run {
  since: number;
  count: number;
}

export type UnderpassEvent =
  | { type: 'close'; alertId: string; ts: number; depthCm: number; thresholdCm: number; reason: string }
  | { type: 'reopen'; alertId: string; ts: number; depthCm: number; thresholdCm: number; reason: string };

export const initialUnderpassState: UnderpassState = { phase: 'open', lastTs: undefined, run: undefined };

export function alertIdFor(subjectId: string, closeTs: number): string {
  return `underpass-closure:${subjectId}:${closeTs}`;
}

function extend(run: Run | undefined, ts: number): Run {
  return run ? { since: run.since, count: run.count + 1 } : { since: ts, count: 1 };
}

export function evaluateUnderpass(
  state: UnderpassState,
  reading: { ts: number; depthCm: number },
  t: UnderpassThresholds,
  subjectId: string,
): { state: UnderpassState; event?: UnderpassEvent; stale?: true } {
  if (state.lastTs !== undefined && reading.ts <= state.lastTs) return { state, stale: true };
  const { ts, depthCm } = reading;

  if (state.phase === 'open') {
    if (depthCm <= t.closeCm) return { state: { phase: 'open', lastTs: ts, run: undefined } };
    const run = extend(state.run, ts);
    const heldS = (ts - run.since) / 1000;
    if (run.count >= t.closeMinReadings && heldS >= t.closeSustainS) {
      const alertId = alertIdFor(subjectId, ts);
      return {
        state: { phase: 'closed', lastTs: ts, run: undefined, alertId, closedTs: ts },
        event: {
          type: 'close',
          alertId,
          ts,
          depthCm,
          thresholdCm: t.closeCm,
          reason: `ponding above ${t.closeCm} cm for ${Math.round(heldS)} s (${run.count} readings), now ${depthCm} cm`,
        },
      };
    }
    return { state: { phase: 'open', lastTs: ts, run } };
  }

  // closed
  if (depthCm >= t.reopenCm) return { state: { ...state, lastTs: ts, run: undefined } };
  const run = extend(state.run, ts);
  const heldS = (ts - run.since) / 1000;
  if (run.count >= t.closeMinReadings && heldS >= t.reopenHoldS) {
    return {
      state: { phase: 'open', lastTs: ts, run: undefined },
      event: {
        type: 'reopen',
        alertId: state.alertId,
        ts,
        depthCm,
        thresholdCm: t.reopenCm,
        reason: `ponding below ${t.reopenCm} cm for ${Math.round(heldS)} s (${run.count} readings), now ${depthCm} cm`,
      },
    };
  }
  return { state: { ...state, lastTs: ts, run } };
}
