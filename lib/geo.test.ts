import { describe, expect, it } from 'vitest';
import { metresBetween } from './geo.ts';

describe('metresBetween', () => {
  it.each([
    // People's Square → Lujiazui and Wusong → Jinshan: the haversine great-circle distances
    { a: { lat: 31.2304, lon: 121.4737 }, b: { lat: 31.2397, lon: 121.4998 }, km: 2.69 },
    { a: { lat: 31.3833, lon: 121.5 }, b: { lat: 30.7416, lon: 121.3416 }, km: 72.93 },
    { a: { lat: 31, lon: 121 }, b: { lat: 31, lon: 121 }, km: 0 },
  ])('$a → $b ≈ $km km', ({ a, b, km }) => {
    expect(metresBetween(a, b) / 1000).toBeCloseTo(km, 1);
    expect(metresBetween(b, a)).toBeCloseTo(metresBetween(a, b), 6);
  });
});
