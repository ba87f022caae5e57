/**
 * What a chaos run is judged by: the simulator's own record of what it sent against what
 * VictoriaMetrics holds, and the closures and reopenings the rules engine raises offline on those
 * same readings (rules/backtest.ts) against what the police endpoint received.
 *
 *   readings lost        sent (valid) but not in VictoriaMetrics
 *   readings duplicated  points in VictoriaMetrics that were never sent, or sent once and stored
 *                        with two values
 *   notices missing / duplicated / out of order
 *
 * Raw rewrites (the same point written twice — InfluxDB overwrites them, VictoriaMetrics keeps
 * both) and police re-deliveries of the same notice id (answered as duplicates by the endpoint)
 * are counted, not failures: both are the at-least-once delivery DESIGN.md promises, made
 * idempotent by the point key and the Idempotency-Key.
 */
import type { Registry } from '../../config/registry.ts';
import { MAIN_FIELD, MEASUREMENT, parseReadingPayload, parseSensorTopic, type Reading } from '../../contracts/index.ts';
import type { ReceiverHandle } from '../../alerts/receiver/police-receiver.ts';
import { loadRules, DEFAULT_RULES_PATH } from '../../rules/load.ts';
import { engineContext } from '../../rules/context.ts';
import { replay } from '../../rules/backtest.ts';
import type { VictoriaMetrics } from '../helpers/servers.ts';
import { eventually } from '../helpers/stack.ts';

export interface Sent {
  /** Series point (name|sensor|ts) → value. */
  expected: Map<string, number>;
  readings: Reading[];
}

/** The simulator's record (`record` lines of runScenario) as series points and readings. */
export function sentReadings(lines: string[]): Sent {
  const expected = new Map<string, number>();
  const readings: Reading[] = [];
  for (const line of lines) {
    const { topic, payload } = JSON.parse(line) as { topic: string; payload: string };
    const t = parseSensorTopic(topic)!;
    for (const r of parseReadingPayload(t.kind, t.sensorId, payload).readings) {
      readings.push(r);
      expected.set(`${MEASUREMENT[r.kind]}_${MAIN_FIELD[r.kind].field}|${r.sensorId}|${r.ts}`, r.fields[MAIN_FIELD[r.kind].field]!);
    }
  }
  return { expected, readings };
}

export interface ReadingCounts {
  stored: number;
  lost: string[];
  /** Never sent, or stored with another value. */
  duplicated: string[];
  rewrites: number;
}

/** Waits (up to `timeoutMs`) for every sent point to be in VictoriaMetrics, then counts. */
export async function compareReadings(vm: VictoriaMetrics, sent: Sent, timeoutMs: number): Promise<ReadingCounts> {
  const names = Object.entries(MEASUREMENT).map(([kind, m]) => `${m}_${MAIN_FIELD[kind as keyof typeof MAIN_FIELD].field}`);
  let stored = new Map<string, number[]>();
  const collect = async () => {
    stored = new Map();
    for (const series of await vm.export(names.join('|'))) {
      const name = series.metric['__name__']!;
      series.timestamps.forEach((ts, i) => {
        const k = `${name}|${series.metric['sensor']}|${ts}`;
        stored.set(k, [...(stored.get(k) ?? []), series.values[i]!]);
      });
    }
  };
  const { expected } = sent;
  await eventually(
    async () => {
      await collect();
      return [...expected.keys()].every((k) => stored.has(k));
    },
    'every sent reading in VictoriaMetrics',
    timeoutMs,
  ).catch(() => undefined); // the counts say what is missing
  await collect();
  const extra = [...stored.keys()].filter((k) => !expected.has(k));
  const conflicting = [...stored.entries()].filter(([k, vs]) => expected.has(k) && vs.some((v) => Math.abs(v - expected.get(k)!) > 1e-9)).map(([k]) => k);
  return {
    stored: [...expected.keys()].filter((k) => stored.has(k)).length,
    lost: [...expected.keys()].filter((k) => !stored.has(k)),
    duplicated: [...extra, ...conflicting],
    rewrites: [...stored.values()].reduce((n, vs) => n + vs.length - 1, 0),
  };
}

export interface NoticeCounts {
  want: string[];
  got: string[];
  missing: string[];
  /** Delivered but never raised offline, or delivered twice as new. */
  duplicated: string[];
  outOfOrder: string[];
  redeliveries: number;
}

/** The closures and reopenings the engine raises on exactly these readings, offline. */
export function expectedNotices(readings: Reading[], registry: Registry): string[] {
  const ctx = engineContext(registry, loadRules(DEFAULT_RULES_PATH, registry.sites));
  return replay(readings, ctx)
    .transitions.filter((t) => t.ruleId === 'underpass-closure')
    .map((t) => `${t.alertId}:${t.state === 'firing' ? 'close' : 'reopen'}`);
}

/** Waits (up to `timeoutMs`) for every expected notice at the police endpoint, then counts. */
export async function compareNotices(police: ReceiverHandle, want: string[], timeoutMs: number): Promise<NoticeCounts> {
  const wantSet = new Set(want);
  const delivered = () => police.received.filter((n) => !n.duplicate).map((n) => n.notice.noticeId);
  await eventually(() => want.every((id) => delivered().includes(id)), `all ${want.length} notices delivered (have ${delivered().length})`, timeoutMs).catch(() => undefined);
  const got = delivered();
  // Per underpass, the notices must arrive in the order the transitions happened.
  const orderOf = (ids: string[]) => {
    const by = new Map<string, string[]>();
    for (const id of ids) {
      const site = id.split(':')[1]!;
      by.set(site, [...(by.get(site) ?? []), id]);
    }
    return by;
  };
  const wantOrder = orderOf(want);
  const seen = new Set<string>();
  return {
    want,
    got,
    missing: want.filter((id) => !got.includes(id)),
    duplicated: [...got.filter((id) => !wantSet.has(id)), ...got.filter((id) => (seen.has(id) ? true : (seen.add(id), false)))],
    outOfOrder: [...orderOf(got.filter((id) => wantSet.has(id))).entries()].filter(([site, ids]) => ids.join() !== (wantOrder.get(site) ?? []).slice(0, ids.length).join()).map(([site]) => site),
    redeliveries: police.received.filter((n) => n.duplicate).length,
  };
}

/** The report lines both chaos suites print. */
export function countLines(sent: Sent, r: ReadingCounts, n: NoticeCounts): string[] {
  return [
    `  readings sent ${sent.expected.size}, stored ${r.stored}`,
    `  readings lost: ${r.lost.length}`,
    `  readings duplicated: ${r.duplicated.length}`,
    `  raw rewrites kept by VictoriaMetrics (same point twice; InfluxDB overwrites): ${r.rewrites}`,
    `  notices expected ${n.want.length} (closures and reopenings), delivered ${n.got.length}`,
    `  notices missing: ${n.missing.length}`,
    `  notices duplicated: ${n.duplicated.length}`,
    `  notices out of order: ${n.outOfOrder.length}`,
  ];
}

/** What the alerts service says of each missing notice (status, attempts, last error): a failed run explains itself. */
export async function explainMissing(httpBase: string, token: string, missing: string[]): Promise<string[]> {
  if (missing.length === 0) return [];
  const res = await fetch(`${httpBase}/api/notices?limit=1000`, { headers: { authorization: `Bearer ${token}` } }).catch(() => undefined);
  const known = res?.ok ? ((await res.json()) as { notices: Array<{ noticeId: string; status: string; attempts: number; lastError: string | null; nextAttemptAt: string }> }).notices : [];
  return missing.slice(0, 10).map((id) => {
    const n = known.find((x) => x.noticeId === id);
    return `    ${id}: ${n ? `${n.status}, ${n.attempts} attempts, next ${n.nextAttemptAt}, last error ${n.lastError ?? '-'}` : 'unknown to the alerts service'}`;
  });
}
