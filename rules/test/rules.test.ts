/**
 * The rules engine through a real broker, with alerts and a police receiver: a spike does not
 * close, a sustained rise does, the reopen follows only after the hold, and a restart of the rules
 * service in the middle changes nothing about the notices sent. Also: the rules file is reloaded
 * while running, and a broken one is refused with the old rules left in force.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { createRules, type RulesHandle } from '../rules.ts';
import { rulesConfig } from '../config.ts';
import { DEFAULT_RULES_PATH } from '../load.ts';
import { createMetricsRegistry } from '../../lib/metrics.ts';
import { systemClock } from '../../lib/clock.ts';
import { eventually, RECENT_HOUR, startStack, testLogger, type Stack } from '../../test/helpers/stack.ts';

const MIN = 60_000;

describe('rules service', { timeout: 60_000 }, () => {
  let stack: Stack | undefined;
  const extra: RulesHandle[] = [];
  afterEach(async () => {
    for (const r of extra.splice(0)) await r.close();
    await stack?.close();
    stack = undefined;
  });

  async function send(dev: MqttClient, sensor: string, series: Array<[number, number]>) {
    for (const [min, depth] of series) {
      await dev.publishAsync(`sensors/ponding/${sensor}/reading`, JSON.stringify({ ts: RECENT_HOUR + min * MIN, seq: Math.round(min * 10), depth_cm: depth }), { qos: 1 });
    }
  }
  const closureEvents = (s: Stack, up: string) => s.receiver.received.filter((r) => r.notice.underpass.id === up).map((r) => `${r.notice.action}@${(Date.parse(r.notice.observedAt) - RECENT_HOUR) / MIN}`);

  it('spike: nothing; sustained: close; reopen after the hold; a restart in between changes nothing', async () => {
    stack = await startStack();
    const s = stack;
    const dev = await s.device('PD-001');
    // A passing truck, then a storm: 3 cm at minute 3, 20 cm at 7, rising ~2 cm/min after. The
    // forecast (issue 22) closes at minute 7, when the rise will carry the water past 25 cm within
    // 5 minutes (it crosses at 10); the sustained rule would have closed at 12.
    await send(dev, 'PD-001', [[0, 2], [1, 40], [2, 2.5], [3, 3], [7, 20], [8, 22], [9, 24], [10, 26], [11, 27], [12, 28], [13, 29]]);
    await eventually(async () => closureEvents(s, 'UP-001').length === 1, 'the close notice');
    expect(closureEvents(s, 'UP-001')).toEqual(['close@7']);

    // Restart the rules service mid-storm: it resumes from its saved state.
    await s.rules.close();
    const cfg = rulesConfig(s.dataDir, { mqttUrl: s.mqttUrl });
    const again = await createRules(cfg, { logger: testLogger, metrics: createMetricsRegistry(), registry: s.registry, serviceSecret: s.provisioning.serviceSecret, clock: systemClock });
    extra.push(again);
    expect(again.state('PD-001')?.closure?.phase).toBe('firing');

    // Falls below 15 cm at minute 20; the 10-minute hold ends at 30 (a brief rise at 24 restarts it).
    await send(dev, 'PD-001', [[14, 30], [20, 14], [22, 12], [24, 16], [25, 10], [30, 8], [34, 6], [35, 5]]);
    await eventually(async () => closureEvents(s, 'UP-001').length === 2, 'the reopen notice');
    // Every reading evaluated (the last one's time is the sensor's), so any duplicate event would
    // already be out; the outbox holds exactly the two notices, both delivered.
    await eventually(async () => again.state('PD-001')?.lastTs === RECENT_HOUR + 35 * MIN, 'the last reading evaluated');
    await eventually(async () => { const ns = (await s.alerts.store.listNotices({ subject: 'UP-001', limit: 10 })); return ns.length === 2 && ns.every((n) => n.status === 'delivered'); }, 'both notices delivered, nothing else queued');
    expect(closureEvents(s, 'UP-001')).toEqual(['close@7', 'reopen@35']);
    expect(s.receiver.received.filter((r) => r.duplicate)).toEqual([]);
  });

  it('reloads the rules file while running; a broken file is refused and the old rules stay', async () => {
    stack = await startStack();
    const s = stack;
    await s.rules.close();
    const path = join(s.dataDir, 'rules.yaml');
    copyFileSync(DEFAULT_RULES_PATH, path);
    const metrics = createMetricsRegistry();
    const rules = await createRules(rulesConfig(s.dataDir, { mqttUrl: s.mqttUrl, rulesPath: path, reloadPollMs: 50 }), { logger: testLogger, metrics, registry: s.registry, serviceSecret: s.provisioning.serviceSecret, clock: systemClock });
    extra.push(rules);
    expect(rules.rules().sites.get('UP-001')!.underpass.closeCm).toBe(25);

    // fs.watchFile takes its first stat asynchronously: a change before it would go unseen.
    await new Promise((r) => setTimeout(r, 200));
    writeFileSync(path, 'version: 1\nsites:\n  UP-001: { underpass: { closeCm: 27 } }\n');
    await eventually(async () => rules.rules().sites.get('UP-001')!.underpass.closeCm === 27, 'the new threshold in force');

    writeFileSync(path, 'version: 1\nsites:\n  UP-001: { underpass: { closeCm: "deep" } }\n');
    await eventually(async () => (await metrics.metrics()).includes('floodgate_rules_reloads_total{result="refused"} 1'), 'the refusal counted');
    expect(rules.rules().sites.get('UP-001')!.underpass.closeCm).toBe(27);

    // With 27 cm in force, 26 cm sustained does not close.
    const dev = await s.device('PD-001');
    await send(dev, 'PD-001', [[0, 26], [1, 26.5], [2, 26], [3, 26.5], [4, 26]]);
    await eventually(async () => rules.state('PD-001')?.lastTs === RECENT_HOUR + 4 * MIN, 'the readings evaluated');
    expect(rules.state('PD-001')?.closure?.phase ?? 'normal').toBe('normal');
    expect(s.receiver.received).toEqual([]);
  });
});
