/**
 * Durable sessions: with FLOODGATE_BROKER_PERSISTENCE=level:<dir>, QoS 1 readings queued for an
 * offline ingest survive a gateway restart, and ingest stores every one of them when it returns.
 */
import { describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import { join } from 'node:path';
import { createGateway } from '../gateway.ts';
import { gatewayConfig } from '../config.ts';
import { createIngest } from '../../ingest/ingest.ts';
import { ingestConfig as makeIngestConfig } from '../../ingest/config.ts';
import { createEmbeddedSink } from '../../ingest/embedded-sink.ts';
import { createMetricsRegistry } from '../../lib/metrics.ts';
import { systemClock } from '../../lib/clock.ts';
import { eventually, smallCity, testLogger, RECENT_HOUR } from '../../test/helpers/stack.ts';
import { freePort, tempDir } from '../../test/helpers/servers.ts';

describe('durable broker sessions', () => {
  it('keeps QoS 1 messages queued for an offline ingest across a gateway restart', async () => {
    const city = await smallCity(2);
    const dir = tempDir('persist');
    const port = await freePort();
    const deps = () => ({ logger: testLogger, metrics: createMetricsRegistry(), registry: city.registry, serviceSecret: city.provisioning.serviceSecret, clock: systemClock });
    const config = gatewayConfig({ port, persistence: { type: 'level', dir: join(dir.path, 'broker') } });
    const url = `mqtt://127.0.0.1:${port}`;
    const ingestConfig = makeIngestConfig(dir.path, { mqttUrl: url });
    let gw = await createGateway(config, deps());
    try {
      // ingest creates its persistent session, then goes away.
      const first = await createIngest(ingestConfig, { ...deps(), sink: createEmbeddedSink(join(dir.path, 'first.db')) });
      await first.close();

      const dev = await mqtt.connectAsync(url, { protocolVersion: 4, clientId: 'PD-001', username: 'PD-001', password: city.provisioning.sensors['PD-001'], reconnectPeriod: 0 });
      const t0 = RECENT_HOUR;
      for (let i = 0; i < 25; i++) {
        await dev.publishAsync('sensors/ponding/PD-001/reading', JSON.stringify({ ts: t0 + i * 60_000, seq: i, depth_cm: i / 2 }), { qos: 1 });
      }
      await dev.endAsync();

      await gw.close();
      gw = await createGateway(config, deps());

      const sink = createEmbeddedSink(join(dir.path, 'second.db'));
      const again = await createIngest(ingestConfig, { ...deps(), sink });
      try {
        await eventually(() => sink.count() === 25, 'all 25 queued readings after the restart', 20_000);
        const rows = sink.db.prepare('SELECT ts FROM readings ORDER BY ts').all() as Array<{ ts: number }>;
        expect(rows.map((r) => r.ts)).toEqual(Array.from({ length: 25 }, (_, i) => t0 + i * 60_000));
      } finally {
        await again.close();
      }
    } finally {
      await gw.close();
      dir.remove();
    }
  });
});
