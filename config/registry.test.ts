import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { buildDemoCity } from './demo-city.ts';
import { BUNDLED_CITY, hashSecret, parseRegistry, verifySecret, type Registry } from './registry.ts';

describe('bundled demo city', () => {
  const city = parseRegistry(JSON.parse(readFileSync(BUNDLED_CITY, 'utf8')), BUNDLED_CITY);

  it('is exactly what the generator makes (regenerate with `npx tsx config/demo-city.ts`)', () => {
    expect(city).toEqual(buildDemoCity());
  });

  it('has Shanghai’s scale: 157 water-level, 550 rain, 500 underpasses each with a ponding sensor', () => {
    const ids = (kind: string) => city.sensors.filter((s) => s.kind === kind).map((s) => s.id);
    const range = (p: string, n: number) => Array.from({ length: n }, (_, i) => `${p}-${String(i + 1).padStart(3, '0')}`);
    expect(ids('water-level')).toEqual(range('WL', 157));
    expect(ids('rain')).toEqual(range('RG', 550));
    expect(ids('ponding')).toEqual(range('PD', 500));
    for (const s of city.sensors.filter((x) => x.kind === 'ponding')) expect(s.site).toBe(s.id.replace('PD', 'UP'));
    const underpasses = city.sites.filter((s) => s.kind === 'underpass');
    expect(underpasses).toHaveLength(500);
    for (const u of underpasses) {
      expect(u.underpass).toBeUndefined(); // thresholds come from the rules file (config/rules.yaml)
      expect(u.name).toMatch(/下立交$/);
      expect(u.lat).toBeGreaterThan(30.6);
      expect(u.lat).toBeLessThan(31.9);
      expect(u.lon).toBeGreaterThan(120.8);
      expect(u.lon).toBeLessThan(122.1);
    }
  });

  it('spreads sites over all 16 districts, each with a police endpoint', () => {
    const used = new Set(city.sites.map((s) => s.district));
    expect(used.size).toBe(16);
    for (const d of city.districts) expect(d.police).toEqual({ url: '$FLOODGATE_POLICE_URL', secretRef: 'FLOODGATE_POLICE_SECRET' });
  });

  it('carries the named warning levels of DESIGN.md', () => {
    const level = (name: string) => city.sites.find((s) => s.name === name)?.warningLevelM;
    expect([level('吴淞'), level('黄浦公园'), level('米市渡')]).toEqual([4.8, 4.55, 3.8]);
  });

  it('holds no secrets', () => {
    expect(city.sensors.every((s) => s.secretHash === undefined)).toBe(true);
  });
});

describe('parseRegistry', () => {
  const base = (): Registry => ({
    version: 1,
    city: 't',
    districts: [{ id: 'd1', name: 'D1', police: { url: 'http://x', secretRef: 'S' } }],
    sites: [{ id: 'UP-1', kind: 'underpass', name: 'U', road: '', district: 'd1', lat: 31, lon: 121 }],
    sensors: [{ id: 'PD-1', kind: 'ponding', site: 'UP-1' }],
  });
  it.each<[string, (r: Registry) => void, string]>([
    ['unknown district', (r) => (r.sites[0]!.district = 'nope'), 'unknown district nope'],
    ['unknown site', (r) => (r.sensors[0]!.site = 'nope'), 'unknown site nope'],
    ['duplicate sensor', (r) => r.sensors.push({ ...r.sensors[0]! }), 'duplicate sensor id PD-1'],
    ['ponding sensor away from an underpass', (r) => ((r.sites[0] as { kind: string }).kind = 'rain-station'), 'must sit at an underpass'],
    ['a name ending in a backslash', (r) => (r.sites[0]!.name = 'bad\\'), 'backslash'],
    ['a name with a newline', (r) => (r.sites[0]!.name = 'two\nlines'), 'control characters'],
    ['a sensor id with a slash', (r) => (r.sensors[0]!.id = 'PD/1'), 'ids are'],
  ])('refuses %s with a clear message', (_n, mutate, message) => {
    const r = base();
    mutate(r);
    expect(() => parseRegistry(r, 'test.json')).toThrow(message);
  });
});

describe('secret hashes', () => {
  it('verifies the right secret only, with a fresh salt each time', async () => {
    const a = await hashSecret('correct horse');
    const b = await hashSecret('correct horse');
    expect(a).toMatch(/^sha256\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    expect(a).not.toBe(b);
    expect(await verifySecret('correct horse', a)).toBe(true);
    expect(await verifySecret('correct horsf', a)).toBe(false);
    expect(await verifySecret('correct horse', 'plaintext')).toBe(false);
    expect(await verifySecret('correct horse', 'sha256$$')).toBe(false);
  });

  it('still verifies the scrypt hashes of registries written by earlier versions', async () => {
    const old = await hashSecret('correct horse', { scheme: 'scrypt', N: 1024 });
    expect(old).toMatch(/^scrypt\$1024\$8\$1\$/);
    expect(await verifySecret('correct horse', old)).toBe(true);
    expect(await verifySecret('correct horsf', old)).toBe(false);
  });
});
