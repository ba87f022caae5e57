/**
 * Writes the example storm for `floodgate backtest`: storm-2026-07-01.ndjson (readings) and
 * storm-2026-07-01.labels.yaml (what really happened). Deterministic (seeded): run
 * `npx tsx examples/backtest/record-storm.ts` to regenerate it byte for byte.
 *
 * A simulated recording, made before the city's own archives are at hand: an evening storm over
 * one district of the demo city, 17:00–20:00 on 1 July 2026 — six underpasses (four flood past
 * 25 cm, one stays at 22 cm, one stays dry but has a car parked under its sensor for 20 minutes),
 * eight rain gauges reporting every 5 minutes in 0.5 mm tips, a truck passing under one sensor,
 * and the Wusong tide gauge crossing its 4.80 m warning level at high water. The labels are the
 * noise-free truth: when each road really was above 25 cm, when the river really was above 4.80 m.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { BUNDLED_CITY, loadRegistry } from '../../config/registry.ts';
import { prng } from '../../lib/prng.ts';
import { isoWithOffset } from '../../lib/time.ts';

const T0 = Date.parse('2026-07-01T17:00:00+08:00');
const MINUTES = 180;
const rand = prng(20260701);
const city = loadRegistry(BUNDLED_CITY);
const district = city.sites.find((s) => s.id === 'UP-001')!.district;
const underpasses = city.sites.filter((s) => s.kind === 'underpass' && s.district === district).slice(0, 6);
const sensorAt = (siteId: string) => city.sensors.find((s) => s.site === siteId)!.id;
const gauges = city.sensors.filter((s) => s.kind === 'rain' && city.sites.find((x) => x.id === s.site)!.district === district).slice(0, 8);

const lines: Array<{ ts: number; line: string }> = [];
const emit = (sensor: string, ts: number, fields: Record<string, number>) => lines.push({ ts, line: JSON.stringify({ sensor, ts: isoWithOffset(ts), ...fields }) });
const labels: string[] = [];
const label = (rule: string, subject: string, start: number, end: number, note: string) =>
  labels.push(`  - { rule: ${rule}, subject: ${subject}, start: "${isoWithOffset(start)}", end: "${isoWithOffset(end)}", note: "${note}" }`);

// Ponding: rise, peak, drain (smooth), ±0.3 cm noise, 0.1 cm resolution, one reading a minute.
const peaks = [38, 33, 30, 42, 22, 0];
underpasses.forEach((site, k) => {
  const id = sensorAt(site.id);
  const onset = 40 + k * 3;
  const peakAt = 80 + k * 4;
  const drained = 140 + k * 3;
  const truth = (m: number) => {
    if (m <= onset || m >= drained) return 0;
    if (m <= peakAt) return peaks[k]! * Math.sin((((m - onset) / (peakAt - onset)) * Math.PI) / 2) ** 2;
    return peaks[k]! * (1 - (m - peakAt) / (drained - peakAt)) ** 1.6;
  };
  let above: number | undefined;
  for (let m = 0; m < MINUTES; m++) {
    let d = truth(m);
    if (d > 25 && above === undefined) above = m;
    if (d <= 25 && above !== undefined) {
      label('underpass-closure', site.id, T0 + above * 60_000, T0 + (m - 1) * 60_000, `${site.name}: truly above 25 cm`);
      above = undefined;
    }
    if (k === 0 && m === 20) d += 41; // a truck passing on a dry road
    if (k === 5 && m >= 60 && m < 80) d = 32; // a car parked under the ultrasonic sensor
    const noisy = k === 5 && m >= 60 && m < 80 ? d : Math.max(0, d + (rand() - 0.5) * 0.6);
    emit(id, T0 + m * 60_000, { seq: m, depth_cm: Math.round(noisy * 10) / 10, battery_v: 3.62 });
  }
});

// Rain: a convective storm peaking around 18:00 (peak position r ≈ 0.37 of the 2 h event),
// 0.5 mm tipping buckets, one report every 5 minutes with the tips since the last one.
gauges.forEach((g, k) => {
  const scale = 0.8 + (k % 4) * 0.15;
  let carry = 0;
  for (let m = 5; m <= MINUTES; m += 5) {
    let mm = 0;
    for (let x = m - 5; x < m; x++) mm += scale * 1.6 * Math.exp(-(((x - 60 - k) / 18) ** 2));
    carry += mm;
    const tips = Math.floor(carry / 0.5);
    carry -= tips * 0.5;
    emit(g.id, T0 + m * 60_000, { seq: m / 5, rain_mm: tips * 0.5, interval_s: 300 });
  }
});

// Wusong tide gauge: high water at about 18:40, 4.95 m with a small surge; 5-minute readings.
const wl = 'WL-001';
let wlAbove: number | undefined;
for (let m = 0; m < MINUTES; m += 5) {
  const level = 3.6 + 1.35 * Math.cos((2 * Math.PI * (m - 100)) / (12.42 * 60));
  if (level >= 4.8 && wlAbove === undefined) wlAbove = m;
  if (level < 4.8 && wlAbove !== undefined) {
    label('water-level-warning', 'WS-001', T0 + wlAbove * 60_000, T0 + (m - 5) * 60_000, 'Wusong above 4.80 m');
    wlAbove = undefined;
  }
  emit(wl, T0 + m * 60_000, { seq: m / 5, level_m: Math.round((level + (rand() - 0.5) * 0.02) * 100) / 100 });
}
if (wlAbove !== undefined) label('water-level-warning', 'WS-001', T0 + wlAbove * 60_000, T0 + (MINUTES - 5) * 60_000, 'Wusong above 4.80 m');

lines.sort((a, b) => a.ts - b.ts);
const dir = (name: string) => fileURLToPath(new URL(name, import.meta.url));
writeFileSync(dir('storm-2026-07-01.ndjson'), lines.map((l) => l.line).join('\n') + '\n');
writeFileSync(
  dir('storm-2026-07-01.labels.yaml'),
  `# What really happened in storm-2026-07-01.ndjson (written by record-storm.ts; noise-free truth).
# A firing up to earlyToleranceS before a labelled start still counts as a hit (with lead time).
earlyToleranceS: 1800
events:
${labels.join('\n')}
`,
);
process.stdout.write(`wrote ${lines.length} readings and ${labels.length} labelled events (district ${district})\n`);
