import { describe, expect, it } from 'vitest';
import { addUser, authenticate, roleAtLeast, type Role } from './users.ts';

describe('users', () => {
  it('authenticates by token, stores only a hash, replaces a user of the same name', () => {
    const a = addUser([], 'wang', 'officer');
    const b = addUser(a.users, 'li', 'viewer');
    const c = addUser(b.users, 'wang', 'admin');
    expect(JSON.stringify(c.users)).not.toContain(a.token);
    expect(authenticate(c.token, c.users, 'admin-token-xxxxxxxx')).toEqual({ name: 'wang', role: 'admin' });
    expect(authenticate(a.token, c.users, 'admin-token-xxxxxxxx')).toBeNull(); // the replaced token no longer works
    expect(authenticate(b.token, c.users, 'admin-token-xxxxxxxx')).toEqual({ name: 'li', role: 'viewer' });
    expect(authenticate('admin-token-xxxxxxxx', c.users, 'admin-token-xxxxxxxx')).toEqual({ name: 'admin', role: 'admin' });
    expect(authenticate(undefined, c.users, 'admin-token-xxxxxxxx')).toBeNull();
    expect(() => addUser([], 'bad name!', 'viewer')).toThrow(/names are/);
  });

  it.each<[Role, Role, boolean]>([
    ['viewer', 'viewer', true],
    ['viewer', 'officer', false],
    ['officer', 'officer', true],
    ['officer', 'admin', false],
    ['admin', 'officer', true],
  ])('%s is at least %s: %s', (have, need, ok) => {
    expect(roleAtLeast(have, need)).toBe(ok);
  });
});
