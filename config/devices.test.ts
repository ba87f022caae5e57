import { describe, expect, it } from 'vitest';
import { addDevice, deviceState, revokeDevice, rotateDevice } from './devices.ts';
import type { Registry } from './registry.ts';

const reg: Registry = {
  version: 1,
  city: 't',
  districts: [{ id: 'd1', name: 'D1', police: { url: 'http://x', secretRef: 'S' } }],
  sites: [
    { id: 'UP-1', kind: 'underpass', name: 'U', road: '', district: 'd1', lat: 31, lon: 121 },
    { id: 'RS-1', kind: 'rain-station', name: 'R', road: '', district: 'd1', lat: 31, lon: 121 },
  ],
  sensors: [{ id: 'PD-1', kind: 'ponding', site: 'UP-1', secretHash: 'h1' }],
};
const NOW = Date.parse('2026-07-01T00:00:00Z');

describe('device lifecycle', () => {
  it('adds a device with only its hash', () => {
    const r = addDevice(reg, { id: 'RG-1', kind: 'rain', site: 'RS-1' }, 'h2');
    expect(r.sensors.at(-1)).toEqual({ id: 'RG-1', kind: 'rain', site: 'RS-1', secretHash: 'h2' });
  });

  it.each([
    ['an existing id', { id: 'PD-1', kind: 'ponding', site: 'UP-1' }, 'already exists'],
    ['an unknown site', { id: 'PD-2', kind: 'ponding', site: 'UP-9' }, 'unknown site'],
    ['a ponding sensor away from an underpass', { id: 'PD-3', kind: 'ponding', site: 'RS-1' }, 'underpass'],
    ['a bad id', { id: 'PD/4', kind: 'ponding', site: 'UP-1' }, 'ids are'],
  ] as const)('refuses %s', (_n, d, message) => {
    expect(() => addDevice(reg, d, 'h')).toThrow(message);
  });

  it('rotates with a grace period for the old secret', () => {
    const r = rotateDevice(reg, 'PD-1', 'h9', NOW, 3600);
    expect(r.sensors[0]).toEqual({ id: 'PD-1', kind: 'ponding', site: 'UP-1', secretHash: 'h9', previousSecretHash: 'h1', previousValidUntil: '2026-07-01T01:00:00.000Z' });
    expect(deviceState(r.sensors[0]!, NOW)).toContain('rotating');
    expect(deviceState(r.sensors[0]!, NOW + 3_600_001)).toBe('active');
  });

  it('rotates without grace when asked', () => {
    expect(rotateDevice(reg, 'PD-1', 'h9', NOW, 0).sensors[0]).toEqual({ id: 'PD-1', kind: 'ponding', site: 'UP-1', secretHash: 'h9' });
  });

  it('revokes, keeping the device listed', () => {
    const r = revokeDevice(rotateDevice(reg, 'PD-1', 'h9', NOW, 3600), 'PD-1');
    expect(r.sensors[0]).toEqual({ id: 'PD-1', kind: 'ponding', site: 'UP-1', secretHash: 'h9', revoked: true });
    expect(deviceState(r.sensors[0]!, NOW)).toBe('revoked');
    expect(() => rotateDevice(r, 'PD-1', 'h', NOW, 0)).toThrow('revoked');
  });

  it('names unknown devices', () => {
    expect(() => revokeDevice(reg, 'XX')).toThrow('no device XX');
  });
});
