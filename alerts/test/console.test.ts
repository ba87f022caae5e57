/**
 * The console in a real Chromium (Debian `chromium`, driven by playwright-core): an officer logs
 * in, a closure appears live without a reload, the officer acknowledges it with a note; a viewer
 * sees it but cannot acknowledge (no button, and the API says 403); the page switches to English;
 * on a phone the tables become cards. A screenshot of the console during a storm is written to
 * docs/console.png.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt, { type MqttClient } from 'mqtt';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import type { AlertEvent } from '../../contracts/index.ts';
import { requireBinary } from '../../test/helpers/servers.ts';
import { startStack, type Stack } from '../../test/helpers/stack.ts';

const SCREENSHOT = fileURLToPath(new URL('../../docs/console.png', import.meta.url));

describe('console in Chromium', { timeout: 90_000 }, () => {
  let stack: Stack;
  let browser: Browser;
  let rules: MqttClient;
  let base: string;
  const tokens: Record<string, string> = {};

  beforeAll(async () => {
    const executablePath = requireBinary('chromium', 'chromium');
    stack = await startStack();
    // The alerts service picks the users file up while running (floodgate users writes the same file).
    tokens['wang'] = await stack.addUser('wang', 'officer');
    tokens['li'] = await stack.addUser('li', 'viewer');
    base = `http://127.0.0.1:${stack.alerts.port}`;
    browser = await chromium.launch({
      executablePath,
      // As root in a closed network: no sandbox, and no background calls to Google's hosts.
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    rules = await mqtt.connectAsync(stack.mqttUrl, { protocolVersion: 4, clientId: 'test-rules', username: 'svc-rules', password: stack.provisioning.serviceSecret });
  });
  afterAll(async () => {
    await rules?.endAsync();
    await browser?.close();
    await stack?.close();
  });

  const fire = (e: Partial<AlertEvent> & Pick<AlertEvent, 'alertId' | 'ruleId' | 'subjectId'>) =>
    rules.publishAsync(`floodgate/alerts/${e.ruleId}/${e.subjectId}`, JSON.stringify({ sensorId: 'PD-001', state: 'firing', severity: 'critical', value: 31, threshold: 25, unit: 'cm', observedAt: '2026-07-01T18:03:00+08:00', changedAt: '2026-07-01T18:03:01+08:00', reason: 'ponding above 25 cm for 120 s (3 readings), now 31 cm', ...e }), { qos: 1, retain: true });

  async function login(name: string, viewport = { width: 1280, height: 800 }) {
    const context = await browser.newContext({ viewport });
    const page = await context.newPage();
    await page.goto(base);
    await page.fill('#token', tokens[name]!);
    await page.click('#login-form button[type=submit]');
    await page.waitForSelector('#live.on');
    return { context, page };
  }

  it('an officer sees a closure appear live and acknowledges it with a note', async () => {
    const { context, page } = await login('wang');
    await expect.poll(() => page.textContent('#t-closed')).toBe('0');
    await fire({ alertId: 'underpass-closure:UP-001:1', ruleId: 'underpass-closure', subjectId: 'UP-001' });
    const row = page.locator('tr[data-alert-id="underpass-closure:UP-001:1"]');
    await row.waitFor(); // no reload: the stream brought it
    await expect.poll(() => page.textContent('#t-closed')).toBe('1');
    await row.locator('input[name=note]').fill('已通知交警 police informed');
    await row.locator('button[type=submit]').click();
    await expect.poll(() => row.textContent()).toContain('已确认 wang — 已通知交警 police informed');
    expect(stack.alerts.store.getAlert('underpass-closure:UP-001:1')).toMatchObject({ ackedBy: 'wang', ackNote: '已通知交警 police informed' });

    // A storm on screen: more alerts, then the screenshot for docs/.
    await fire({ alertId: 'underpass-closure:UP-002:1', ruleId: 'underpass-closure', subjectId: 'UP-002', value: 38.4, reason: 'ponding rising 4.2 cm/min (early close at 3), now 38.4 cm above 25 cm' });
    await fire({ alertId: 'district-rainstorm:huangpu:1', ruleId: 'district-rainstorm', subjectId: 'huangpu', sensorId: 'RG-003', severity: 'warning', level: 'yellow', value: 4, threshold: 3, unit: 'gauges', reason: '4 gauges of huangpu at yellow or above' });
    await fire({ alertId: 'pump-advisory:UP-003:1', ruleId: 'pump-advisory', subjectId: 'UP-003', severity: 'warning', value: 12.5, threshold: 5, reason: 'pre-position pump trucks: yellow rain in huangpu and ponding up 10.6 cm within 15 min, now 12.5 cm' });
    await expect.poll(() => page.locator('#alerts tbody tr').count()).toBe(4);
    await expect.poll(() => page.textContent('#t-rain')).toBe('1');
    await expect.poll(() => page.locator('#sensors tbody tr').count()).toBeGreaterThan(0);
    await page.screenshot({ path: SCREENSHOT, fullPage: true });

    // A maintenance window from the page: the alert at that site is marked silenced.
    await page.selectOption('#silence-scope', 'site');
    await page.fill('#silence-target', 'UP-003');
    await page.fill('#silence-reason', '泵站检修 pump maintenance');
    await page.click('#silence-form button[type=submit]');
    await expect.poll(() => page.textContent('#silence-list')).toContain('UP-003 — 泵站检修 pump maintenance');
    await expect.poll(() => page.locator('tr[data-alert-id="pump-advisory:UP-003:1"] .badge.silenced').count()).toBe(1);

    await page.click('#lang');
    await expect.poll(() => page.textContent('h1')).toContain('Flood duty console');
    await context.close();
  });

  it('shows a sensor\'s latest value and its sparkline, found by the search box', async () => {
    const dev = await stack.device('PD-002');
    const t0 = Math.floor(Date.now() / 300_000) * 300_000 - 60 * 60_000;
    for (let i = 0; i <= 12; i++) await dev.publishAsync('sensors/ponding/PD-002/reading', JSON.stringify({ ts: t0 + i * 5 * 60_000, seq: i, depth_cm: [2, 3, 5, 9, 14, 20, 26, 31, 29, 24, 18, 12, 8][i] }), { qos: 1 });
    const { context, page } = await login('li');
    await page.fill('#sensor-q', 'PD-002');
    // The unfiltered board lists PD-002 too: wait for the search to narrow it down.
    await expect.poll(() => page.locator('#sensors tbody tr').count()).toBe(1);
    const row = page.locator('tr[data-sensor-id="PD-002"]');
    await expect.poll(() => row.textContent()).toContain('8 cm');
    const points = await row.locator('svg.spark polyline').first().getAttribute('points');
    expect(points!.split(' ').length).toBe(13);
    await context.close();
  });

  it('a viewer sees the alerts but cannot acknowledge', async () => {
    await fire({ alertId: 'underpass-closure:UP-004:1', ruleId: 'underpass-closure', subjectId: 'UP-004' });
    const { context, page } = await login('li');
    const row = page.locator('tr[data-alert-id="underpass-closure:UP-004:1"]');
    await row.waitFor();
    expect(await row.locator('form').count()).toBe(0);
    const status = await page.evaluate(async () => (await fetch('/api/alerts/underpass-closure%3AUP-004%3A1/ack', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status);
    expect(status).toBe(403);
    expect(stack.alerts.store.getAlert('underpass-closure:UP-004:1')?.ackedAt).toBeNull();
    await context.close();
  });

  it('on a phone the tables become cards', async () => {
    const { context, page } = await login('li', { width: 390, height: 844 });
    expect(await page.evaluate(() => getComputedStyle(document.querySelector('#alerts thead')!).display)).toBe('none');
    await context.close();
  });
});
