/**
 * What every rules state store must do, one suite run against embedded SQLite and a real
 * PostgreSQL 15: saves in one transaction what it is given and loads it in another store opened on
 * the same data (a restart, or the standby that takes over); PostgreSQL's saves can be fenced by
 * the lease, so a replaced leader cannot overwrite its successor's state.
 */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { newEngineState, newSensorState, type EngineState } from '../engine.ts';
import { openStateStore, serializeDistrict, serializeSensor, type StateStore } from '../state-store.ts';
import { openPgStateStore } from '../pg-state-store.ts';
import { leaseMigrations, tryLease } from '../../lib/pg-lease.ts';
import { migrate } from '../../lib/pg-migrate.ts';
import { usePostgres } from '../../test/helpers/postgres.ts';
import { tempDir } from '../../test/helpers/servers.ts';
import { eventually } from '../../test/helpers/stack.ts';

function stateStoreContract(name: string, open: () => Promise<StateStore>): void {
  it(`${name}: saves what it is given and a second store on the same data loads it`, async () => {
    const a = await open();
    const state: EngineState = newEngineState();
    state.sensors.set('PD-1', { ...newSensorState(1), lastTs: 42, closure: { phase: 'firing', since: 40, count: 0, alertId: 'x' } });
    state.sensors.set('PD-2', newSensorState(1)); // not saved: not named
    state.districts.set('d1', { gauges: new Map([['RG-1', 2]]), level: -1 });
    await a.saveSerialized(new Map([['PD-1', serializeSensor(state.sensors.get('PD-1')!)]]), new Map([['d1', serializeDistrict(state.districts.get('d1')!)]]));
    // A later save of the same sensor replaces it; an empty save changes nothing.
    const later = { ...state.sensors.get('PD-1')!, lastTs: 43 };
    await a.saveSerialized(new Map([['PD-1', serializeSensor(later)]]), new Map());
    await a.saveSerialized(new Map(), new Map());
    await a.close();
    const b = await open();
    const loaded = await b.load();
    await b.close();
    expect([...loaded.sensors.keys()]).toEqual(['PD-1']);
    expect(loaded.sensors.get('PD-1')).toEqual(later);
    expect(loaded.districts.get('d1')).toEqual(state.districts.get('d1'));
  });
}

describe('rules state store contract', () => {
  const dir = tempDir('rules-state');
  const db = usePostgres();
  afterAll(() => dir.remove());
  const pool = () => db.pool();

  stateStoreContract('SQLite (embedded)', async () => openStateStore(join(dir.path, 'state.db')));
  stateStoreContract('PostgreSQL', () => openPgStateStore(pool()));

  it('PostgreSQL: a fenced save commits only while the lease carries this epoch (LEASE_LOST after a takeover)', async () => {
    const c = await pool().connect();
    await migrate(c, 'leases', leaseMigrations);
    c.release();
    expect(await tryLease(pool(), 'rules', 'a', 300)).toEqual({ epoch: 1 });
    let epochA: number | undefined = 1;
    const a = await openPgStateStore(pool(), { role: 'rules', epoch: () => epochA });
    const json = (lastTs: number) => new Map([['PD-9', serializeSensor({ ...newSensorState(1), lastTs })]]);
    await a.saveSerialized(json(1), new Map());
    // a pauses; its lease runs out and b takes over with epoch 2 and saves.
    const taken = await eventually(() => tryLease(pool(), 'rules', 'b', 60_000), 'b takes the lease a let run out', 10_000);
    expect(taken).toEqual({ epoch: 2 });
    const b = await openPgStateStore(pool(), { role: 'rules', epoch: () => 2 });
    await b.saveSerialized(json(2), new Map());
    // a wakes up still believing it leads with epoch 1: refused, and b's state stands.
    await expect(a.saveSerialized(json(99), new Map())).rejects.toMatchObject({ code: 'LEASE_LOST' });
    epochA = undefined; // a knows it does not lead
    await expect(a.saveSerialized(json(98), new Map())).rejects.toMatchObject({ code: 'LEASE_LOST' });
    expect((await b.load()).sensors.get('PD-9')?.lastTs).toBe(2);
  });
});
