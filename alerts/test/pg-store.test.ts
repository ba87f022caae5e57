/**
 * The alerts store contract on a real PostgreSQL 15 (Debian's server, a fresh cluster on a free
 * port): the same suite the embedded SQLite store passes, each test on emptied tables. And, for
 * an HA deployment, the fence: a transition commits only while the alerts lease carries this
 * instance's epoch.
 */
import { describe, expect, it } from 'vitest';
import type { AlertEvent } from '../../contracts/index.ts';
import { openPgAlertStore } from '../pg-store.ts';
import { alertStoreContract } from './store-contract.ts';
import { usePostgres } from '../../test/helpers/postgres.ts';
import { migrateLeases, tryLease } from '../../lib/pg-lease.ts';
import { eventually } from '../../test/helpers/stack.ts';

const pg = usePostgres();

alertStoreContract('PostgreSQL', async () => {
  const store = await openPgAlertStore(pg.pool());
  await pg.pool().query('TRUNCATE alerts, alert_audit, pages, silences, notices, notice_attempts, notice_sequences RESTART IDENTITY');
  return store;
});

describe('PostgreSQL alerts store, fenced by the alerts lease', () => {
  const at = '2026-07-01T10:00:00.000Z';
  const event = (n: number): AlertEvent => ({ alertId: `underpass-closure:UP-10${n}:1`, ruleId: 'underpass-closure', subjectId: `UP-10${n}`, sensorId: `PD-10${n}`, state: 'firing', severity: 'critical', value: 31, threshold: 25, unit: 'cm', observedAt: at, changedAt: at, reason: 'ponding above 25 cm' });

  it("a replaced leader's transitions are refused (LEASE_LOST); single writes, such as an officer's acknowledgement, are not fenced", async () => {
    await migrateLeases(pg.pool());
    expect(await tryLease(pg.pool(), 'alerts', 'a', 300)).toEqual({ epoch: 1 });
    let mine: number | undefined = 1;
    const a = await openPgAlertStore(pg.pool(), { role: 'alerts', epoch: () => mine });
    await a.atomically((tx) => tx.openAlert(event(1), at, [], 0));
    // a's lease runs out and b takes it: a, still believing it leads (paused, cut off), is refused.
    expect(await eventually(() => tryLease(pg.pool(), 'alerts', 'b', 60_000), 'b takes the lease a let run out', 30_000)).toEqual({ epoch: 2 });
    await expect(a.atomically((tx) => tx.openAlert(event(2), at, [], 0))).rejects.toMatchObject({ code: 'LEASE_LOST' });
    expect(await a.getAlert(event(2).alertId)).toBeUndefined(); // nothing of it was written
    mine = undefined; // a knows it is a standby now: refused too
    await expect(a.atomically((tx) => tx.openAlert(event(3), at, [], 0))).rejects.toMatchObject({ code: 'LEASE_LOST' });
    await a.ack(event(1).alertId, at, 'officer', null);
    expect((await a.getAlert(event(1).alertId))?.ackedBy).toBe('officer');
  });
});
