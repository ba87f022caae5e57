import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';

const sha256 = (s: string) => createHash('sha256').update(s).digest();

/** An onRequest hook requiring `Authorization: Bearer <token>` (compared in constant time). */
export function bearerAuth(token: string) {
  const digest = sha256(token);
  return async (req: FastifyRequest, reply: FastifyReply) => {
    const m = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '');
    if (!m || !timingSafeEqual(sha256(m[1]!), digest)) {
      reply.header('www-authenticate', 'Bearer realm="floodgate"');
      return reply.code(401).send({ error: { code: 'UNAUTHORIZED', message: 'missing or invalid bearer token' } });
    }
  };
}
