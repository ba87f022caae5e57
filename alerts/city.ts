/**
 * The city as the console draws it: districts, sites with their place and their sensors — the
 * registry without secrets and without load-test devices. Fetched once per console (the map, the
 * names on every row); the live stream then carries only ids.
 */
import type { Registry } from '../config/registry.ts';

export interface CityView {
  city: { id: string; zh?: string; en?: string };
  districts: Array<{ id: string; name: string }>;
  sites: Array<{ id: string; kind: string; name: string; road: string; district: string; lat: number; lon: number }>;
  sensors: Array<{ id: string; kind: string; site: string }>;
}

export function cityView(r: Registry): CityView {
  return {
    city: { id: r.city, ...(r.cityNames?.zh ? { zh: r.cityNames.zh } : {}), en: r.cityNames?.en ?? r.city },
    districts: r.districts.map((d) => ({ id: d.id, name: d.name })),
    sites: r.sites.map((s) => ({ id: s.id, kind: s.kind, name: s.name, road: s.road, district: s.district, lat: s.lat, lon: s.lon })),
    sensors: r.sensors.filter((s) => !s.loadTest).map((s) => ({ id: s.id, kind: s.kind, site: s.site })),
  };
}
