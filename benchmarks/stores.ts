/**
 * Alerts store benchmark: the embedded SQLite store (`floodgate up`'s default: WAL,
 * synchronous=FULL) against PostgreSQL 15 (a local server from Debian's package, fsync and
 * synchronous commit on: the defaults a deployment keeps), in one run, alternating.
 *
 * 1. Alert transitions/s: underpasses close and reopen, each transition with its police notice,
 *    in groups of BENCH_STORES_GROUP events per transaction as the alerts service commits them.
 * 2. Notices/s: the outbox delivers every queued notice (due → delivered with its attempt).
 *
 *   npm run bench -- stores     (BENCH_STORES_SUBJECTS=1000 BENCH_STORES_GROUP=20 BENCH_STORES_ROUNDS=2)
 */
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { openAlertStore } from '../alerts/sqlite-store.ts';
import { openPgAlertStore } from '../alerts/pg-store.ts';
import type { AlertStore, NewNotice } from '../alerts/store.ts';
import type { AlertEvent } from '../contracts/index.ts';
import { startPostgres } from '../test/helpers/postgres.ts';
import { tempDir } from '../test/helpers/servers.ts';

const SUBJECTS = Number(process.env['BENCH_STORES_SUBJECTS'] ?? 1000);
const GROUP = Number(process.env['BENCH_STORES_GROUP'] ?? 20);
const ROUNDS = Number(process.env['BENCH_STORES_ROUNDS'] ?? 2);
const HERE = fileURLToPath(new URL('.', import.meta.url));
const log = (s: string) => process.stdout.write(s + '\n');
const T0 = Date.parse('2026-07-01T10:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString();

const event = (round: number, i: number, state: 'firing' | 'resolved'): AlertEvent => ({ alertId: `underpass-closure:UP-${i}:${round}`, ruleId: 'underpass-closure', subjectId: `UP-${i}`, sensorId: `PD-${i}`, state, severity: 'critical', value: 31, threshold: 25, unit: 'cm', observedAt: iso(T0), changedAt: iso(T0), reason: 'ponding above 25 cm' });
const notice = (e: AlertEvent, action: 'close' | 'reopen'): NewNotice => ({ noticeId: `${e.alertId}:${action}`, recipient: 'police', format: 'json', alertId: e.alertId, subjectId: e.subjectId, action, url: 'http://police.example/', secretRef: 'S', body: JSON.stringify({ noticeId: `${e.alertId}:${action}`, pad: 'x'.repeat(400) }) });

/** Every subject closes then reopens: 2 × SUBJECTS transitions, GROUP per transaction. Transitions/s. */
async function transitions(store: AlertStore, round: number): Promise<number> {
  const t = performance.now();
  for (const state of ['firing', 'resolved'] as const) {
    for (let g = 0; g < SUBJECTS; g += GROUP) {
      await store.atomically(async (tx) => {
        for (let i = g; i < Math.min(SUBJECTS, g + GROUP); i++) {
          const e = event(round, i, state);
          await tx.nextNoticeSequence(e.subjectId);
          if (state === 'firing') await tx.openAlert(e, iso(T0), [notice(e, 'close')], T0);
          else await tx.resolveAlert(e, iso(T0), [notice(e, 'reopen')], T0);
        }
      });
    }
  }
  return (2 * SUBJECTS) / ((performance.now() - t) / 1000);
}

/** The outbox's work: take what is due, record each delivery with its attempt. Notices/s. */
async function deliveries(store: AlertStore): Promise<number> {
  const t = performance.now();
  let n = 0;
  for (;;) {
    const due = await store.dueNotices(T0 + 1, 32);
    if (due.length === 0) break;
    for (const x of due) await store.markDelivered(x.seq, T0 + 1, { attempt: 1, httpStatus: 200, latencyMs: 5, error: null });
    n += due.length;
  }
  return n / ((performance.now() - t) / 1000);
}

const dir = tempDir('bench-stores');
const server = await startPostgres({ durable: true });
const pool = new pg.Pool({ connectionString: server.url, max: 4 });
pool.on('error', () => undefined);
const results: Record<string, { transitions: number[]; notices: number[] }> = { 'SQLite (embedded, `up`)': { transitions: [], notices: [] }, 'PostgreSQL 15 (local, fsync on)': { transitions: [], notices: [] } };
try {
  for (let round = 1; round <= ROUNDS; round++) {
    for (const [name, open] of [
      ['SQLite (embedded, `up`)', async () => openAlertStore(join(dir.path, `alerts-${round}.db`))],
      ['PostgreSQL 15 (local, fsync on)', async () => openPgAlertStore(pool)],
    ] as const) {
      const store = await open();
      const tr = await transitions(store, round);
      const nt = await deliveries(store);
      await store.close();
      results[name]!.transitions.push(tr);
      results[name]!.notices.push(nt);
      log(`round ${round} ${name}: ${Math.round(tr)} transitions/s, ${Math.round(nt)} notices/s`);
    }
  }
} finally {
  await pool.end();
  await server.stop();
  dir.remove();
}
const fmt = (xs: number[]) => xs.map((x) => Math.round(x).toLocaleString('en')).join(' / ');
const table = [
  `# Alerts store: SQLite against PostgreSQL (${SUBJECTS} underpasses close and reopen, ${GROUP} events per transaction; rounds ${ROUNDS})`,
  '',
  '| store | alert transitions/s (each with its notice) | notices delivered/s (due → delivered + attempt) |',
  '|---|---|---|',
  ...Object.entries(results).map(([name, r]) => `| ${name} | ${fmt(r.transitions)} | ${fmt(r.notices)} |`),
  '',
].join('\n');
log('\n' + table);
writeFileSync(`${HERE}results-stores.md`, table);
