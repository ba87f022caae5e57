/**
 * Console benchmark: the whole-city `thunderstorm` scenario (1,207 devices, `--speed 120`) through
 * `floodgate up` on its defaults (LevelDB broker store, embedded readings store), run twice on
 * fresh data side by side: with no console open, then with BENCH_CONSOLES (20) consoles. Each
 * console is a logged-in session that loads the page, the city and the district outlines and
 * then follows the live stream over HTTP, as a browser's EventSource does; one more is a real
 * Chromium (Debian `chromium`) page, for what an officer sees: first meaningful render, the
 * longest main-thread task at full speed and at 4× CPU throttling (CDP), bytes/s.
 *
 *   npm run bench -- console      (BENCH_CONSOLES=20 BENCH_SPEED=120 BENCH_SCENARIO=thunderstorm)
 *
 * Publish → police notice: the close notice's observedAt is the sensor time of the reading that
 * closed the road; the latency runs from that reading's publish by its device to the receiver
 * holding the verified notice. Everything (the system, 1,207 devices, the consoles, Chromium)
 * shares this machine's cores: officers' browsers would not.
 */
import { request } from 'node:http';
import { join } from 'node:path';
import { createWriteStream, mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { ensureProvisioned, loadProvisioning, loadRegistry } from '../config/registry.ts';
import { createPoliceReceiver } from '../alerts/receiver/police-receiver.ts';
import { parseReadingPayload, parseSensorTopic } from '../contracts/index.ts';
import { systemClock } from '../lib/clock.ts';
import { createLogger } from '../lib/logger.ts';
import { percentile } from '../lib/stats.ts';
import { loadScenario } from '../simulators/scenario.ts';
import { predictAlerts, runScenario } from '../simulators/run-scenario.ts';
import { engineContext } from '../rules/context.ts';
import { DEFAULT_RULES_PATH, loadRules } from '../rules/load.ts';
import { freePort, requireBinary, startProcess, stopProcess, sumOfMetric, tempDir, waitForTcp } from '../test/helpers/servers.ts';

const CONSOLES = Number(process.env['BENCH_CONSOLES'] ?? 20);
const SPEED = Number(process.env['BENCH_SPEED'] ?? 120);
const SCENARIO = process.env['BENCH_SCENARIO'] ?? 'thunderstorm';
const BIN = new URL('../bin/floodgate.js', import.meta.url).pathname;
const SECRET = 'bench-police-secret-0123456789';
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const log = (s: string) => process.stdout.write(s + '\n');

interface PhaseResult {
  consoles: number;
  notices: number;
  p50: number;
  p99: number;
  /** The last close notice's arrival after the simulator's last acknowledged publish (ms; negative: before). */
  lastAfterEndMs: number;
  /** At the simulator's end: how many of the closes had arrived. */
  atEnd: number;
  simSeconds: number;
  /** Bytes per second each stream console received over the storm (mean, max). */
  bytesPerS: { mean: number; max: number };
  browser?: { firstRenderMs: number; longestTaskMs: number; longestTaskThrottledMs: number; byStep: Record<string, number>; bytesPerS: number };
}

/** An HTTP request from a given loopback address (each console its own, as officers at their own machines). */
function call(base: string, path: string, from: string, opts: { method?: string; headers?: Record<string, string>; body?: string; onData?: (b: Buffer) => void } = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; bytes: number; req: ReturnType<typeof request> }> {
  const url = new URL(`${base}${path}`);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path: url.pathname + url.search, method: opts.method ?? 'GET', headers: opts.headers ?? {}, localAddress: from }, (res) => {
      let bytes = 0;
      const done = () => resolve({ status: res.statusCode ?? 0, headers: res.headers, bytes, req });
      res.on('data', (b: Buffer) => {
        bytes += b.length;
        opts.onData?.(b);
      });
      if (opts.onData) done(); // a stream: resolve at its head, keep counting
      else res.on('end', done);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** One console as the server sees it: login, the page, the city, then the live stream (counted). */
async function streamConsole(base: string, token: string, from: string): Promise<{ bytes(): number; close(): void }> {
  const login = await call(base, '/api/login', from, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token }) });
  if (login.status !== 200) throw new Error(`console at ${from}: login answered ${login.status}`);
  const cookie = String(login.headers['set-cookie'] ?? '').split(';')[0]!;
  let bytes = 0;
  for (const path of ['/', '/console.js', '/console.css', '/api/me', '/api/sites', '/api/districts.geojson']) bytes += (await call(base, path, from, { headers: { cookie } })).bytes;
  const stream = await call(base, '/api/stream', from, { headers: { cookie }, onData: (b) => (bytes += b.length) });
  if (stream.status !== 200) throw new Error(`console at ${from}: stream answered ${stream.status}`);
  return { bytes: () => bytes, close: () => stream.req.destroy() };
}

/** The real browser console: logged in (first meaningful render timed), bytes counted through CDP, long tasks observed. */
async function browserConsole(browser: Browser, base: string, token: string) {
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  let bytes = 0;
  await page.addInitScript(() => {
    const w = window as unknown as { __longest: number };
    w.__longest = 0;
    new PerformanceObserver((l) => l.getEntries().forEach((e) => (w.__longest = Math.max(w.__longest, e.duration)))).observe({ type: 'longtask', buffered: true });
  });
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  cdp.on('Network.dataReceived', (e: { dataLength: number }) => (bytes += e.dataLength));
  await page.goto(base);
  await page.fill('#token', token);
  const t0 = Date.now();
  await page.click('#login-form button[type=submit]');
  await page.waitForSelector('#live.on');
  await page.waitForFunction(() => document.getElementById('t-closed')?.textContent !== '–');
  const firstRenderMs = Date.now() - t0;
  const longest = () => page.evaluate(() => (window as unknown as { __longest: number }).__longest);
  return {
    firstRenderMs,
    bytes: () => bytes,
    /**
     * Halfway through the storm the page's CPU is made 4× slower (CDP), as a phone's, and the
     * officer works: switches the language twice, unclusters and clusters the map, searches, opens
     * a group. The longest task before, and during that.
     */
    async officer(): Promise<{ firstHalf: number; throttled: number; byStep: Record<string, number> }> {
      await new Promise((r) => setTimeout(r, 30_000));
      const firstHalf = await longest();
      await cdp.send('Emulation.setCPUThrottlingRate', { rate: 4 });
      // The longest task of each step, so that the figure says what it came from.
      const byStep: Record<string, number> = {};
      const step = async (name: string, act: () => Promise<unknown>) => {
        await page.evaluate(() => ((window as unknown as { __longest: number }).__longest = 0));
        await act();
        await new Promise((r) => setTimeout(r, 1_000)); // what the step set off in the next frames
        byStep[name] = await longest();
      };
      await step('language', () => page.click('#lang'));
      await step('language back', () => page.click('#lang'));
      await step('uncluster', () => page.uncheck('.map-tools input[name=cluster]'));
      await step('cluster', () => page.check('.map-tools input[name=cluster]'));
      await step('search', () => page.fill('.filters input[name=q]', '路'));
      await step('clear search', () => page.fill('.filters input[name=q]', ''));
      await step('open a group', () => page.locator('li.alert-row.group button.expand').first().click().catch(() => {}));
      await step('storm updates (15 s)', () => new Promise((r) => setTimeout(r, 15_000))); // and the storm goes on
      const throttled = Math.max(...Object.values(byStep));
      await cdp.send('Emulation.setCPUThrottlingRate', { rate: 1 });
      return { firstHalf, throttled, byStep };
    },
  };
}

/** ms from each close's deciding reading's publish (its sensor time is the notice's observedAt) to the notice's arrival, sorted. */
function closeLatencies(closes: Array<{ receivedAt: string; notice: { underpass: { id: string }; observedAt: string } }>, registry: ReturnType<typeof loadRegistry>, published: Map<string, number>): number[] {
  return closes
    .map((r) => {
      const sensor = registry.sensors.find((s) => s.site === r.notice.underpass.id && s.kind === 'ponding')?.id;
      const sent = published.get(`${sensor}@${Date.parse(r.notice.observedAt)}`);
      return sent === undefined ? NaN : Date.parse(r.receivedAt) - sent;
    })
    .filter((x) => !Number.isNaN(x))
    .sort((a, b) => a - b);
}

async function phase(consoles: number, browser: Browser | undefined): Promise<PhaseResult> {
  const dir = tempDir('bench-console');
  const police = await createPoliceReceiver({ host: '127.0.0.1', port: 0, secret: SECRET, toleranceS: 600, path: '/notices' }, { clock: systemClock, logger: createLogger({ name: 'bench', level: 'warn' }), print: () => {} });
  const [mqttPort, httpPort] = [await freePort(), await freePort()];
  await ensureProvisioned(dir.path);
  // floodgate up as a user starts it: its defaults, only ports, data dir and the police endpoint set.
  const up = startProcess(process.execPath, [BIN, 'up'], { ...process.env, FLOODGATE_DATA_DIR: dir.path, FLOODGATE_MQTT_PORT: String(mqttPort), FLOODGATE_HTTP_PORT: String(httpPort), FLOODGATE_POLICE_URL: police.url, FLOODGATE_POLICE_SECRET: SECRET, FLOODGATE_LOG_LEVEL: process.env['BENCH_UP_LOG_LEVEL'] ?? 'warn' });
  // The whole log of the system, not only its tail (BENCH_UP_LOG_LEVEL=info or debug to look into a run).
  const logFile = createWriteStream(fileURLToPath(new URL(`./.cache/up-${consoles}-${browser ? 'browser' : 'streams'}.log`, import.meta.url)));
  up.proc.stdout!.pipe(logFile);
  up.proc.stderr!.pipe(logFile);
  const streams: Array<{ bytes(): number; close(): void }> = [];
  try {
    await waitForTcp(httpPort, up.proc, up.logs, 120_000);
    const base = `http://127.0.0.1:${httpPort}`;
    const token = (await import('node:fs')).readFileSync(join(dir.path, 'api.token'), 'utf8').trim();
    const registry = loadRegistry(join(dir.path, 'registry.json'));
    const provisioning = loadProvisioning(join(dir.path, 'provisioning.json'));
    for (let i = 0; i < consoles; i++) streams.push(await streamConsole(base, token, `127.0.0.${10 + i}`));
    const page = browser ? await browserConsole(browser, base, token) : undefined;
    // The storm, each reading's publish time noted (the notice names the reading's sensor time).
    const published = new Map<string, number>();
    const scenario = loadScenario(SCENARIO);
    const bytesAt0 = streams.map((s) => s.bytes());
    const pageBytesAt0 = page?.bytes() ?? 0;
    const t0 = Date.now();
    const officer = page?.officer();
    let expected = new Set<string>();
    const run = await runScenario(scenario, { mqttUrl: `mqtt://127.0.0.1:${mqttPort}`, speed: SPEED }, {
      registry,
      provisioning,
      clock: systemClock,
      beforeSend: async (sim) => {
        expected = new Set(predictAlerts(sim, engineContext(registry, loadRules(DEFAULT_RULES_PATH, registry.sites)))['underpass-closure'] ?? []);
      },
      record: (line) => {
        const { topic, payload } = JSON.parse(line) as { topic: string; payload: string };
        const t = parseSensorTopic(topic);
        if (t?.kind !== 'ponding') return;
        for (const r of parseReadingPayload(t.kind, t.sensorId, Buffer.from(payload)).readings) published.set(`${t.sensorId}@${r.ts}`, Date.now());
      },
    });
    const tEnd = Date.now();
    const officerSaw = await officer;
    const simSeconds = (tEnd - t0) / 1000;
    const atEnd = police.received.filter((r) => r.notice.action === 'close').length;
    // Every close the storm must produce (the offline backtest of the same readings says which) has
    // arrived, at most 5 min after the simulator's end. Waiting for quiet measured a lagging run as
    // one that lost roads: the rules had evaluated every reading, but their alert events were still
    // waiting for the broker's PUBACK.
    while (new Set(police.received.filter((r) => r.notice.action === 'close').map((r) => r.notice.underpass.id)).size < expected.size && Date.now() - tEnd < 300_000) await new Promise((r) => setTimeout(r, 250));
    const bytes = streams.map((s, i) => (s.bytes() - bytesAt0[i]!) / simSeconds);
    // The system's counters at the end: where readings went (a phase with fewer closes says where they stopped).
    const metricsText = await (await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${token}` } })).text();
    const sum = (name: string) => sumOfMetric(metricsText, name);
    writeFileSync(new URL(`./.cache/metrics-${consoles}-${browser ? 'browser' : 'streams'}.txt`, import.meta.url), metricsText);
    const counters = `gateway in ${sum('floodgate_gateway_messages_in_total')}, ingest written ${sum('floodgate_ingest_written_total')}, rules evaluated ${sum('floodgate_rules_readings_evaluated_total')} (stale ${sum('floodgate_rules_readings_stale_total')}, skipped ${sum('floodgate_rules_readings_skipped_total')}), rules events ${sum('floodgate_rules_alert_events_total')}, alerts events ${sum('floodgate_alerts_events_total')}`;
    const closes = police.received.filter((r) => r.notice.action === 'close');
    const lat = closeLatencies(closes, registry, published);
    // Each close's publish time into the storm and its latency, to see whether slow ones bunch up.
    const timeline = closes
      .map((r) => {
        const sensor = registry.sensors.find((x) => x.site === r.notice.underpass.id && x.kind === 'ponding')?.id;
        const sent = published.get(`${sensor}@${Date.parse(r.notice.observedAt)}`);
        return sent === undefined ? '' : `${((sent - t0) / 1000).toFixed(1)}\t${Date.parse(r.receivedAt) - sent}`;
      })
      .filter(Boolean)
      .sort((a, b) => parseFloat(a) - parseFloat(b));
    writeFileSync(new URL(`./.cache/closes-${consoles}-${browser ? 'browser' : 'streams'}.tsv`, import.meta.url), `s_into_storm\tlatency_ms\n${timeline.join('\n')}\n`);
    const lastClose = closes.reduce((m, r) => Math.max(m, Date.parse(r.receivedAt)), 0);
    log(`  ${consoles} consoles${browser ? ' + Chromium' : ''}: ${run.published} readings from ${run.sensors} devices in ${simSeconds.toFixed(1)} s; ${closes.length} closes of ${expected.size} expected (${lat.length} matched to their reading), ${atEnd} in by the simulator's end; ${counters}`);
    return {
      consoles,
      notices: closes.length,
      p50: percentile(lat, 50),
      p99: percentile(lat, 99),
      lastAfterEndMs: lastClose - tEnd,
      atEnd,
      simSeconds,
      bytesPerS: { mean: bytes.length ? bytes.reduce((a, b) => a + b, 0) / bytes.length : 0, max: bytes.length ? Math.max(...bytes) : 0 },
      ...(page && officerSaw ? { browser: { firstRenderMs: page.firstRenderMs, longestTaskMs: officerSaw.firstHalf, longestTaskThrottledMs: officerSaw.throttled, byStep: officerSaw.byStep, bytesPerS: (page.bytes() - pageBytesAt0) / simSeconds } } : {}),
    };
  } finally {
    for (const s of streams) s.close();
    await stopProcess(up.proc);
    await police.close();
    dir.remove();
  }
}

mkdirSync(new URL('./.cache/', import.meta.url), { recursive: true });
const kb = (b: number) => `${(b / 1024).toFixed(1)} KB/s`;
const browser = await chromium.launch({ executablePath: requireBinary('chromium', 'chromium'), args: CHROMIUM_ARGS });
try {
  log(`console benchmark: ${SCENARIO} at --speed ${SPEED} through floodgate up (defaults): 0 consoles, ${CONSOLES} consoles (streams), 1 Chromium console; node ${process.version}`);
  const only = process.env['BENCH_PHASE']; // 'none' | 'many' | 'one': one phase alone, for looking into it
  const skipped = { consoles: 0, notices: 0, p50: NaN, p99: NaN, lastAfterEndMs: NaN, atEnd: 0, simSeconds: NaN, bytesPerS: { mean: NaN, max: NaN }, browser: { firstRenderMs: NaN, longestTaskMs: NaN, longestTaskThrottledMs: NaN, byStep: {}, bytesPerS: NaN } };
  const none = !only || only === 'none' ? await phase(0, undefined) : skipped;
  const many = !only || only === 'many' ? await phase(CONSOLES, undefined) : skipped;
  const one = !only || only === 'one' ? await phase(0, browser) : skipped;
  const b = one.browser!;
    // BENCH_PHASE runs one phase: the others say so rather than showing NaN.
  const cell = (p: PhaseResult, f: (p: PhaseResult) => string) => (p === skipped ? 'not run' : f(p));
  const row = (label: string, f: (p: PhaseResult) => string, goal = '') => `| ${label} | ${cell(none, f)} | ${cell(many, f)} | ${cell(one, f)} | ${goal} |`;
  const text = [
    `| | 0 consoles | ${CONSOLES} consoles | 1 Chromium console (same machine) | goal |`,
    `|---|---|---|---|---|`,
    row('publish → police close notice p50', (p) => `${p.p50} ms`),
    row('publish → police close notice p99', (p) => `${p.p99} ms${p === none || none === skipped ? '' : ` (${(p.p99 / none.p99).toFixed(2)}×)`}`, `${CONSOLES} consoles ≤ 1.1×`),
    row("close notices / in by the simulator's end", (p) => `${p.notices} / ${p.atEnd}`),
    row("last close notice after the simulator's end", (p) => `${p.lastAfterEndMs} ms`),
    row('storm duration (wall)', (p) => `${p.simSeconds.toFixed(1)} s`),
    row('bytes per console during the storm (mean / max)', (p) => (p === none ? '—' : p === many ? `${kb(p.bytesPerS.mean)} / ${kb(p.bytesPerS.max)}` : kb(b.bytesPerS)), '≤ 20 KB/s'),
    row('first meaningful render (login → live counts)', (p) => (p === one ? `${b.firstRenderMs} ms` : '—'), '≤ 1.5 s'),
    row('longest main-thread task, desktop, first half of the storm', (p) => (p === one ? `${Math.round(b.longestTaskMs)} ms` : '—')),
    row('longest main-thread task, 4× CPU throttling, second half (language ×2, map, search, a group opened)', (p) => (p === one ? `${Math.round(b.longestTaskThrottledMs)} ms` : '—'), '≤ 200 ms'),
  ].join('\n') + (one === skipped ? '' : `\n\nLongest task by step at 4× throttling: ${Object.entries(b.byStep).map(([k, v]) => `${k} ${Math.round(v)} ms`).join(', ')}.`);
  writeFileSync(new URL('./results-console.md', import.meta.url), `# Console benchmark, ${new Date().toISOString()}\n\n${text}\n`);
  log(text);
} finally {
  await browser.close();
}
