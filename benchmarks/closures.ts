/**
 * Closures timed end to end: an underpass's sensor reports 30 cm three times, a minute apart in
 * sensor time (the sustained rule: above 25 cm for 120 s over 3 readings); the clock runs from the
 * publish of the third reading to the police receiver holding the verified close notice. Each
 * closure at a fresh underpass, one after another.
 */
import mqtt from 'mqtt';
import type { Provisioning, Registry } from '../config/registry.ts';
import type { ReceiverHandle } from '../alerts/receiver/police-receiver.ts';
import { topics } from '../contracts/index.ts';
import { percentile } from '../lib/stats.ts';

export interface ClosureTimes {
  p50: number;
  p99: number;
  n: number;
}

export function closureTimer(o: { mqttUrl: string; registry: Registry; provisioning: Provisioning; police: ReceiverHandle; first?: number }) {
  const arrivals = new Map<string, number>();
  let seen = 0;
  const poll = setInterval(() => {
    for (; seen < o.police.received.length; seen++) {
      const r = o.police.received[seen]!;
      if (r.notice.action === 'close' && !arrivals.has(r.notice.underpass.id)) arrivals.set(r.notice.underpass.id, Date.parse(r.receivedAt));
    }
  }, 1);
  const ponding = o.registry.sensors.filter((s) => s.kind === 'ponding');
  let next = o.first ?? 0;

  /** One closure at a fresh underpass: ms from the third reading's publish to the notice. */
  async function closure(): Promise<number> {
    const sensor = ponding[next++]!;
    const dev = await mqtt.connectAsync(o.mqttUrl, { protocolVersion: 4, clientId: sensor.id, username: sensor.id, password: o.provisioning.sensors[sensor.id], reconnectPeriod: 0 });
    const t0 = Date.now() - 600_000;
    const send = (i: number) => dev.publishAsync(topics.reading('ponding', sensor.id), JSON.stringify({ ts: t0 + i * 60_000, seq: i, depth_cm: 30 }), { qos: 1 });
    await send(0);
    await send(1);
    await new Promise((r) => setTimeout(r, 100));
    const start = Date.now();
    await send(2);
    const deadline = start + 30_000;
    while (!arrivals.has(sensor.site) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 1));
    await dev.endAsync();
    if (!arrivals.has(sensor.site)) throw new Error(`no close notice for ${sensor.site} within 30 s`);
    return arrivals.get(sensor.site)! - start;
  }

  return {
    closure,
    async series(n: number): Promise<ClosureTimes> {
      const ms: number[] = [];
      for (let i = 0; i < n; i++) ms.push(await closure());
      ms.sort((a, b) => a - b);
      return { p50: percentile(ms, 50), p99: percentile(ms, 99), n };
    },
    stop: () => clearInterval(poll),
  };
}
