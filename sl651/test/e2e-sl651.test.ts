/**
 * Issue 23's acceptance, end to end on real parts: the typhoon-surge scenario (tide gauges over
 * their warning levels, a rain band over Baoshan) run once with every gauge an MQTT device and
 * once with the rain and water-level gauges as SL 651 stations over TCP. The SL 651 run's levels
 * reach VictoriaMetrics at their observation times, and both runs raise the same alerts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startVictoriaMetrics, type VictoriaMetrics } from '../../test/helpers/servers.ts';
import { startStack, type Stack } from '../../test/helpers/stack.ts';
import { buildDemoCity } from '../../config/demo-city.ts';
import { provision, type Provisioning, type Registry } from '../../config/registry.ts';
import { loadScenario } from '../../simulators/scenario.ts';
import { checkExpectations, runScenario, type ScenarioRun } from '../../simulators/run-scenario.ts';
import { createSl651, type Sl651Handle } from '../sl651.ts';
import { sl651Config } from '../config.ts';
import { systemClock } from '../../lib/clock.ts';
import { eventually, testLogger } from '../../test/helpers/stack.ts';

const scenario = loadScenario('typhoon-surge');
const SPEED = 6000;

async function alertsOf(stack: Stack): Promise<string[]> {
  const res = await fetch(`http://127.0.0.1:${stack.alerts.port}/api/alerts?limit=1000`, { headers: { authorization: `Bearer ${stack.apiToken}` } });
  const { alerts } = (await res.json()) as { alerts: Array<{ ruleId: string; subjectId: string }> };
  return [...new Set(alerts.map((a) => `${a.ruleId} ${a.subjectId}`))].sort();
}

describe('the same storm over MQTT and over SL 651', () => {
  let vm: VictoriaMetrics;
  let city: { registry: Registry; provisioning: Provisioning };
  let overMqtt: Stack;
  let overSl651: Stack;
  let centre: Sl651Handle;
  let runs: { mqtt: ScenarioRun; sl651: ScenarioRun };
  let started: number;

  beforeAll(async () => {
    vm = await startVictoriaMetrics();
    city = await provision(buildDemoCity());
    overMqtt = await startStack({ city });
    overSl651 = await startStack({ city, influx: { url: vm.url, token: 'vm-ignores-it', org: 'floodgate', bucket: 'readings', timeoutMs: 5000 } });
    centre = await createSl651(sl651Config({ mqttUrl: overSl651.mqttUrl }), { logger: testLogger, metrics: overSl651.metrics, registry: city.registry, serviceSecret: city.provisioning.serviceSecret, clock: systemClock });
    started = Date.now();
    const deps = { registry: city.registry, provisioning: city.provisioning, clock: systemClock };
    const [mqtt, sl651] = await Promise.all([
      runScenario(scenario, { mqttUrl: overMqtt.mqttUrl, speed: SPEED }, deps),
      runScenario(scenario, { mqttUrl: overSl651.mqttUrl, speed: SPEED, sl651: { host: '127.0.0.1', port: centre.port } }, deps),
    ]);
    runs = { mqtt, sl651 };
  });
  afterAll(async () => {
    await centre?.close();
    await overSl651?.close();
    await overMqtt?.close();
    await vm?.stop();
  });

  it('sent every reading both ways, each SL 651 report answered by the centre', () => {
    expect(runs.sl651.failed).toBe(0);
    expect(runs.mqtt.failed).toBe(0);
    expect(runs.sl651.published).toBe(runs.mqtt.published);
    expect(runs.sl651.published).toBeGreaterThan(300);
  });

  it('stored the stations\' levels in VictoriaMetrics at their observation times (the minute the frame gives)', async () => {
    const series = await eventually(async () => {
      const s = await vm.export('water_level_level_m');
      return s.length >= 2 && s.every((x) => x.values.length >= 100) ? s : undefined;
    }, 'the tide gauges\' levels in VictoriaMetrics');
    const wusong = series.find((s) => s.metric['sensor'] === 'WL-001')!;
    expect(wusong.metric).toMatchObject({ site: '吴淞', district: 'baoshan' });
    // SL 651 observation times are whole minutes of the station's clock (+08:00).
    expect(wusong.timestamps.every((ts) => ts % 60_000 === 0)).toBe(true);
    expect(Math.max(...wusong.values)).toBeGreaterThan(4.8);
  });

  it('raised the scenario\'s alerts over SL 651, and the same alerts as over MQTT', async () => {
    const api = (s: Stack) => ({ url: `http://127.0.0.1:${s.alerts.port}`, token: s.apiToken });
    expect(await checkExpectations(scenario, api(overSl651), 60_000, started)).toEqual([]);
    expect(await checkExpectations(scenario, api(overMqtt), 60_000, started)).toEqual([]);
    expect(await alertsOf(overSl651)).toEqual(await alertsOf(overMqtt));
  });
});
