/**
 * Ponding depth under an underpass during a short convective storm: pure, seeded.
 * Depth rises after the rain's onset, peaks, then drains; passing vehicles show up as single
 * upward spikes on ultrasonic sensors (DESIGN.md), which the closure rule must ignore.
 */
export interface StormProfile {
  /** Simulated minutes in total. */
  durationMin: number;
  onsetMin: number;
  peakMin: number;
  drainedMin: number;
  peakCm: number;
  /** Minutes at which a vehicle spike is injected. */
  spikesAtMin: number[];
}

/** A profile per sensor: peaks between 32 and 45 cm, so every one crosses 25 cm. */
export function underpassStormProfile(rand: () => number): StormProfile {
  return {
    durationMin: 90,
    onsetMin: 8 + Math.floor(rand() * 4),
    peakMin: 32 + Math.floor(rand() * 6),
    drainedMin: 62 + Math.floor(rand() * 4),
    peakCm: 32 + rand() * 13,
    spikesAtMin: [4 + Math.floor(rand() * 3)],
  };
}

/** Depth in cm at `minute`, with ±0.4 cm sensor noise (never below 0). */
export function depthAt(p: StormProfile, minute: number, rand: () => number): number {
  let depth: number;
  if (minute <= p.onsetMin || minute >= p.drainedMin) depth = 0;
  else if (minute <= p.peakMin) {
    const x = (minute - p.onsetMin) / (p.peakMin - p.onsetMin);
    depth = p.peakCm * Math.sin((x * Math.PI) / 2) ** 2; // smooth rise
  } else {
    const x = (minute - p.peakMin) / (p.drainedMin - p.peakMin);
    depth = p.peakCm * (1 - x) ** 1.6; // drains slower at the end
  }
  if (p.spikesAtMin.includes(minute)) depth += 35 + rand() * 15;
  const noisy = depth + (rand() - 0.5) * 0.8;
  return Math.max(0, Math.round(noisy * 10) / 10);
}
