import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { clipToNearer, districtOutlines, voronoiCells } from './districts-geojson.ts';
import { buildDemoCity, DISTRICTS } from './demo-city.ts';

/** Ray casting: is the point inside the ring? */
function inside([x, y]: number[], ring: number[][]): boolean {
  let c = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i]!;
    const [xj, yj] = ring[j]!;
    if (yi! > y! !== yj! > y! && x! < ((xj! - xi!) * (y! - yi!)) / (yj! - yi!) + xi!) c = !c;
  }
  return c;
}

describe('schematic district outlines', () => {
  it.each([
    ['a square halved', [[0, 0], [2, 0], [2, 2], [0, 2]], [0.5, 1], [1.5, 1], [[0, 0], [1, 0], [1, 2], [0, 2]]],
    ['all on the near side', [[0, 0], [1, 0], [1, 1], [0, 1]], [0, 0], [10, 10], [[0, 0], [1, 0], [1, 1], [0, 1]]],
  ] as const)('clip: %s', (_n, poly, a, b, want) => {
    expect(clipToNearer(poly.map((p) => [...p] as [number, number]), [...a] as [number, number], [...b] as [number, number])).toEqual(want.map((p) => [...p]));
  });

  it('each centre lies in its own cell only', () => {
    const centres: Array<[number, number]> = [[0, 0], [4, 0], [2, 3]];
    const cells = voronoiCells(centres, [[-5, -5], [9, -5], [9, 9], [-5, 9]]);
    centres.forEach((c, i) => cells.forEach((cell, j) => expect(inside(c, cell), `${i} in ${j}`).toBe(i === j)));
  });

  it('the shipped file is what the generator writes, one closed polygon per district', () => {
    const file = JSON.parse(readFileSync(new URL('./districts.geojson', import.meta.url), 'utf8')) as { features: Array<{ properties: { id: string }; geometry: { coordinates: number[][][] } }> };
    expect(file).toEqual(JSON.parse(JSON.stringify(districtOutlines())));
    expect(file.features.map((f) => f.properties.id)).toEqual(DISTRICTS.map((d) => d[0]));
    for (const f of file.features) expect(f.geometry.coordinates[0]!.at(-1)).toEqual(f.geometry.coordinates[0]![0]);
    // Every site of the demo city falls inside some outline.
    const city = buildDemoCity();
    const outside = city.sites.filter((s) => !file.features.some((f) => inside([s.lon, s.lat], f.geometry.coordinates[0]!)));
    expect(outside).toEqual([]);
  });
});
