/**
 * Console sessions: logging in with a token gives the browser a random session id (the cookie),
 * never the token itself; the server keeps the id's token and expiry. Logging out revokes the id
 * at once, a session ends `ttlMs` after login, and a user removed from api-users.json loses every
 * session at the next request (each request authenticates the session's token again).
 *
 * Kept in memory: a restart of the alerts service asks officers to log in again.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Clock } from '../lib/clock.ts';

export interface Sessions {
  /** A new session for this token; returns the id to put in the cookie. */
  open(token: string): string;
  /** The token of a live session, or undefined (unknown, expired or revoked). */
  tokenOf(id: string): string | undefined;
  /** End a session now; false when there was none. */
  revoke(id: string): boolean;
  size(): number;
}

/** Ids are looked up by their hash, so a heap dump or a timing probe does not hand out live ids. */
const key = (id: string) => createHash('sha256').update(id).digest('base64url');

export function createSessions(opts: { clock: Clock; ttlMs: number; max: number }): Sessions {
  const byKey = new Map<string, { token: string; expiresAt: number }>();
  return {
    open(token) {
      const id = randomBytes(32).toString('base64url');
      // Oldest first in a Map: beyond the bound, the oldest sessions end.
      while (byKey.size >= opts.max) byKey.delete(byKey.keys().next().value!);
      byKey.set(key(id), { token, expiresAt: opts.clock.now() + opts.ttlMs });
      return id;
    },
    tokenOf(id) {
      const k = key(id);
      const s = byKey.get(k);
      if (!s) return undefined;
      if (s.expiresAt <= opts.clock.now()) {
        byKey.delete(k);
        return undefined;
      }
      return s.token;
    },
    revoke: (id) => byKey.delete(key(id)),
    size: () => byKey.size,
  };
}
