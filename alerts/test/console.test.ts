/**
 * The duty console in a real Chromium (Debian `chromium`, driven by playwright-core) on the whole
 * demo city (1,207 sites), during a storm sent as the rules service sends it: 123 underpasses
 * closed in all districts, river and ponding warnings, then 500 ponding sensors going silent.
 * Checked as an officer would: every closure on the board (compared with the API), the map with
 * all 500 underpasses and the closed ones in their colour, a note typed through live updates
 * saved as typed, 500 offline alerts acknowledged as one group in three actions, a Chinese page
 * with no rule id and no English reason; phone and wall layouts. Screenshots go to docs/.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { fileURLToPath } from 'node:url';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { AlertEvent } from '../../contracts/index.ts';
import { buildDemoCity } from '../../config/demo-city.ts';
import { provision } from '../../config/registry.ts';
import { requireBinary } from '../../test/helpers/servers.ts';
import { startStack, type Stack } from '../../test/helpers/stack.ts';

const shot = (name: string) => fileURLToPath(new URL(`../../docs/${name}`, import.meta.url));
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

describe('console in Chromium, whole city', { timeout: 180_000 }, () => {
  let stack: Stack;
  let browser: Browser;
  let rules: MqttClient;
  let base: string;
  const tokens: Record<string, string> = {};
  const city = buildDemoCity();
  const underpasses = city.sites.filter((s) => s.kind === 'underpass');
  const ponding = city.sensors.filter((s) => s.kind === 'ponding');
  // 123 closures spread over the districts: every fourth underpass.
  const closed = underpasses.filter((_s, i) => i % 4 === 0).slice(0, 123);

  beforeAll(async () => {
    const executablePath = requireBinary('chromium', 'chromium');
    stack = await startStack({ city: await provision(city) });
    tokens['wang'] = await stack.addUser('wang', 'officer');
    tokens['li'] = await stack.addUser('li', 'viewer');
    base = `http://127.0.0.1:${stack.alerts.port}`;
    browser = await chromium.launch({ executablePath, args: CHROMIUM_ARGS });
    rules = await stack.asRules();
  });
  afterAll(async () => {
    await rules?.endAsync();
    await browser?.close();
    await stack?.close();
  });

  const event = (e: Partial<AlertEvent> & Pick<AlertEvent, 'alertId' | 'ruleId' | 'subjectId'>): AlertEvent => ({ sensorId: e.subjectId, state: 'firing', severity: 'critical', value: 31, threshold: 25, unit: 'cm', observedAt: '2026-07-01T18:03:00+08:00', changedAt: '2026-07-01T18:03:01+08:00', reason: 'ponding above 25 cm for 120 s (3 readings), now 31 cm', ...e });
  const fire = (e: AlertEvent) => rules.publishAsync(`floodgate/alerts/${e.ruleId}/${e.subjectId}`, JSON.stringify(e), { qos: 1 });
  const closure = (siteId: string, v = 31) =>
    event({ alertId: `underpass-closure:${siteId}:1`, ruleId: 'underpass-closure', subjectId: siteId, sensorId: siteId.replace('UP-', 'PD-'), value: v, why: { key: 'closure.sustained', params: { closeCm: 25, heldS: 120, n: 3, v } } });
  const offline = (sensorId: string) =>
    event({ alertId: `sensor-offline:${sensorId}:1`, ruleId: 'sensor-offline', subjectId: sensorId, sensorId, severity: 'warning', value: 400, threshold: 300, unit: 's', reason: 'nothing for 400 s (expected every 60 s)', why: { key: 'offline.silent', params: { silentS: 400, everyS: 60 } } });
  const firingCount = async (rule: string) => (await stack.alerts.store.listAlerts({ state: 'firing', rule, limit: 100_000 })).length;

  async function login(name: string, viewport = { width: 1440, height: 900 }, query = ''): Promise<Page> {
    const context = await browser.newContext({ viewport });
    const page = await context.newPage();
    await page.goto(`${base}/${query}`);
    await page.fill('#token', tokens[name]!);
    await page.click('#login-form button[type=submit]');
    await page.waitForSelector('#live.on');
    return page;
  }

  it('every closure on the board, the map in colour, a group acknowledged in three actions, Chinese throughout', async () => {
    const page = await login('wang');
    for (const s of closed) await fire(closure(s.id));
    await fire(event({ alertId: 'water-level-warning:WS-001:1', ruleId: 'water-level-warning', subjectId: 'WS-001', sensorId: 'WL-001', severity: 'warning', value: 4.9, threshold: 4.8, unit: 'm', why: { key: 'level.warn', params: { v: 4.9, level: 4.8 } } }));
    // An alert recorded before reasons carried parameters: Chinese still shows no English sentence.
    await fire(event({ alertId: 'underpass-warning:UP-002:1', ruleId: 'underpass-warning', subjectId: 'UP-002', sensorId: 'PD-002', severity: 'warning', value: 16, threshold: 15, reason: 'ponding above 15 cm, now 16 cm' }));
    await expect.poll(async () => firingCount('underpass-closure'), { timeout: 30_000 }).toBe(123);

    // The board lists every closure the API lists, by district, with names.
    await expect.poll(async () => page.locator('.board-row').count(), { timeout: 30_000 }).toBe(123);
    const onBoard = new Set(await page.locator('.board-row').evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset['site'])));
    expect(onBoard).toEqual(new Set((await stack.alerts.store.listAlerts({ state: 'firing', rule: 'underpass-closure', limit: 1000 })).map((a) => a.subjectId)));
    expect(await page.locator('.board-row').first().textContent()).toContain('下立交');
    await expect.poll(async () => page.textContent('#t-closed')).toBe('123');

    // The map: all 500 underpasses when unclustered, the closed ones in their colour.
    await page.uncheck('.map-tools input[name=cluster]');
    await expect.poll(async () => page.locator('path.site.kind-underpass').count()).toBe(500);
    await expect.poll(async () => page.locator('path.site.kind-underpass.st-closed').count()).toBe(123);
    const fill = await page.locator('path.site.st-closed').first().evaluate((e) => getComputedStyle(e).fill);
    expect(fill).toBe('rgb(229, 72, 77)');
    await page.check('.map-tools input[name=cluster]');

    // Chinese: no rule id, no English reason, anywhere on the page.
    const text = (await page.locator('main').innerText()).toLowerCase();
    for (const raw of ['underpass-closure', 'underpass-warning', 'water-level-warning', 'ponding above', 'level ', 'critical', 'warning']) expect(text, raw).not.toContain(raw);
    expect(text).toContain('水位 4.9 m，达到或超过警戒水位 4.8 m');
    expect(await page.textContent('#city')).toBe('上海（演示）');
    await page.screenshot({ path: shot('console.png') });

    // 500 ponding sensors go silent: one group row, acknowledged in three actions.
    await Promise.all(ponding.map((s) => fire(offline(s.id))));
    await expect.poll(async () => firingCount('sensor-offline'), { timeout: 30_000 }).toBe(500);
    const group = page.locator('li.alert-row.group[data-group="sensor-offline"]');
    await expect.poll(async () => group.textContent(), { timeout: 30_000 }).toContain('× 500');
    await group.locator('.act-ack-all').click(); // 1
    await page.fill('dialog textarea[name=note]', '通信中断，已报修'); // 2
    await page.click('dialog button[type=submit]'); // 3
    await expect.poll(async () => (await stack.alerts.store.listAlerts({ state: 'firing', rule: 'sensor-offline', acked: false, limit: 1000 })).length, { timeout: 30_000 }).toBe(0);
    expect(await stack.alerts.store.getAlert(`sensor-offline:${ponding[7]!.id}:1`)).toMatchObject({ ackedBy: 'wang', ackNote: '通信中断，已报修' });
    await expect.poll(async () => group.textContent()).toContain('已确认');

    // The same group silenced for 2 hours: one request, a silence of the rule in each of its districts.
    const requests: string[] = [];
    page.on('request', (r) => r.method() === 'POST' && requests.push(new URL(r.url()).pathname));
    await group.locator('.act-silence').click();
    await page.fill('dialog input[name=reason]', '通信中断，已报修');
    await page.click('dialog button[type=submit]');
    const districts = new Set(ponding.map((s) => city.sites.find((x) => x.id === s.site)!.district));
    await expect.poll(async () => (await stack.alerts.store.activeSilences(Date.now())).filter((x) => x.ruleId === 'sensor-offline').length, { timeout: 30_000 }).toBe(districts.size);
    expect(requests.filter((p) => p.startsWith('/api/silences'))).toEqual(['/api/silences/bulk']);
    await page.context().close();
  });

  it('a note typed while updates stream in is saved as typed', async () => {
    const page = await login('wang');
    const target = closed[0]!;
    await page.locator(`.board-row[data-alert-id="underpass-closure:${target.id}:1"]`).click();
    await page.locator('.panel .actions button.primary').click();
    const note = '已通知交警封闭，现场有积水车辆一辆，等待拖车 police closed the road';
    const box = page.locator('dialog textarea[name=note]');
    // Live updates all the while: depth changes re-sent for the other closures.
    let streaming = true;
    const updates = (async () => {
      for (let i = 0; streaming; i++) {
        const s = closed[1 + (i % 100)]!;
        await fire({ ...closure(s.id, 40 + (i % 7)), severity: 'warning' }); // a severity change is an update of the firing alert
        await fire(closure(s.id, 40 + (i % 7)));
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const before = stack.metrics.getSingleMetric('floodgate_console_stream_bytes_total');
    const bytesBefore = (await before!.get()).values.reduce((n, v) => n + v.value, 0);
    for (const ch of note) await box.pressSequentially(ch, { delay: 160 }); // ~10 s of typing
    const bytesAfter = (await before!.get()).values.reduce((n, v) => n + v.value, 0);
    expect(bytesAfter, 'updates reached the console while typing').toBeGreaterThan(bytesBefore);
    expect(await box.evaluate((e) => document.activeElement === e)).toBe(true);
    await page.click('dialog button[type=submit]');
    streaming = false;
    await updates;
    await expect.poll(async () => (await stack.alerts.store.getAlert(`underpass-closure:${target.id}:1`))?.ackNote).toBe(note);
    await page.context().close();
  });

  it('a site panel charts its sensor over 6 hours from the readings API, and lists its notices', async () => {
    const dev = await stack.device('PD-010');
    const end = Math.floor(Date.now() / 60_000) * 60_000;
    const readings = Array.from({ length: 120 }, (_, i) => ({ ts: end - (120 - i) * 60_000, seq: i, depth_cm: 2 + i / 20 })); // below every level: this test closes nothing
    for (let i = 0; i < readings.length; i += 40) await dev.publishAsync('sensors/ponding/PD-010/reading', JSON.stringify(readings.slice(i, i + 40)), { qos: 1 });
    await dev.endAsync();
    const page = await login('li');
    await page.fill('#notice-q', 'UP-010');
    await page.press('#notice-q', 'Enter');
    const chart = page.locator('.panel figure.sensor-chart[data-sensor-id="PD-010"]');
    // ingest stores asynchronously: the 24 h button asks again until all 120 are in.
    await expect.poll(async () => {
      await chart.locator('button.range[data-range="24h"]').click();
      return Number(await chart.getAttribute('data-points'));
    }, { timeout: 30_000 }).toBeGreaterThanOrEqual(30);
    expect(await chart.locator('canvas').count()).toBe(1);
    await page.screenshot({ path: shot('console-site.png') });
    await page.context().close();
  });

  it('a station\'s panel shows its latest image reports (SL 651, function 36) from the API', async () => {
    const page = await login('li');
    // A real JPEG, made by the browser itself: 64 × 48 of the console.
    const jpeg = await page.screenshot({ type: 'jpeg', clip: { x: 0, y: 0, width: 64, height: 48 } });
    const dir = join(stack.dataDir, 'sl651-images', city.sensors.find((x) => x.id === 'WL-001')!.sl651!.station);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, '20261207T100000-31.jpg'), jpeg);
    writeFileSync(join(dir, '20261207T110000-32.jpg'), jpeg);
    await page.fill('#notice-q', 'WS-001');
    await page.press('#notice-q', 'Enter');
    const figures = page.locator('.panel .station-images[data-sensor-id="WL-001"] figure');
    await expect.poll(() => figures.count(), { timeout: 30_000 }).toBe(2);
    expect(await figures.first().locator('figcaption').textContent()).toBe('2026-12-07 11:00:00 · #32');
    await expect.poll(() => figures.first().locator('img').evaluate((e: HTMLImageElement) => e.complete && e.naturalWidth), { timeout: 30_000 }).toBe(64);
    await page.context().close();
  });

  it('an officer trusts a suspect ponding sensor\'s readings: the override goes to the rules, retained', async () => {
    // The rules' side of the broker: what the alerts service sends on floodgate/overrides/+.
    const overrides: Array<{ topic: string; retain: boolean; body: Record<string, unknown> }> = [];
    rules.on('message', (topic, payload, packet) => {
      if (topic.startsWith('floodgate/overrides/')) overrides.push({ topic, retain: packet.retain, body: JSON.parse(payload.toString()) as Record<string, unknown> });
    });
    await rules.subscribeAsync('floodgate/overrides/+', { qos: 1 });
    const alertId = 'sensor-data-quality:PD-020:1';
    await fire(event({ alertId, ruleId: 'sensor-data-quality', subjectId: 'PD-020', sensorId: 'PD-020', severity: 'warning', value: 16.2, threshold: 0, why: { key: 'quality.baseline-shift', params: { v: 16.2, min: 30, mm: 0, dryH: 6 } } }));
    await expect.poll(async () => (await stack.alerts.store.getAlert(alertId))?.state, { timeout: 30_000 }).toBe('firing');
    const page = await login('wang');
    await page.fill('input[name=q]', 'PD-020');
    await page.locator(`li.alert-row[data-alert-id="${alertId}"]`).click();
    await page.locator('.panel .actions button.act-trust').click();
    const note = '现场确认水管爆裂，积水属实 burst main';
    await page.locator('dialog textarea[name=note]').fill(note);
    await page.click('dialog button[type=submit]');
    await expect.poll(() => overrides.length, { timeout: 30_000 }).toBe(1);
    expect(overrides[0]).toMatchObject({ topic: 'floodgate/overrides/PD-020', body: { sensorId: 'PD-020', alertId, by: 'wang', note } });
    await expect.poll(async () => (await stack.alerts.store.auditOf(alertId)).some((e) => e.note === `readings trusted: ${note}`)).toBe(true);
    // A closure is no suspicion to override: no such button on it.
    await page.locator(`.board-row[data-alert-id="underpass-closure:${closed[2]!.id}:1"]`).click();
    await expect.poll(() => page.locator('.panel .actions button.act-trust').count()).toBe(0);
    expect(await page.locator('.panel .actions button').count()).toBeGreaterThan(0);
    await page.context().close();
  });

  it('a viewer sees everything and can act on nothing', async () => {
    const page = await login('li');
    await expect.poll(async () => page.locator('.board-row').count()).toBe(123);
    // Rows are filled over a few frames: wait until the list's rows are drawn, then look for buttons.
    await expect.poll(async () => page.locator('li.alert-row.group').count()).toBeGreaterThan(0);
    expect(await page.locator('.act-ack, .act-ack-all, .act-silence, .act-resolve, .act-trust').count()).toBe(0);
    const status = await page.evaluate(async () => (await fetch('/api/alerts/ack', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ids: ['x'] }) })).status);
    expect(status).toBe(403);
    await page.context().close();
  });

  it('phone: one column, closures first, nothing wider than the screen', async () => {
    const page = await login('li', { width: 390, height: 844 });
    await expect.poll(async () => page.locator('.board-row').count()).toBe(123);
    const layout = await page.evaluate(() => ({
      boardTop: document.getElementById('board')!.getBoundingClientRect().top,
      listTop: document.getElementById('list')!.getBoundingClientRect().top,
      mapTop: document.getElementById('map')!.getBoundingClientRect().top,
      overflow: document.documentElement.scrollWidth - window.innerWidth,
    }));
    expect(layout.boardTop).toBeLessThan(layout.listTop);
    expect(layout.listTop).toBeLessThan(layout.mapTop);
    expect(layout.overflow).toBeLessThanOrEqual(0);
    await page.screenshot({ path: shot('console-phone.png') });
    await page.context().close();
  });

  it('wall: map, counts and the whole closure board with no scrolling', async () => {
    const page = await login('li', { width: 2560, height: 1440 });
    await expect.poll(async () => page.locator('.board-row').count()).toBe(123);
    await page.screenshot({ path: shot('console-wall.png') });
    const fits = await page.evaluate(() => {
      const board = document.querySelector('.board-body')!;
      const rows = [...document.querySelectorAll('.board-row')].map((r) => r.getBoundingClientRect());
      const box = board.getBoundingClientRect();
      return {
        pageScroll: document.documentElement.scrollHeight - window.innerHeight,
        rowsInside: rows.every((r) => r.bottom <= box.bottom + 1 && r.right <= box.right + 1 && r.top >= box.top - 1),
        wall: document.body.classList.contains('wall'),
        mapHeight: document.querySelector('.map-canvas')!.getBoundingClientRect().height,
      };
    });
    expect(fits).toMatchObject({ wall: true, rowsInside: true });
    expect(fits.pageScroll).toBeLessThanOrEqual(0);
    expect(fits.mapHeight).toBeGreaterThan(800);
    await page.context().close();
  });
});
