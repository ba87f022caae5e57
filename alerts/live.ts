/**
 * The console's live stream (server-sent events). Changes arrive as hints (which alerts, which
 * notices, whether silences changed); every `coalesceMs` the hinted records are read once, put in
 * one batch, serialized once, numbered in the feed and written to every open console. A console
 * that connects gets the whole current state once (`reset`), or — reconnecting with
 * `Last-Event-ID` — only the batches it missed. So the cost of a change does not grow with the
 * number of consoles, and a console's traffic is the changes, not the state (issue 19 §3).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../lib/logger.ts';
import type { Clock } from '../lib/clock.ts';
import { counter, gauge, type Registry as Metrics } from '../lib/metrics.ts';
import { isoWithOffset } from '../lib/time.ts';
import { createFeed } from './feed.ts';
import { silenceFor } from './transitions.ts';
import type { AlertRecord, AlertStore, Silence } from './store.ts';
import { alertWire, noticeWire, type AlertWire } from './views.ts';

/** What changed: the console's stream reads these records again (an alert with its notices). */
export interface ChangeHint {
  alerts?: string[];
  notices?: number[];
  /** A silence was added or ended: the next batch carries the silences in force (sent whenever they differ). */
  silences?: boolean;
}

/** A sensor's latest value and its change over the last ten minutes (null: not known). */
export type Level = [value: number, trend: number | null];

export interface LiveDeps {
  store: AlertStore;
  clock: Clock;
  logger: Logger;
  metrics: Metrics;
  /** Latest values of these sensors (the closure board's "depth now and trend"). */
  levels?(sensorIds: string[]): Map<string, Level>;
  coalesceMs?: number;
  levelsMs?: number;
  /** A console that has this much unsent is dropped; it reconnects and resumes. */
  maxBufferedBytes?: number;
}

/** Rules whose subject has a live level worth showing beside the alert. */
const LEVEL_RULES = new Set(['underpass-closure', 'underpass-warning', 'water-level-warning', 'water-level-danger', 'water-level-rise', 'pump-advisory']);

export async function overviewOf(store: AlertStore) {
  const [f, counts] = await Promise.all([store.firingByRule(), store.noticeCounts()]);
  return {
    underpassesClosed: f['underpass-closure'] ?? 0,
    riversAboveWarning: f['water-level-warning'] ?? 0,
    riversAboveDanger: f['water-level-danger'] ?? 0,
    districtsInRainstorm: f['district-rainstorm'] ?? 0,
    sensorsOffline: f['sensor-offline'] ?? 0,
    noticesFailed: counts['failed'] ?? 0,
  };
}

export const silenceView = (s: Silence) => ({ ...s, until: isoWithOffset(s.until), createdAt: isoWithOffset(s.createdAt), endedAt: s.endedAt === null ? null : isoWithOffset(s.endedAt) });

type Tracked = Pick<AlertRecord, 'ruleId' | 'subjectId' | 'sensorId' | 'site' | 'district'> & { silenced: boolean };

/** The firing alerts as the consoles know them: to resend those whose silenced mark changed, and to know whose levels to send. */
function createFiringSet(clock: Clock) {
  const firing = new Map<string, Tracked>();
  const silencedNow = (a: Omit<Tracked, 'silenced'>, silences: Silence[]) => silenceFor(a, silences, clock.now()) !== undefined;
  return {
    track(a: AlertRecord, silences: Silence[]): AlertWire {
      const silenced = a.state === 'firing' && silencedNow(a, silences);
      if (a.state === 'firing') firing.set(a.alertId, { ruleId: a.ruleId, subjectId: a.subjectId, sensorId: a.sensorId, site: a.site, district: a.district, silenced });
      else firing.delete(a.alertId);
      return alertWire(a, silenced);
    },
    /** Silences changed or expired: the alerts whose silenced mark changed. */
    resilenced(silences: Silence[]): string[] {
      const out: string[] = [];
      for (const [id, f] of firing) if (silencedNow(f, silences) !== f.silenced) out.push(id);
      return out;
    },
    levelSensors: () => [...new Set([...firing.values()].filter((f) => LEVEL_RULES.has(f.ruleId)).map((f) => f.sensorId))],
  };
}

/** What a new console gets first: every firing alert, recent ones, silences, the notices that matter, levels. */
async function wholeState(store: AlertStore, now: number, firing: ReturnType<typeof createFiringSet>, levels: LiveDeps['levels']) {
  const silences = await store.activeSilences(now);
  const alerts = (await store.listAlerts({ state: 'firing', limit: 1_000_000 })).map((a) => firing.track(a, silences));
  const recent = (await store.listAlerts({ state: 'resolved', limit: 50 })).map((a) => alertWire(a, false));
  const noticeRows = new Map((await store.noticesOfFiring()).map((n) => [n.seq, n]));
  for (const n of await store.listNotices({ limit: 50 })) noticeRows.set(n.seq, n);
  return {
    at: isoWithOffset(now),
    overview: await overviewOf(store),
    alerts,
    recent,
    silences: silences.map(silenceView),
    notices: [...noticeRows.values()].sort((a, b) => a.seq - b.seq).map(noticeWire),
    levels: Object.fromEntries(levels?.(firing.levelSensors()) ?? []),
  };
}

const SSE_HEADERS = { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' };

/** Levels that differ from what the consoles were last sent (`sent` is updated). */
function changedLevels(levels: NonNullable<LiveDeps['levels']>, sensors: string[], sent: Map<string, string>): Record<string, Level> | undefined {
  const out: Record<string, Level> = {};
  let any = false;
  for (const [id, lv] of levels(sensors)) {
    const key = lv.join(',');
    if (sent.get(id) === key) continue;
    sent.set(id, key);
    out[id] = lv;
    any = true;
  }
  if (sent.size > 4 * sensors.length + 100) for (const id of sent.keys()) if (!sensors.includes(id)) sent.delete(id);
  return any ? out : undefined;
}

/** A batch to every console; one that has this much unsent is dropped (it resumes on reconnect). */
function writeToAll(clients: Set<ServerResponse>, text: string, maxBuffered: number, m: { dropped: { inc(): void }; bytes: { inc(n: number): void } }, log: Logger): void {
  for (const res of clients) {
    if (res.writableLength > maxBuffered) {
      m.dropped.inc();
      log.warn({ buffered: res.writableLength }, 'console not reading its stream: dropped (it resumes on reconnect)');
      res.destroy();
      continue;
    }
    res.write(text);
    m.bytes.inc(text.length);
  }
}

export interface Live {
  hint(change: ChangeHint): void;
  /** Serve one console: `lastEventId` from the header (or the query, for clients that cannot set it). */
  attach(req: IncomingMessage, res: ServerResponse, lastEventId: string | undefined): Promise<void>;
  /** The whole current state (what a new console gets first). */
  state(): Promise<object>;
  close(): void;
}

const batchText = (b: { id: number; text: string }) => `id: ${b.id}\nevent: batch\ndata: ${b.text}\n\n`;

/**
 * What a console gets first: the batches it missed (Last-Event-ID), or the whole state. The state
 * is read asynchronously: batches made meanwhile follow it (a batch carries whole records, so one
 * the state already includes changes nothing).
 */
async function firstWords(feed: ReturnType<typeof createFeed>, lastEventId: string | undefined, state: () => Promise<object>, starts: { inc(l: { kind: string }): void }): Promise<string> {
  const missed = lastEventId !== undefined && /^\d+$/.test(lastEventId) ? feed.since(Number(lastEventId)) : null;
  starts.inc({ kind: missed ? 'resume' : 'reset' });
  if (missed) return missed.map(batchText).join('');
  const before = feed.lastId();
  const whole = await state();
  return `id: ${before}\nevent: reset\ndata: ${JSON.stringify(whole)}\n\n` + (feed.since(before) ?? []).map(batchText).join('');
}

export function createLive(deps: LiveDeps): Live {
  const { store, clock } = deps;
  const log = deps.logger.child({ component: 'console-stream' });
  const feed = createFeed({ maxBatches: 5000, maxBytes: 16 * 2 ** 20 });
  const m = {
    consoles: gauge(deps.metrics, 'floodgate_console_streams', 'Consoles connected to the live stream'),
    bytes: counter(deps.metrics, 'floodgate_console_stream_bytes_total', 'Bytes written to console streams'),
    starts: counter(deps.metrics, 'floodgate_console_stream_starts_total', 'Console streams started: reset (whole state) or resume (Last-Event-ID)', ['kind']),
    dropped: counter(deps.metrics, 'floodgate_console_stream_dropped_total', 'Consoles dropped for not reading their stream'),
  };
  const clients = new Set<ServerResponse>();
  const pending = { alerts: new Set<string>(), notices: new Set<number>() };
  let timer: NodeJS.Timeout | undefined;

  // What the consoles were last told, to send only what differs.
  let lastOverview = '';
  let lastSilences = '';
  const firing = createFiringSet(clock);
  const sentLevels = new Map<string, string>();

  const write = (text: string) => writeToAll(clients, text, deps.maxBufferedBytes ?? 4 * 2 ** 20, m, log);

  async function flush(withLevels: boolean): Promise<void> {
    // What was hinted so far; hints that arrive while this batch is read go to the next one.
    const hinted = { alerts: new Set(pending.alerts), notices: new Set(pending.notices) };
    pending.alerts.clear();
    pending.notices.clear();
    // The silences in force, sent when they differ from the last sent: added, ended, expired, or
    // ended with their alert ("until resolved") — one comparison instead of a hint from each place.
    const silences = await store.activeSilences(clock.now());
    const silenceViews = silences.map(silenceView);
    const silencesText = JSON.stringify(silenceViews);
    const silencesChanged = silencesText !== lastSilences;
    const ids = new Set(hinted.alerts);
    if (silencesChanged || withLevels) for (const id of firing.resilenced(silences)) ids.add(id);
    // An alert's notices go with it (a close is queued in the transition's transaction).
    for (const id of hinted.alerts) for (const n of await store.noticesOfAlert(id)) hinted.notices.add(n.seq);
    const alerts: AlertWire[] = [];
    for (const id of ids) {
      const a = await store.getAlert(id);
      if (a) alerts.push(firing.track(a, silences));
    }
    const notices: Array<ReturnType<typeof noticeWire>> = [];
    for (const seq of hinted.notices) {
      const n = await store.getNotice(seq);
      if (n) notices.push(noticeWire(n));
    }
    const overview = JSON.stringify(await overviewOf(store));
    const levels = withLevels && deps.levels ? changedLevels(deps.levels, firing.levelSensors(), sentLevels) : undefined;
    const batch = {
      at: isoWithOffset(clock.now()),
      ...(alerts.length ? { alerts } : {}),
      ...(notices.length ? { notices } : {}),
      ...(silencesChanged ? { silences: silenceViews } : {}),
      ...(overview !== lastOverview ? { overview: JSON.parse(overview) as object } : {}),
      ...(levels ? { levels } : {}),
    };
    lastOverview = overview;
    lastSilences = silencesText;
    if (Object.keys(batch).length === 1) return; // nothing a console would see
    const text = JSON.stringify(batch);
    const id = feed.push(text);
    write(`id: ${id}\nevent: batch\ndata: ${text}\n\n`);
  }

  /** One batch at a time, in order (each reads the store asynchronously). */
  let flushing: Promise<void> = Promise.resolve();
  function guarded(withLevels: boolean) {
    timer = undefined;
    flushing = flushing
      .then(() => flush(withLevels))
      .catch((err: unknown) => log.error({ err }, 'console stream batch failed'));
  }

  // Levels move without any alert changing; silences expire without anyone ending them.
  const ticker = setInterval(() => guarded(true), deps.levelsMs ?? 5000);

  const state = () => wholeState(store, clock.now(), firing, deps.levels);

  // The tracked firing set and the silences start from the store (the stream's diffing needs them before any console).
  flushing = state()
    .then((s) => void (lastSilences = JSON.stringify(s.silences)))
    .catch((err: unknown) => log.error({ err }, 'console stream could not read the state'));

  return {
    hint(change) {
      change.alerts?.forEach((id) => pending.alerts.add(id));
      change.notices?.forEach((seq) => pending.notices.add(seq));
      timer ??= setTimeout(() => guarded(false), deps.coalesceMs ?? 250);
    },
    async attach(req, res, lastEventId) {
      res.writeHead(200, SSE_HEADERS);
      const first = await firstWords(feed, lastEventId, state, m.starts);
      if (res.destroyed || req.destroyed) return; // the console left while its state was read
      // retry: how soon EventSource reconnects after a drop (WHATWG HTML §9.2.6).
      const text = `retry: 2000\n\n${first}`;
      res.write(text);
      m.bytes.inc(text.length);
      clients.add(res);
      m.consoles.set(clients.size);
      const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
      req.on('close', () => {
        clearInterval(heartbeat);
        clients.delete(res);
        m.consoles.set(clients.size);
      });
    },
    state,
    close() {
      clearInterval(ticker);
      clearTimeout(timer);
      for (const res of clients) res.end();
      clients.clear();
    },
  };
}
