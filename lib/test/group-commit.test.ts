/**
 * groupCommitAcks against a real aedes broker: PUBACKs leave only after the commit, and a failed
 * commit acknowledges nothing — the broker redelivers every message of the group.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import { createGateway, type GatewayHandle } from '../../gateway/gateway.ts';
import { gatewayConfig } from '../../gateway/config.ts';
import { createMetricsRegistry } from '../metrics.ts';
import { systemClock } from '../clock.ts';
import { connectService, endClient, groupCommitAcks, startClient } from '../mqtt.ts';
import { eventually, smallCity, testLogger } from '../../test/helpers/stack.ts';
import type { Provisioning, Registry } from '../../config/registry.ts';

describe('groupCommitAcks', () => {
  let gw: GatewayHandle;
  let city: { registry: Registry; provisioning: Provisioning };
  beforeAll(async () => {
    city = await smallCity(1);
    gw = await createGateway(gatewayConfig(), { logger: testLogger, metrics: createMetricsRegistry(), registry: city.registry, serviceSecret: city.provisioning.serviceSecret, clock: systemClock });
  });
  afterAll(() => gw.close());

  it('redelivers the whole group after a failed commit and acknowledges it after a good one', async () => {
    const url = `mqtt://127.0.0.1:${gw.port}`;
    const svc = await connectService({ url, service: 'ingest', secret: city.provisioning.serviceSecret, clientId: 'gc-test', clean: false, logger: testLogger }, { reconnectPeriod: 100 });
    const commits: string[][] = [];
    const pubacksSent: number[] = [];
    svc.on('packetsend', (p) => p.cmd === 'puback' && pubacksSent.push(commits.length));
    let failNext = true;
    groupCommitAcks<string>(svc, {
      maxBatch: 100,
      maxDelayMs: 50,
      logger: testLogger,
      accept: (_t, payload) => payload.toString(),
      commit(items) {
        if (failNext) {
          failNext = false;
          throw new Error('disk full');
        }
        commits.push(items);
      },
    });
    await startClient(svc);
    await svc.subscribeAsync('sensors/+/+/reading', { qos: 1 });

    const dev = await mqtt.connectAsync(url, { protocolVersion: 4, clientId: 'PD-001', username: 'PD-001', password: city.provisioning.sensors['PD-001'], reconnectPeriod: 0 });
    for (const n of ['a', 'b', 'c']) await dev.publishAsync('sensors/ponding/PD-001/reading', n, { qos: 1 });
    await eventually(() => commits.flat().length >= 3, 'the redelivered group committed');
    expect(failNext).toBe(false); // the first commit did fail
    expect(commits.flat().sort()).toEqual(['a', 'b', 'c']);
    // Every PUBACK went out after the successful commit (none while commits was empty).
    expect(pubacksSent.length).toBeGreaterThanOrEqual(3);
    expect(pubacksSent.every((committed) => committed >= 1)).toBe(true);
    await dev.endAsync();
    await endClient(svc);
  });
});
