/**
 * GET /api/rejects: the dead letters of ingest, for the engineer asking "what happened to my
 * sensor's readings?". A fastify plugin that the alerts API (floodgate up) or ingest's own ops
 * server mounts inside its authenticated scope.
 */
import type { FastifyInstance } from 'fastify';
import { API_ROUTES, routeSchema } from '../contracts/api.ts';
import { isoWithOffset } from '../lib/time.ts';
import type { Spool } from './spool.ts';

export function ingestRoutes(spool: Spool) {
  return async function routes(app: FastifyInstance): Promise<void> {
    app.get(API_ROUTES.rejects.path, { schema: routeSchema(API_ROUTES.rejects) }, async (req) => {
        const q = req.query as { sensor?: string; reason?: string; limit: number };
        const rows = spool.listRejects({ sensor: q.sensor, code: q.reason, limit: q.limit });
        return { rejects: rows.map((r) => ({ ...r, at: isoWithOffset(r.at), ts: r.ts === null ? null : isoWithOffset(r.ts) })) };
    });
  };
}
