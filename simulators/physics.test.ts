import { describe, expect, it } from 'vitest';
import { averageIntensity, chicagoIntensity, depthCm, designDepth, gustFrontWind, M2_PERIOD_MIN, measure, pondStep, rainBetween, shouldReport, tideLevel, tipBucket, type Tide, type Underpass } from './physics.ts';
import { prng } from '../lib/prng.ts';

describe('Shanghai design storm', () => {
  it.each([
    // [P years, duration min] → the formula's own numbers: q = 1600(1+0.846 lg P)/(t+7)^0.656, i = 0.006 q
    [1, 60, 0.006 * 1600 / 67 ** 0.656],
    [3, 120, (0.006 * 1600 * (1 + 0.846 * Math.log10(3))) / 127 ** 0.656],
    [100, 180, (0.006 * 1600 * (1 + 0.846 * 2)) / 187 ** 0.656],
  ])('P=%i y, %i min: average intensity %f mm/min', (p, t, i) => {
    expect(averageIntensity(p, t)).toBeCloseTo(i, 12);
  });

  it.each([
    [1, 60, 0.37],
    [3, 120, 0.37],
    [50, 180, 0.37],
    [5, 120, 0.5],
    [5, 120, 0.2],
  ])('the Chicago hyetograph (P=%i, %i min, peak %f) integrates to the formula\'s depth', (p, d, r) => {
    const storm = { returnPeriodYears: p, durationMin: d, peak: r };
    expect(rainBetween(storm, 0, d, 0.01)).toBeCloseTo(designDepth(p, d), 1);
  });

  it('peaks at the peak position and holds each window\'s IDF depth around it', () => {
    const s = { returnPeriodYears: 3, durationMin: 120, peak: 0.37 };
    const tp = 0.37 * 120;
    expect(chicagoIntensity(s, tp)).toBeGreaterThan(chicagoIntensity(s, tp - 1));
    expect(chicagoIntensity(s, tp)).toBeGreaterThan(chicagoIntensity(s, tp + 1));
    // The 20 minutes around the peak (split r : 1-r) hold the 20-minute IDF depth.
    expect(rainBetween(s, tp - 0.37 * 20, tp + 0.63 * 20, 0.005)).toBeCloseTo(designDepth(3, 20), 1);
    expect(chicagoIntensity(s, -1)).toBe(0);
    expect(chicagoIntensity(s, 121)).toBe(0);
  });

  it.each([
    [0, 0.35, 0.1, 0.3, 0.05],
    [0.05, 0.35, 0.2, 0.4, 0.0],
    [0, 0.49, 0.5, 0, 0.49],
    [0.3, 0.3, 0.5, 0.5, 0.1],
  ])('tipping bucket: carry %f + fallen %f with %f mm tips → reports %f, carries %f', (carry, fallen, tip, reported, left) => {
    const r = tipBucket(carry, fallen, tip);
    expect(r.reportedMm).toBeCloseTo(reported, 9);
    expect(r.carryMm).toBeCloseTo(left, 9);
  });
});

describe('underpass reservoir', () => {
  const u: Underpass = { basinM2: 1200, catchmentM2: 20_000, runoff: 0.9, pumpM3PerMin: 9 };
  const run = (under: Underpass, rain: (t: number) => number, minutes: number, v0 = 0) => {
    let v = v0;
    for (let t = 0; t < minutes; t++) v = pondStep(under, v, rain(t), t, 1);
    return v;
  };
  it('a pump at capacity holds the level: inflow equal to capacity keeps the depth', () => {
    const holding = 9 / (0.9 * 20_000) * 1000; // mm/min that makes exactly 9 m³/min
    const v = run(u, () => holding, 60, 300);
    expect(depthCm(u, v)).toBeCloseTo(25, 9);
  });
  it('above capacity it fills, below it drains to a dry road, never below', () => {
    expect(depthCm(u, run(u, () => 1.0, 30))).toBeCloseTo((((0.9 * 1.0) / 1000) * 20_000 - 9) * 30 / 1200 * 100, 6);
    expect(run(u, () => 0, 120, 300)).toBe(0);
  });
  it('a pump that fails keeps the water coming', () => {
    const failing = { ...u, pumpFailsAtMin: 10 };
    expect(run(failing, () => 0.2, 60)).toBeGreaterThan(run(u, () => 0.2, 60));
    expect(run(u, () => 0.2, 60)).toBe(0); // 3.6 m³/min in, 9 out
  });
});

describe('tide', () => {
  const tide: Tide = { meanM: 3.3, amplitudeM: 1.2, highWaterAtMin: 0, springNeap: 0.2, springAtMin: 0, overtide: 0.15 };
  const highs = (t: Tide, minutes: number) => {
    const out: number[] = [];
    for (let m = 1; m < minutes; m++) if (tideLevel(t, m) > tideLevel(t, m - 1) && tideLevel(t, m) >= tideLevel(t, m + 1)) out.push(m);
    return out;
  };
  it('has the semidiurnal period of 12.42 h', () => {
    const h = highs(tide, 10 * 24 * 60);
    const gaps = h.slice(1).map((x, i) => x - h[i]!);
    const mean = gaps.reduce((a, b) => a + b, 0) / gaps.length;
    expect(mean).toBeCloseTo(M2_PERIOD_MIN, -1);
  });
  it('rises faster than it falls (about 5 h up, 7 h down)', () => {
    const lows: number[] = [];
    for (let m = 1; m < 3 * 24 * 60; m++) if (tideLevel(tide, m) < tideLevel(tide, m - 1) && tideLevel(tide, m) <= tideLevel(tide, m + 1)) lows.push(m);
    const hi = highs(tide, 3 * 24 * 60).find((x) => x > lows[0]!)!;
    const rise = hi - lows[0]!;
    const fall = M2_PERIOD_MIN - rise;
    expect(rise).toBeLessThan(fall);
    expect(rise / 60).toBeGreaterThan(4);
    expect(rise / 60).toBeLessThan(6);
  });
  it('swings wider at spring tide than at neap tide', () => {
    const range = (center: number) => {
      let lo = Infinity;
      let hi = -Infinity;
      for (let m = center - 12 * 60; m < center + 12 * 60; m++) {
        lo = Math.min(lo, tideLevel(tide, m));
        hi = Math.max(hi, tideLevel(tide, m));
      }
      return hi - lo;
    };
    expect(range(0)).toBeGreaterThan(range(7.385 * 24 * 60) * 1.4);
  });
  it('a typhoon surge and heavy rain lift Wusong over its 4.80 m warning level', () => {
    const wusong: Tide = { ...tide, meanM: 3.0, amplitudeM: 1.0 };
    const peak = (t: Tide, rain = 0) => Math.max(...Array.from({ length: 24 * 60 }, (_, m) => tideLevel(t, m, rain)));
    expect(peak(wusong)).toBeLessThan(4.8);
    expect(peak({ ...wusong, surgeM: 0.9, surgeAtMin: 12.42 * 60, surgeHours: 10, rainResponseMPerMm: 0.002 }, 80)).toBeGreaterThan(4.8);
  });
});

describe('gust front', () => {
  const w = { baseMs: 3, peakGustMs: 25, peakMeanMs: 13, leadMin: 6, decayMin: 15 };
  it.each<[number, number, number]>([
    [-20, 3, 4.2], // before the front: the background wind
    [-6, 3, 4.2], // the front reaches the station 6 min before the rain …
    [-4, 13, 25], // … and peaks within two minutes
    [11, 3 + 10 * Math.exp(-1), 4.2 + 20.8 * Math.exp(-1)], // one e-folding time later
  ])('minute %s after the rain began: mean %s m/s, gust %s m/s', (t, mean, gust) => {
    const v = gustFrontWind(w, t);
    expect(v.meanMs).toBeCloseTo(mean, 6);
    expect(v.gustMs).toBeCloseTo(gust, 6);
  });
  it('decays back to the background wind', () => {
    expect(gustFrontWind(w, 300).gustMs).toBeCloseTo(4.2, 3);
  });
});

describe('sensors', () => {
  it('same seed, same readings; resolution and floor respected', () => {
    const a = prng(42);
    const b = prng(42);
    const xs = Array.from({ length: 50 }, () => measure(12.34, 0.3, 0.1, a, 0));
    const ys = Array.from({ length: 50 }, () => measure(12.34, 0.3, 0.1, b, 0));
    expect(xs).toEqual(ys);
    expect(xs.every((x) => Math.abs(x * 10 - Math.round(x * 10)) < 1e-9)).toBe(true);
    expect(Array.from({ length: 50 }, () => measure(0.05, 0.5, 0.1, a, 0)).every((x) => x >= 0)).toBe(true);
  });
  it.each([
    ['first report', undefined, undefined, 5, false, true],
    ['normal interval not yet over', 0, 5, 5.1, false, false],
    ['normal interval over', 0, 5, 5.1, false, true],
    ['storm interval', 9, 5, 5.1, true, true],
    ['a large change reports at once', 9, 5, 8, false, true],
  ] as const)('%s', (_c, last, lastValue, value, stormy, expected) => {
    const t = _c === 'normal interval over' ? 15 : 10;
    expect(shouldReport({ normalMin: 15, stormMin: 1, changeDelta: 2 }, t, last, lastValue, value, stormy)).toBe(expected);
  });
});
