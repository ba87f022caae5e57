/**
 * The API description is generated from the same zod schemas the routes validate with: every
 * route of contracts/api.ts is registered, documented in /docs/openapi.json with its role, and
 * validated by its schema.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_ROUTES, type ApiRoute } from '../../contracts/api.ts';
import { startStack, type Stack } from '../../test/helpers/stack.ts';

describe('OpenAPI', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(() => stack?.close());

  it('documents every route, and every documented route is served', async () => {
    const res = await stack.alerts.app.inject({ url: '/docs/openapi.json' });
    expect(res.statusCode).toBe(200);
    const doc = res.json() as { openapi: string; paths: Record<string, Record<string, { security: unknown[]; 'x-floodgate-role'?: string; parameters: Array<{ name: string; in: string }> }>> };
    expect(doc.openapi).toBe('3.1.0');
    for (const r of Object.values(API_ROUTES) as ApiRoute[]) {
      const op = doc.paths[r.path.replace(/:(\w+)/g, '{$1}')]?.[r.method.toLowerCase()];
      expect(op, `${r.method} ${r.path}`).toBeDefined();
      expect(op!['x-floodgate-role'] ?? null).toBe(r.role);
      expect(stack.alerts.app.hasRoute({ method: r.method, url: r.path }), `${r.method} ${r.path} registered`).toBe(true);
    }
    expect(doc.paths['/api/alerts/{id}/ack']!['post']!.parameters).toEqual([expect.objectContaining({ name: 'id', in: 'path' })]);
    const page = await stack.alerts.app.inject({ url: '/docs' });
    expect(page.body).toContain('POST /api/alerts/{id}/ack');
  });

  it('an unknown route and a malformed URL keep the error shape', async () => {
    const missing = await stack.alerts.app.inject({ url: '/api/nothing-here', headers: { authorization: `Bearer ${stack.apiToken}` } });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ error: { code: 'NOT_FOUND' } });
    const bad = await stack.alerts.app.inject({ url: '/api/alerts/%E0%A4%A', headers: { authorization: `Bearer ${stack.apiToken}` } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ error: { code: 'BAD_REQUEST' } });
  });

  it.each([
    ['a silence of 0 minutes', { method: 'POST' as const, url: '/api/silences', payload: { site: 'UP-001', minutes: 0, reason: 'x' } }],
    ['an unknown field', { method: 'POST' as const, url: '/api/silences', payload: { site: 'UP-001', minutes: 5, reason: 'x', city: 'all' } }],
    ['a bad query value', { method: 'GET' as const, url: '/api/alerts?state=burning' }],
  ])('refuses %s with a clear 400 from the zod schema', async (_c, req) => {
    const res = await stack.alerts.app.inject({ ...req, headers: { authorization: `Bearer ${stack.apiToken}` } });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error: { code: 'BAD_REQUEST' } });
  });
});
