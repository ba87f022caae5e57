/**
 * API users and their roles: viewer (reads), officer (also acknowledges and resends), admin
 * (everything, /metrics included). Tokens are 32 random bytes shown once; only their SHA-256 is
 * stored (`DATA_DIR/api-users.json`, 0600). A fast hash is enough for a 256-bit random token —
 * there is nothing to guess — and keeps every request's check cheap; passwords would need scrypt.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { z } from 'zod';
import { writeAtomic } from '../config/registry.ts';
import { FloodgateError } from '../lib/errors.ts';
import { describeIssues } from '../lib/zod-issues.ts';

export const ROLES = ['viewer', 'officer', 'admin'] as const;
export type Role = (typeof ROLES)[number];
export const roleAtLeast = (have: Role, need: Role) => ROLES.indexOf(have) >= ROLES.indexOf(need);

const User = z.object({ name: z.string().regex(/^[\p{L}\p{N}_.@-]{1,64}$/u, 'names are letters, digits, "_", ".", "@" and "-" (max 64)'), role: z.enum(ROLES), tokenHash: z.string().regex(/^[0-9a-f]{64}$/) });
const UsersFile = z.object({ version: z.literal(1), users: z.array(User) });
export type User = z.infer<typeof User>;
export type Principal = Pick<User, 'name' | 'role'>;

const hash = (token: string) => createHash('sha256').update(token, 'utf8').digest('hex');

export function loadUsers(path: string): User[] {
  if (!existsSync(path)) return [];
  const r = UsersFile.safeParse(JSON.parse(readFileSync(path, 'utf8')));
  if (!r.success) throw new FloodgateError('CONFIG_INVALID', `invalid users file ${path}: ${describeIssues(r.error.issues)}`);
  return r.data.users;
}

export function saveUsers(path: string, users: User[]): void {
  writeAtomic(path, JSON.stringify({ version: 1, users }, null, 1) + '\n', 0o600);
}

/** Add (or replace) a user; returns the new token, the only time it is ever shown. */
export function addUser(users: User[], name: string, role: Role): { users: User[]; token: string } {
  const token = randomBytes(32).toString('base64url');
  const user = User.parse({ name, role, tokenHash: hash(token) });
  return { users: [...users.filter((u) => u.name !== name), user], token };
}

/** Who a token belongs to: the admin token of the service, or a user's (constant-time compare). */
export function authenticate(token: string | undefined, users: User[], adminToken: string): Principal | null {
  if (!token) return null;
  const h = Buffer.from(hash(token), 'hex');
  if (timingSafeEqual(h, Buffer.from(hash(adminToken), 'hex'))) return { name: 'admin', role: 'admin' };
  for (const u of users) if (timingSafeEqual(h, Buffer.from(u.tokenHash, 'hex'))) return { name: u.name, role: u.role };
  return null;
}
