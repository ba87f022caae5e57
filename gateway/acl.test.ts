import { describe, expect, it } from 'vitest';
import { canPublish, canSubscribe, type Principal } from './acl.ts';

const dev: Principal = { type: 'device', sensorId: 'PD-001', kind: 'ponding' };
const svc: Principal = { type: 'service', name: 'ingest' };

describe('canPublish', () => {
  it.each([
    [dev, 'sensors/ponding/PD-001/reading', true],
    [dev, 'sensors/ponding/PD-001/status', true],
    [dev, 'sensors/ponding/PD-002/reading', false], // another sensor's topic
    [dev, 'sensors/rain/PD-001/reading', false], // wrong kind for this device
    [dev, 'sensors/ponding/PD-001/config', false], // config flows to the device, not from it
    [dev, 'floodgate/alerts/underpass-closure/UP-001', false],
    [dev, 'floodgate/rejects/ponding/PD-001', false],
    [dev, 'sensors/ponding/PD-001/reading/extra', false],
    [dev, '$SYS/broker/uptime', false],
    [svc, 'floodgate/rejects/ponding/PD-001', true],
    [svc, 'floodgate/alerts/underpass-closure/UP-001', true],
    [svc, '$SYS/x', false],
  ] as const)('%o publishes %s → %s', (p, topic, expected) => {
    expect(canPublish(p, topic).allow).toBe(expected);
  });

  it('says why it denies', () => {
    const d = canPublish(dev, 'sensors/ponding/PD-002/reading');
    expect(d).toEqual({ allow: false, reason: expect.stringContaining('PD-001 may publish only') });
  });
});

describe('canSubscribe', () => {
  it.each([
    [dev, 'sensors/ponding/PD-001/config', true],
    [dev, 'floodgate/rejects/ponding/PD-001', true],
    [dev, 'floodgate/rejects/ponding/+', false],
    [dev, 'sensors/#', false],
    [dev, '#', false],
    [dev, 'sensors/ponding/PD-002/config', false],
    [svc, 'sensors/+/+/reading', true],
    [svc, 'floodgate/alerts/+/+', true],
  ] as const)('%o subscribes %s → %s', (p, filter, expected) => {
    expect(canSubscribe(p, filter).allow).toBe(expected);
  });
});
