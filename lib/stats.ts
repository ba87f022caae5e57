/** The nearest-rank percentile (p in 0..100) of values sorted ascending; 0 for none. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** How many readings had arrived (or were visible) at time `t` (ms). */
export interface CountAt {
  t: number;
  n: number;
}

/**
 * Readings per second in the steady state of a run: between the first sample at or above `lo` of
 * `total` and the first at or above `hi`, from the counts at those samples (not from `lo` and `hi`
 * themselves: a store that makes rows visible in steps, as VictoriaMetrics does once a second,
 * is exact at its steps only). Leaves out the start (connections, filling the pipeline) and the
 * end (the last batch, the store's last step), which a whole-run average charges to the rate.
 * NaN when the samples do not span the window.
 */
export function steadyRate(samples: ArrayLike<CountAt>, total: number, lo = 0.1, hi = 0.9): number {
  let a: CountAt | undefined;
  for (let i = 0; i < samples.length; i++) {
    const s = samples[i]!;
    if (!a && s.n >= lo * total) a = s;
    if (a && s.n >= hi * total) return s.t > a.t ? ((s.n - a.n) * 1000) / (s.t - a.t) : Number.NaN;
  }
  return Number.NaN;
}
