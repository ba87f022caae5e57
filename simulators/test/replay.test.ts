/**
 * `floodgate sim replay` through a live system: a recorded storm, sent by each sensor as itself,
 * reaches the store with its timestamps shifted to end now, and the rules close the road.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { parseRecording } from '../../contracts/recording.ts';
import { createEmbeddedSink } from '../../ingest/embedded-sink.ts';
import { replayReadings } from '../replay.ts';
import { systemClock } from '../../lib/clock.ts';
import { tempDir } from '../../test/helpers/servers.ts';
import { eventually, startStack, type Stack } from '../../test/helpers/stack.ts';

describe('sim replay', { timeout: 60_000 }, () => {
  let stack: Stack;
  let sink: ReturnType<typeof createEmbeddedSink>;
  const dir = tempDir('replay');
  beforeAll(async () => {
    sink = createEmbeddedSink(join(dir.path, 'readings.db'));
    stack = await startStack({ sink });
  });
  afterAll(async () => {
    await stack?.close();
    dir.remove();
  });

  it('replays a recording as real devices: all stored, shifted to end now, the road closes', async () => {
    const t0 = Date.parse('2026-07-01T18:00:00+08:00');
    const lines: string[] = [];
    for (let m = 0; m < 30; m++) lines.push(JSON.stringify({ sensor: 'PD-001', ts: t0 + m * 60_000, seq: m, depth_cm: m < 10 ? 2 : Math.min(40, 2 + (m - 10) * 2.5) }));
    for (let m = 5; m <= 30; m += 5) lines.push(JSON.stringify({ sensor: 'RG-001', ts: t0 + m * 60_000, seq: m / 5, rain_mm: 4.5, interval_s: 300 }));
    const kinds = new Map(stack.registry.sensors.map((s) => [s.id, s.kind]));
    const { readings, problems } = parseRecording(lines.join('\n'), 'ndjson', (id) => kinds.get(id));
    expect(problems).toEqual([]);
    const before = Date.now();
    const summary = await replayReadings(readings, { mqttUrl: stack.mqttUrl, speed: 3000, shift: true }, { registry: stack.registry, provisioning: stack.provisioning, clock: systemClock });
    expect(summary).toMatchObject({ sensors: 2, published: 36, skipped: 0, simulatedMin: 30 });
    expect(summary.wallMs).toBeGreaterThanOrEqual((30 * 60_000) / 3000 - 50); // paced by simulated time

    await eventually(() => sink.count() === 36, 'all 36 readings stored');
    const rows = sink.db.prepare('SELECT max(ts) AS last FROM readings').get() as { last: number }; // the recording's last reading (RG-001 at minute 30)
    expect(rows.last).toBeGreaterThanOrEqual(before - 1000);
    expect(rows.last).toBeLessThanOrEqual(Date.now());
    await eventually(() => stack.receiver.received.some((n) => n.notice.underpass.id === 'UP-001' && n.notice.action === 'close'), 'the close notice for UP-001');
  });
});
