import { describe, expect, it } from 'vitest';
import { createSessions } from './sessions.ts';

describe('console sessions', () => {
  const clockAt = (t: { now: number }) => ({ now: () => t.now });

  it('an id is random, maps to its token, and is not the token', () => {
    const s = createSessions({ clock: clockAt({ now: 0 }), ttlMs: 1000, max: 10 });
    const a = s.open('tok-a');
    const b = s.open('tok-a');
    expect(a).not.toBe(b);
    expect(a).not.toContain('tok-a');
    expect(a.length).toBeGreaterThanOrEqual(43); // 256 bits, base64url
    expect(s.tokenOf(a)).toBe('tok-a');
    expect(s.tokenOf('guess')).toBeUndefined();
  });

  it.each([
    ['before expiry', 999, 'tok'],
    ['at expiry', 1000, undefined],
    ['after expiry', 5000, undefined],
  ] as const)('expiry: %s', (_n, at, want) => {
    const t = { now: 0 };
    const s = createSessions({ clock: clockAt(t), ttlMs: 1000, max: 10 });
    const id = s.open('tok');
    t.now = at;
    expect(s.tokenOf(id)).toBe(want);
  });

  it('logout revokes at once; revoking twice says so', () => {
    const s = createSessions({ clock: clockAt({ now: 0 }), ttlMs: 1000, max: 10 });
    const id = s.open('tok');
    expect(s.revoke(id)).toBe(true);
    expect(s.tokenOf(id)).toBeUndefined();
    expect(s.revoke(id)).toBe(false);
  });

  it('holds at most `max` sessions, ending the oldest', () => {
    const s = createSessions({ clock: clockAt({ now: 0 }), ttlMs: 1000, max: 2 });
    const a = s.open('a');
    const b = s.open('b');
    const c = s.open('c');
    expect(s.size()).toBe(2);
    expect([s.tokenOf(a), s.tokenOf(b), s.tokenOf(c)]).toEqual([undefined, 'b', 'c']);
  });
});
