/**
 * The commit chain's order, over a real state store: a group is saved only once its events are
 * out, groups are saved in order, a failed group taints the chain (later groups fail without
 * saving) until the reconnect reloads the last good save.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { createCommitChain, type Evaluated } from '../commits.ts';
import { openStateStore, serializeSensor, type StateStore } from '../state-store.ts';
import { newSensorState, type EngineState } from '../engine.ts';
import { createMetricsRegistry, counter } from '../../lib/metrics.ts';
import { silentLogger } from '../../lib/logger.ts';
import { tempDir } from '../../test/helpers/servers.ts';

describe('commit chain', () => {
  const cleanup: Array<() => void> = [];
  afterEach(() => {
    for (const f of cleanup.splice(0).reverse()) f();
  });

  function setUp() {
    const dir = tempDir('commits');
    cleanup.push(() => dir.remove());
    const store: StateStore = openStateStore(join(dir.path, 'state.db'));
    cleanup.push(() => void store.close());
    const state: EngineState = { sensors: new Map(), districts: new Map() };
    const saves: number[] = [];
    const chain = createCommitChain({ store, state, faults: counter(createMetricsRegistry(), 'faults_total', 'x', ['where']), logger: silentLogger, saved: () => saves.push(1) });
    const item = (sensor: string, published: Promise<void>, lastTs: number): Evaluated => ({ sensor, published, sensorJson: serializeSensor({ ...newSensorState(0), lastTs }) });
    return { store, state, chain, saves, item };
  }

  it('saves a group only after its events are out, and groups in order', async () => {
    const { store, chain, item } = setUp();
    let release!: () => void;
    const slow = new Promise<void>((r) => (release = r));
    const first = chain.commitGroup([item('PD-001', slow, 10)]);
    const second = chain.commitGroup([item('PD-002', Promise.resolve(), 20), null]);
    await new Promise((r) => setImmediate(r));
    expect((await store.load()).sensors.size).toBe(0); // the first group's events are still on their way
    release();
    await Promise.all([first, second]);
    expect([...(await store.load()).sensors.keys()].sort()).toEqual(['PD-001', 'PD-002']);
  });

  it('a failed group taints the chain until the reconnect reloads the last save', async () => {
    const { store, state, chain, item } = setUp();
    await chain.commitGroup([item('PD-001', Promise.resolve(), 10)]);
    const failed = chain.commitGroup([item('PD-002', Promise.reject(new Error('broker gone')), 20)]);
    const after = chain.commitGroup([item('PD-003', Promise.resolve(), 30)]);
    await expect(failed).rejects.toThrow('broker gone');
    await expect(after).rejects.toThrow('broker gone');
    expect(chain.tainted()).toBe(true);
    state.sensors.set('PD-002', { ...newSensorState(0), lastTs: 20 }); // the engine ran ahead
    chain.reloadIfTainted();
    const restoring = chain.restoring();
    expect(restoring).toBeInstanceOf(Promise); // messages wait for it
    await restoring;
    expect(chain.tainted()).toBe(false);
    expect(chain.restoring()).toBeUndefined();
    expect([...state.sensors.keys()]).toEqual(['PD-001']);
    await chain.commitGroup([item('PD-002', Promise.resolve(), 20)]);
    expect([...(await store.load()).sensors.keys()].sort()).toEqual(['PD-001', 'PD-002']);
  });

  it('a reload that fails (the database away) leaves the chain tainted for the next connection', async () => {
    const { store, state, item } = setUp();
    const faults = counter(createMetricsRegistry(), 'faults_total', 'x', ['where']);
    let down = true;
    const flaky: StateStore = { ...store, load: () => (down ? Promise.reject(new Error('database away')) : store.load()) };
    const chain = createCommitChain({ store: flaky, state, faults, logger: silentLogger, saved: () => undefined });
    await expect(chain.commitGroup([item('PD-001', Promise.reject(new Error('broker gone')), 10)])).rejects.toThrow();
    chain.reloadIfTainted();
    await chain.restoring();
    expect(chain.tainted()).toBe(true);
    expect((await faults.get()).values.find((v) => v.labels['where'] === 'reload')?.value).toBe(1);
    down = false;
    chain.reloadIfTainted();
    await chain.restoring();
    expect(chain.tainted()).toBe(false);
  });

  it('a failed tick is counted and logged, and taints nothing', async () => {
    const { chain } = setUp();
    chain.commitTick(Promise.reject(new Error('publish failed')), new Map());
    await chain.settled();
    expect(chain.tainted()).toBe(false);
  });
});
