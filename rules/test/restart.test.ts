/**
 * `floodgate rules` killed with SIGKILL mid-storm and restarted: it resumes its windows and open
 * alerts from its saved state — no second close, the reopen still comes, and a gauge's rolling
 * rain total carries on across the kill (30 mm before + 10 mm after = blue, ≥ 35 mm in 1 h). Once
 * with the state in embedded SQLite, once in a real PostgreSQL (FLOODGATE_DATABASE_URL).
 */
import { existsSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import type { GatewayHandle } from '../../gateway/gateway.ts';
import { startProcess, stopProcess, tempDir } from '../../test/helpers/servers.ts';
import { eventually, RECENT_HOUR } from '../../test/helpers/stack.ts';
import { startPostgres, type Postgres } from '../../test/helpers/postgres.ts';
import { cityGateway, deviceClient, isSubscribed, publishDepth, rulesEnv, watchAlertEvents } from '../../test/helpers/broker-clients.ts';
import { topics } from '../../contracts/index.ts';

const BIN = fileURLToPath(new URL('../../bin/floodgate.js', import.meta.url));
const MIN = 60_000;

describe.each(['SQLite', 'PostgreSQL'] as const)('rules restart, state in %s', { timeout: 90_000 }, (store) => {
  let pgServer: Postgres | undefined;
  beforeAll(async () => {
    if (store === 'PostgreSQL') pgServer = await startPostgres();
  });
  afterAll(async () => {
    await pgServer?.stop();
  });
  let gw: GatewayHandle | undefined;
  let proc: ChildProcess | undefined;
  const clients: MqttClient[] = [];
  const dir = tempDir('rules-restart');
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
    if (proc) await stopProcess(proc);
    await gw?.close();
    dir.remove();
  });

  it('SIGKILL mid-storm: no duplicate close, the reopen follows, rain totals continue', async () => {
    const c = await cityGateway(dir.path);
    const { city, url } = c;
    gw = c.gw;
    const start = async () => {
      const p = startProcess(process.execPath, [BIN, 'rules'], rulesEnv(c, dir.path, pgServer ? { FLOODGATE_DATABASE_URL: pgServer.url } : {}));
      proc = p.proc;
      // Subscribed (its SUBSCRIBE follows the CONNECT), not only connected.
      await eventually(() => isSubscribed(gw!, 'floodgate-rules', topics.allReadings), 'rules subscribed', 30_000);
    };

    const { client: watch, events } = await watchAlertEvents(url, city.provisioning.serviceSecret, 'floodgate/alerts/#');
    const pd = await deviceClient(url, city.provisioning, 'PD-001');
    const rg = await deviceClient(url, city.provisioning, 'RG-001');
    clients.push(watch, pd, rg);
    const depth = (min: number, d: number) => publishDepth(pd, 'PD-001', min, d);
    const rain = (min: number, mm: number) => rg.publishAsync('sensors/rain/RG-001/reading', JSON.stringify({ ts: RECENT_HOUR + min * MIN, seq: min, rain_mm: mm, interval_s: 300 }), { qos: 1 });

    await start();
    for (const [m, d] of [[0, 26], [1, 27], [2, 28], [3, 29], [4, 14]] as const) await depth(m, d);
    for (const [m, mm] of [[5, 10], [10, 10], [15, 10]] as const) await rain(m, mm);
    await eventually(() => events.some((e) => e.ruleId === 'underpass-closure'), 'the close event');
    // Let the last group be saved, so that the restart proves the saved state (a kill before the
    // save is the other path: the broker redelivers the group and it is evaluated again).
    await new Promise((r) => setTimeout(r, 300));

    proc!.kill('SIGKILL');
    await new Promise((r) => proc!.once('exit', r));
    proc = undefined;
    // While it is down: below 15 cm continues; the gauge tips another 10 mm within the hour.
    for (const [m, d] of [[6, 12], [10, 10]] as const) await depth(m, d);
    await rain(20, 10);
    await start();
    for (const [m, d] of [[12, 8], [15, 7]] as const) await depth(m, d);

    await eventually(() => events.some((e) => e.ruleId === 'underpass-closure' && e.state === 'resolved'), 'the reopen event');
    await eventually(() => events.some((e) => e.ruleId === 'rainstorm'), 'the rainstorm event');
    const closure = events.filter((e) => e.ruleId === 'underpass-closure');
    expect(closure.map((e) => e.state)).toEqual(['firing', 'resolved']);
    expect(new Set(closure.map((e) => e.alertId)).size).toBe(1);
    expect(events.filter((e) => e.ruleId === 'rainstorm').map((e) => `${e.state} ${e.level}`)).toEqual(['firing blue']);
    expect(existsSync(join(dir.path, 'rules-state.db'))).toBe(store === 'SQLite'); // the state was where it was meant to be
  });
});
