/**
 * Two `floodgate ingest` processes, each with its own spool, on one real PostgreSQL 15, a real
 * broker and a real VictoriaMetrics: only the holder of the `ingest` lease connects to the broker
 * (the standby never touches the persistent session); SIGKILL it while its spool holds readings
 * the store could not take, and the standby takes the lease and the session over and stores what
 * the broker queued meanwhile; the dead instance, started again, drains what its spool held.
 * Every reading is stored once.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import { MAIN_FIELD, MEASUREMENT, topics } from '../../contracts/index.ts';
import type { GatewayHandle } from '../../gateway/gateway.ts';
import { freePort, startProcess, startVictoriaMetrics, stopProcess, sumOfMetric, tempDir, type VictoriaMetrics } from '../../test/helpers/servers.ts';
import { eventually, RECENT_HOUR, testLogger } from '../../test/helpers/stack.ts';
import { cityGateway, deviceClient, isSubscribed, publishDepth, rulesEnv } from '../../test/helpers/broker-clients.ts';
import { leaseHolder, usePostgres } from '../../test/helpers/postgres.ts';

const BIN = fileURLToPath(new URL('../../bin/floodgate.js', import.meta.url));
const TOKEN = 'ingest-failover-token-0123456789';
const SERIES = `${MEASUREMENT.ponding}_${MAIN_FIELD.ponding.field}`;

describe('ingest failover by lease', { timeout: 240_000 }, () => {
  const pg = usePostgres(2);
  let vm: VictoriaMetrics | undefined;
  let gw: GatewayHandle | undefined;
  const procs = new Map<string, { proc: ChildProcess; logs(): string; metricsPort: number }>();
  const clients: MqttClient[] = [];
  const dir = tempDir('ingest-failover');
  afterAll(async () => {
    if (process.env['FLOODGATE_TEST_LOG']) for (const [n, p] of procs) process.stdout.write(`--- ${n}\n${p.logs()}\n`);
    await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
    for (const p of procs.values()) await stopProcess(p.proc);
    await gw?.close();
    await vm?.stop();
    dir.remove();
  });

  const holder = () => leaseHolder(pg.pool(), 'ingest');
  const metric = async (name: string, instance: string) => {
    const res = await fetch(`http://127.0.0.1:${procs.get(instance)!.metricsPort}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } }).catch(() => undefined);
    return res?.ok ? sumOfMetric(await res.text(), name) : NaN;
  };
  /** Stored samples of PD-001 by minute after RECENT_HOUR: minute → how many samples. */
  const stored = async (): Promise<Map<number, number>> => {
    const by = new Map<number, number>();
    for (const s of await vm!.export(SERIES)) for (const ts of s.timestamps) by.set((ts - RECENT_HOUR) / 60_000, (by.get((ts - RECENT_HOUR) / 60_000) ?? 0) + 1);
    return by;
  };

  it('one takes readings; SIGKILL → the standby takes the session over; the dead one drains its spool when back; each reading stored once', async () => {
    vm = await startVictoriaMetrics();
    const c = await cityGateway(join(dir.path, 'gw'));
    gw = c.gw;
    const sessionConnects: string[] = [];
    gw.broker.on('client', (cl) => {
      if (cl.id === 'floodgate-ingest') sessionConnects.push(cl.id);
    });
    // PUBACKs of PD-001's readings the broker has from the session, its copy cleared: those it
    // will never deliver again ('ack' is emitted once the persistence forgot the message).
    let acked = 0;
    gw.broker.on('ack', (packet, cl) => {
      if (cl?.id === 'floodgate-ingest' && packet && 'topic' in packet && packet.topic === topics.reading('ponding', 'PD-001')) acked++;
    });
    const start = async (name: string) => {
      const metricsPort = await freePort();
      const p = startProcess(
        process.execPath,
        [BIN, 'ingest'],
        rulesEnv(c, join(dir.path, name), {
          FLOODGATE_DATABASE_URL: pg.server().url,
          // Five minutes: a takeover within this test comes from the dead holder's database
          // session ending (lib/pg-lease.ts), not from its lease running out.
          FLOODGATE_LEASE_TTL_S: '300',
          FLOODGATE_INSTANCE_ID: name,
          FLOODGATE_METRICS_PORT: String(metricsPort),
          FLOODGATE_API_TOKEN: TOKEN,
          INFLUX_URL: vm!.url,
          INFLUX_TOKEN: 'vm-token-not-checked',
          INFLUX_ORG: 'floodgate',
          INFLUX_BUCKET: 'floodgate',
        }),
      );
      procs.set(name, { ...p, metricsPort });
    };
    const pd = await deviceClient(c.url, c.city.provisioning, 'PD-001');
    clients.push(pd);
    const send = async (from: number, to: number) => {
      for (let m = from; m < to; m++) await publishDepth(pd, 'PD-001', m, 5 + (m % 7));
    };

    await start('a');
    expect(await eventually(holder, 'a takes the ingest lease', 60_000)).toEqual({ holder: 'a', epoch: 1 });
    await start('b');
    await eventually(async () => (await metric('floodgate_ingest_spool_rows', 'b')) === 0, 'b is up (its metrics answer)', 60_000);
    await eventually(() => sessionConnects.length === 1 && isSubscribed(gw!, 'floodgate-ingest', topics.allReadings), 'a connected and subscribed the session', 60_000);
    expect(await holder()).toEqual({ holder: 'a', epoch: 1 }); // b stands by

    // Minutes 0-9 go through a into the store.
    await send(0, 10);
    await eventually(async () => (await stored()).size === 10, 'minutes 0-9 stored', 60_000);

    // The store goes away: minutes 10-19 wait in a's spool (acknowledged to the broker), then a dies.
    await vm.pause();
    await send(10, 20);
    await eventually(async () => (await metric('floodgate_ingest_spool_rows', 'a')) === 10, "minutes 10-19 in a's spool", 60_000);
    // … and acknowledged: a's PUBACKs leave right after its spool commit, but on a busy machine the
    // broker may not have processed the last ones yet, and would deliver those readings again to b
    // (at least once: both would store them). The test kills a once the broker has all twenty.
    await eventually(() => acked === 20, 'the broker has the PUBACKs of minutes 0-19', 60_000);
    const killedAt = Date.now();
    procs.get('a')!.proc.kill('SIGKILL');
    await new Promise((r) => procs.get('a')!.proc.once('exit', r));

    // Minutes 20-29 arrive while no ingest is connected: the broker queues them for the session.
    await send(20, 30);
    const second = await eventually(async () => ((await holder())?.holder === 'b' ? holder() : undefined), 'b takes the lease', 60_000);
    expect(second!.epoch).toBe(2);
    await eventually(() => sessionConnects.length === 2, 'b connected the session', 60_000);
    testLogger.info({ failoverMs: Date.now() - killedAt }, 'ingest failover after SIGKILL');
    await send(30, 35);
    await eventually(async () => (await metric('floodgate_ingest_spool_rows', 'b')) === 15, "minutes 20-34 in b's spool", 60_000);

    // The store is back: b stores what it took; 10-19 stay in the dead a's spool until a is back.
    await vm.start();
    await eventually(async () => (await stored()).size === 25, 'minutes 0-9 and 20-34 stored', 60_000);
    expect([...(await stored()).keys()].filter((m) => m >= 10 && m < 20)).toEqual([]);
    await start('a');
    await eventually(async () => (await stored()).size === 35, "a, back as standby, drained minutes 10-19 from its spool", 60_000);
    expect(await holder()).toEqual({ holder: 'b', epoch: 2 }); // a came back as the standby
    expect(sessionConnects).toHaveLength(2); // and never touched the session

    const by = await stored();
    expect([...by.keys()].sort((x, y) => x - y)).toEqual(Array.from({ length: 35 }, (_, i) => i));
    expect([...by.values()].filter((n) => n !== 1)).toEqual([]); // each reading stored once
  });
});
