/**
 * Two `floodgate rules` processes on one real PostgreSQL 15 and a real broker: exactly one is
 * active (the `rules` lease); SIGKILL it mid-closure and the other takes over from the shared
 * state (the reopen comes, with the same alert id, no second close); SIGSTOP the new active one
 * past its lease and the first (restarted) takes over; let the paused one continue and it finds
 * itself replaced: it stands by, and nothing is published twice.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import pg from 'pg';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import type { GatewayHandle } from '../../gateway/gateway.ts';
import { startProcess, stopProcess, tempDir } from '../../test/helpers/servers.ts';
import { eventually, testLogger } from '../../test/helpers/stack.ts';
import { cityGateway, deviceClient, isConnected, isSubscribed, publishDepth, rulesEnv, watchAlertEvents } from '../../test/helpers/broker-clients.ts';
import { topics } from '../../contracts/index.ts';
import { leaseHolder, startPostgres, type Postgres } from '../../test/helpers/postgres.ts';

const BIN = fileURLToPath(new URL('../../bin/floodgate.js', import.meta.url));

describe('rules failover by lease', { timeout: 300_000 }, () => {
  let server: Postgres;
  let pool: pg.Pool;
  let gw: GatewayHandle | undefined;
  const procs = new Map<string, ChildProcess>();
  const clients: MqttClient[] = [];
  const dir = tempDir('rules-failover');
  beforeAll(async () => {
    server = await startPostgres();
    pool = new pg.Pool({ connectionString: server.url, max: 2 });
    pool.on('error', () => undefined);
  });
  afterAll(async () => {
    await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
    for (const p of procs.values()) {
      p.kill('SIGCONT');
      await stopProcess(p);
    }
    await gw?.close();
    await pool?.end();
    await server?.stop();
    dir.remove();
  });

  const holder = (db = pool) => leaseHolder(db, 'rules').catch(() => undefined);

  it('one active; SIGKILL → the standby resumes from the shared state; a paused leader comes back as standby', async () => {
    const c = await cityGateway(join(dir.path, 'one'));
    const { city, url } = c;
    gw = c.gw;
    const start = (name: string) => {
      // A short lease for the test, long enough that a busy CI machine's pauses never cost one.
      const p = startProcess(process.execPath, [BIN, 'rules'], rulesEnv(c, join(dir.path, name), { FLOODGATE_DATABASE_URL: server.url, FLOODGATE_LEASE_TTL_S: '5', FLOODGATE_INSTANCE_ID: name }));
      procs.set(name, p.proc);
      return p;
    };
    // Every CONNECT of the rules' persistent session, as the broker saw it.
    const sessionConnects: number[] = [];
    gw.broker.on('client', (c) => {
      if (c.id === 'floodgate-rules') sessionConnects.push(Date.now());
    });
    const rulesSubscribed = () => isSubscribed(gw!, 'floodgate-rules', topics.allReadings);

    const { client: watch, events } = await watchAlertEvents(url, city.provisioning.serviceSecret, 'floodgate/alerts/underpass-closure/#');
    const pd = await deviceClient(url, city.provisioning, 'PD-001');
    clients.push(watch, pd);
    const depth = (min: number, d: number) => publishDepth(pd, 'PD-001', min, d);

    start('a');
    const first = await eventually(holder, 'a takes the rules lease', 60_000);
    expect(first).toEqual({ holder: 'a', epoch: 1 });
    await eventually(rulesSubscribed, 'a subscribed', 60_000);
    start('b');
    // b stands by: the lease stays a's (b asks every 500 ms and is refused).
    await new Promise((r) => setTimeout(r, 1500)); // let b ask a few times
    expect(await holder()).toEqual({ holder: 'a', epoch: 1 });

    for (const [m, d] of [[0, 26], [1, 27], [2, 28], [3, 29]] as const) await depth(m, d);
    await eventually(() => events.some((e) => e.state === 'firing'), 'the close, from a');

    // a dies: b takes the lease and the session, resumes from the shared state.
    const killedAt = Date.now();
    procs.get('a')!.kill('SIGKILL');
    await new Promise((r) => procs.get('a')!.once('exit', r));
    procs.delete('a');
    const second = await eventually(async () => ((await holder())?.holder === 'b' ? holder() : undefined), 'b takes over', 60_000);
    testLogger.info({ failoverMs: Date.now() - killedAt }, 'rules failover after SIGKILL');
    expect(second!.epoch).toBe(2);
    for (const [m, d] of [[4, 14], [6, 12], [10, 10], [12, 8], [15, 7]] as const) await depth(m, d);
    await eventually(() => events.some((e) => e.state === 'resolved'), 'the reopen, from b');

    // a comes back (standby); b is paused past its lease: a takes over with epoch 3.
    start('a');
    procs.get('b')!.kill('SIGSTOP');
    const third = await eventually(async () => ((await holder())?.holder === 'a' ? holder() : undefined), 'a takes over from the paused b', 60_000);
    expect(third!.epoch).toBe(3);
    const takenAt = Date.now();
    await eventually(() => sessionConnects.some((t) => t >= takenAt - 1000), 'a connected the session again', 60_000);
    const resumedAt = Date.now();
    procs.get('b')!.kill('SIGCONT');
    // b wakes up replaced: it must not take the session back. A new episode is a's alone.
    for (const [m, d] of [[20, 26], [21, 27], [22, 28], [23, 29]] as const) await depth(m, d);
    await eventually(() => new Set(events.filter((e) => e.state === 'firing').map((e) => e.alertId)).size === 2, 'the second close, from a');
    await new Promise((r) => setTimeout(r, 1500)); // b's timers have all run: nothing more comes from it
    expect(await holder()).toEqual({ holder: 'a', epoch: 3 });
    // At least once: a transition a published before it could save and acknowledge its readings
    // comes again from b, with the same alert id (the alerts service keeps one). Never a new episode.
    const transitions = [...new Set(events.map((e) => `${e.state} ${e.alertId}`))];
    expect(transitions.map((t) => t.split(' ')[0])).toEqual(['firing', 'resolved', 'firing']);
    expect(new Set(transitions.slice(0, 2).map((t) => t.split(' ')[1])).size).toBe(1);
    expect(procs.get('b')!.exitCode).toBeNull(); // b carries on, as a standby
    // b stepped down before its client could reconnect: it never took the session back from a.
    expect(sessionConnects.filter((t) => t >= resumedAt)).toEqual([]);
    for (const p of procs.values()) await stopProcess(p);
    procs.clear();
    await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
  });

  it('PostgreSQL stopped mid-closure: the active one holds, steps down, and resumes when it is back; nothing is lost', async () => {
    await gw?.close();
    const c = await cityGateway(join(dir.path, 'two'));
    const { city, url } = c;
    gw = c.gw;
    // A database of its own, as a new deployment would have.
    await pool.query('CREATE DATABASE outage');
    const dbUrl = server.url.replace(/\/floodgate$/, '/outage');
    const db = new pg.Pool({ connectionString: dbUrl, max: 1 });
    db.on('error', () => undefined);
    const cleanup = () => db.end();
    // Its step-down is read from its log (warn).
    const p = startProcess(process.execPath, [BIN, 'rules'], rulesEnv(c, join(dir.path, 'c'), { FLOODGATE_LOG_LEVEL: 'warn', FLOODGATE_DATABASE_URL: dbUrl, FLOODGATE_LEASE_TTL_S: '5', FLOODGATE_INSTANCE_ID: 'c' }));
    procs.set('c', p.proc);
    const { client: watch, events } = await watchAlertEvents(url, city.provisioning.serviceSecret, 'floodgate/alerts/underpass-closure/#', 'watch-2');
    const pd = await deviceClient(url, city.provisioning, 'PD-001');
    clients.push(watch, pd);
    const depth = (min: number, d: number) => publishDepth(pd, 'PD-001', min, d);
    await eventually(() => holder(db), 'c takes the rules lease', 60_000);
    // Subscribed, not only connected: readings published before its SUBSCRIBE reach no session of
    // it (this test timed out waiting for the reopen once in CI: no closure had been raised).
    await eventually(() => isSubscribed(gw!, 'floodgate-rules', topics.allReadings), 'c subscribed', 60_000);
    for (const [m, d] of [[0, 26], [1, 27]] as const) await depth(m, d);

    await server.stopServer();
    // The rest of the closure arrives while the database is away: the broker keeps it.
    for (const [m, d] of [[2, 28], [3, 29]] as const) await depth(m, d);
    await eventually(() => /lease ran out without a renewal: standby/.test(p.logs()), 'c stands down: its lease ran out unrenewed', 60_000);
    await eventually(() => !isConnected(gw!, 'floodgate-rules'), 'c has left the broker', 30_000);
    await server.startServer();
    await eventually(() => holder(db), 'c takes the lease again', 60_000);
    for (const [m, d] of [[4, 14], [6, 12], [10, 10], [12, 8], [15, 7]] as const) await depth(m, d);
    // A generous bound: on a loaded machine the new active part starts, reloads and replays the
    // session's queue slowly. If it never comes, the instance's log says why.
    await eventually(() => events.some((e) => e.state === 'resolved'), 'the reopen', 120_000).catch((err: Error) => {
      throw new Error(`${err.message}; events ${JSON.stringify(events.map((e) => `${e.state} ${e.alertId}`))}\nrules c's log (last 6,000 characters):\n${p.logs().slice(-6000)}`);
    });
    // At least once: a transition published before a save failed comes again with the same id (the alerts service keeps one).
    expect([...new Set(events.map((e) => `${e.state} ${e.alertId}`))].map((x) => x.split(' ')[0])).toEqual(['firing', 'resolved']);
    expect(p.proc.exitCode).toBeNull(); // it never exited because its database was away
    await cleanup();
  });
});
