import { openSpool } from '../ingest/spool.ts';
import { rmSync } from 'node:fs';
const path = '/tmp/admit-bench/spool.db';
rmSync('/tmp/admit-bench', { recursive: true, force: true });
const spool = openSpool(path, { sync: 'normal', dedupeWindowMs: 3600_000, seqToleranceMs: 600_000 });
const sensors = Array.from({ length: 20 }, (_, i) => `PD-${String(i + 1).padStart(3, '0')}`);
const tags = sensors.map((s) => ({ sensor: s, site: '长寿路下立交' + s, district: '普陀区' }));
let seq = 0; let ts = Date.now() - 3600_000;
const N = 200_000, G = Number(process.env.G ?? 500);
const groups: any[][] = [];
for (let g = 0; g < N / G; g++) {
  const batch = [];
  for (let i = 0; i < G; i++) { const k = i % 20; seq++; ts++; batch.push({ reading: { kind: 'ponding', sensorId: sensors[k], ts, seq, fields: { depth_cm: (seq % 500) / 10 } }, tags: tags[k] }); }
  groups.push(batch);
}
const t0 = process.hrtime.bigint();
for (const b of groups) spool.commit(b, [], Date.now());
const t1 = process.hrtime.bigint();
console.log('commit µs/reading', Number(t1 - t0) / N / 1000);
let drained = 0; const t2 = process.hrtime.bigint();
for (;;) { const rows = spool.peek(5000, { wholeSegments: true }); if (!rows.length) break; drained += rows.length; spool.remove(rows); }
console.log('peek+remove µs/reading', Number(process.hrtime.bigint() - t2) / N / 1000, drained);
