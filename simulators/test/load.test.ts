/**
 * `floodgate sim load` against a real stack: load-test devices connect with their own secrets,
 * send at the asked rate, every reading is acknowledged and stored once, and the rules raise
 * nothing for them (not even "offline" when they stop).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { withLoadDevices } from '../../config/devices.ts';
import { hashSecretSync, newSecret } from '../../config/registry.ts';
import { createEmbeddedSink } from '../../ingest/embedded-sink.ts';
import { systemClock } from '../../lib/clock.ts';
import { loadDevices, runLoad, type LoadProgress } from '../load.ts';
import { tempDir } from '../../test/helpers/servers.ts';
import { eventually, smallCity, startStack, type Stack } from '../../test/helpers/stack.ts';

describe('sim load', { timeout: 90_000 }, () => {
  let stack: Stack;
  let sink: ReturnType<typeof createEmbeddedSink>;
  const dir = tempDir('load');
  beforeAll(async () => {
    const city = await smallCity(2);
    const secrets: Record<string, string> = {};
    const { registry } = withLoadDevices(city.registry, 300, (id) => {
      secrets[id] = newSecret();
      return { hash: hashSecretSync(secrets[id]) };
    });
    sink = createEmbeddedSink(join(dir.path, 'readings.db'));
    stack = await startStack({ city: { registry, provisioning: { ...city.provisioning, sensors: { ...city.provisioning.sensors, ...secrets } } }, sink, rules: { tickMs: 100 } });
  });
  afterAll(async () => {
    await stack?.close();
    dir.remove();
  });

  it('300 devices paced at 1,000 readings/s for 2 s: all acknowledged, all stored once, no alerts', async () => {
    const progress: LoadProgress[] = [];
    const lines: string[] = [];
    const r = await runLoad(
      { mqttUrl: stack.mqttUrl, sensors: 300, ratePerS: 1000, durationS: 2 },
      { registry: stack.registry, provisioning: stack.provisioning, clock: systemClock, onProgress: (p) => progress.push(p), record: (l) => lines.push(l) },
    );
    expect(r).toMatchObject({ sensors: 300, connected: 300, connectErrors: 0, held: 300, errors: 0 });
    expect(r.acked).toBe(r.sent);
    // Paced: never more than the asked rate allows (a tick may fall after the end). How close a
    // busy machine comes to the rate is speed, measured in `npm run bench`, not asserted here.
    expect(r.sent).toBeGreaterThan(0);
    expect(r.sent).toBeLessThanOrEqual(2100);
    expect(r.ackP99Ms).toBeGreaterThan(0);
    expect(progress.some((p) => p.phase === 'sending' && p.sent > 0)).toBe(true);
    expect(lines).toHaveLength(r.sent);
    expect(JSON.parse(lines[0]!)).toMatchObject({ topic: expect.stringMatching(/^sensors\/rain\/LD-\d{5}\/reading$/) });

    await eventually(() => sink.count() === r.sent, `all ${r.sent} readings stored (have ${sink.count()})`);
    const perDevice = sink.db.prepare("SELECT count(DISTINCT sensor) AS n FROM readings WHERE sensor LIKE 'LD-%'").get() as { n: number };
    expect(perDevice.n).toBe(300); // round robin: every device sent
    // The rules ignore load-test devices, also once they fall silent (tick every 100 ms here).
    await new Promise((res) => setTimeout(res, 500));
    expect(stack.rules.state('LD-00001')).toBeUndefined();
  });

  it('says how to add load-test devices when there are too few', () => {
    expect(() => loadDevices(stack.registry, stack.provisioning, 301)).toThrow('floodgate provision --load-devices 301');
  });
});
