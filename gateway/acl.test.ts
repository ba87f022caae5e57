import { describe, expect, it } from 'vitest';
import { canPublish, canSubscribe, filterCovers, topicMatches, type Principal } from './acl.ts';

const dev: Principal = { type: 'device', sensorId: 'PD-001', kind: 'ponding' };
const ingest: Principal = { type: 'service', name: 'ingest' };
const rules: Principal = { type: 'service', name: 'rules' };
const alerts: Principal = { type: 'service', name: 'alerts' };
const sim: Principal = { type: 'service', name: 'simulator-admin' };
const lab: Principal = { type: 'lab' };

describe('canPublish', () => {
  it.each([
    // devices: their own reading/status only
    [dev, 'sensors/ponding/PD-001/reading', true],
    [dev, 'sensors/ponding/PD-001/status', true],
    [dev, 'sensors/ponding/PD-002/reading', false],
    [dev, 'sensors/rain/PD-001/reading', false],
    [dev, 'sensors/ponding/PD-001/config', false],
    [dev, 'sensors/ponding/PD-001/reading/extra', false],
    [dev, 'floodgate/alerts/underpass-closure/UP-001', false],
    [dev, 'floodgate/rejects/ponding/PD-001', false],
    [dev, 'lab/anything', false],
    [dev, '$SYS/broker/uptime', false],
    // ingest: rejects and its own alarms
    [ingest, 'floodgate/rejects/ponding/PD-001', true],
    [ingest, 'floodgate/ingest/spool', true],
    [ingest, 'floodgate/alerts/underpass-closure/UP-001', false],
    [ingest, 'sensors/ponding/PD-001/reading', false],
    // rules: alert events
    [rules, 'floodgate/alerts/underpass-closure/UP-001', true],
    [rules, 'floodgate/rejects/ponding/PD-001', false],
    [rules, 'floodgate/overrides/PD-001', false],
    [dev, 'floodgate/overrides/PD-001', false],
    // alerts
    [alerts, 'floodgate/alerts/notice-delivery/UP-001', true],
    [alerts, 'floodgate/notices/UP-001', true],
    [alerts, 'floodgate/overrides/PD-001', true],
    [alerts, 'sensors/ponding/PD-001/config', false],
    // simulator-admin speaks for devices
    [sim, 'sensors/ponding/PD-001/reading', true],
    [sim, 'floodgate/alerts/underpass-closure/UP-001', false],
    // nobody publishes to $SYS
    [ingest, '$SYS/x', false],
    [sim, '$SYS/x', false],
    // lab: anything outside the reserved trees
    [lab, 'test/topic', true],
    [lab, 'sensors/ponding/PD-001/reading', false],
    [lab, 'floodgate/alerts/x/y', false],
    [lab, '$SYS/x', false],
    [lab, '$lab/x', true],
  ] as const)('%o publishes %s → %s', (p, topic, expected) => {
    expect(canPublish(p, topic).allow).toBe(expected);
  });

  it('says why it denies', () => {
    expect(canPublish(dev, 'sensors/ponding/PD-002/reading')).toEqual({ allow: false, reason: expect.stringContaining('PD-001 may publish only') });
    expect(canPublish(ingest, 'floodgate/alerts/a/b')).toEqual({ allow: false, reason: expect.stringContaining('service ingest may publish only') });
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
    [dev, '$SYS/#', false],
    [ingest, 'sensors/+/+/reading', true],
    [ingest, 'sensors/ponding/+/reading', true],
    [ingest, 'sensors/ponding/PD-001/reading', true],
    [ingest, 'sensors/#', false],
    [ingest, 'sensors/+/+/+', false],
    [ingest, 'floodgate/alerts/+/+', false],
    [ingest, '$SYS/#', true],
    [rules, 'floodgate/alerts/underpass-closure/+', true],
    [rules, 'floodgate/overrides/+', true],
    [ingest, 'floodgate/overrides/+', false],
    [rules, 'sensors/ponding/+/reading', true],
    [rules, 'floodgate/rejects/#', false],
    [alerts, 'floodgate/alerts/+/+', true],
    [alerts, 'sensors/+/+/reading', true], // the console's latest values and sparklines
    [alerts, 'sensors/#', false],
    [sim, 'floodgate/#', true],
    [sim, '#', false],
    [lab, 'test/#', true],
    [lab, '#', true],
    [lab, '+/x', true],
    [lab, '$lab/#', true],
    [lab, 'sensors/#', false],
    [lab, 'floodgate/alerts/+/+', false],
    [lab, '$SYS/#', false],
  ] as const)('%o subscribes %s → %s', (p, filter, expected) => {
    expect(canSubscribe(p, filter).allow).toBe(expected);
  });
});

describe('topicMatches', () => {
  it.each([
    ['a/+/c', 'a/b/c', true],
    ['a/#', 'a', true], // [MQTT-4.7.1-2] # includes the parent level
    ['a/#', 'a/b/c', true],
    ['a/+', 'a/b/c', false],
    ['+/+', '/x', true],
    ['#', '$SYS/x', false], // [MQTT-4.7.2-1]
    ['$SYS/#', '$SYS/x', true],
  ] as const)('%s matches %s → %s', (f, t, expected) => {
    expect(topicMatches(f, t)).toBe(expected);
  });
});

describe('filterCovers', () => {
  it.each([
    ['sensors/+/+/reading', 'sensors/+/+/reading', true],
    ['sensors/+/+/reading', 'sensors/rain/RG-1/reading', true],
    ['sensors/+/+/reading', 'sensors/+/+/#', false],
    ['sensors/+/+/reading', 'sensors/+/+', false],
    ['floodgate/#', 'floodgate/alerts/+/+', true],
    ['floodgate/#', 'floodgate/#', true],
    ['floodgate/alerts/#', 'floodgate/#', false],
  ] as const)('%s covers %s → %s', (a, r, expected) => {
    expect(filterCovers(a, r)).toBe(expected);
  });
});
