/**
 * The API description is generated from the same zod schemas the routes validate with: every
 * route of contracts/api.ts is registered, documented in /docs/openapi.json with its role, and
 * validated by its schema.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_ROUTES, type ApiRoute } from '../../contracts/api.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildTestApp, type TestApp } from './app.ts';
import { openSpool, type Spool } from '../../ingest/spool.ts';
import { ingestRoutes } from '../../ingest/api.ts';

// The app alone over an in-memory store (no broker, no socket): what the API answers does not
// depend on them.
describe('OpenAPI', () => {
  let t: TestApp;
  let spool: Spool;
  const dir = mkdtempSync(join(tmpdir(), 'fg-openapi-'));
  beforeAll(async () => {
    // ingest's dead letters are served by the same API in `floodgate up`: mounted here as there.
    spool = openSpool(join(dir, 'spool.db'), { sync: 'normal', dedupeWindowMs: 60_000 });
    t = await buildTestApp({ extraRoutes: [ingestRoutes(spool)] });
  });
  afterAll(async () => {
    await t?.close();
    spool?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('documents every route, and every documented route is served', async () => {
    const res = await t.app.inject({ url: '/docs/openapi.json' });
    expect(res.statusCode).toBe(200);
    const doc = res.json() as { openapi: string; paths: Record<string, Record<string, { security: unknown[]; 'x-floodgate-role'?: string; parameters: Array<{ name: string; in: string }> }>> };
    expect(doc.openapi).toBe('3.1.0');
    for (const r of Object.values(API_ROUTES) as ApiRoute[]) {
      const op = doc.paths[r.path.replace(/:(\w+)/g, '{$1}')]?.[r.method.toLowerCase()];
      expect(op, `${r.method} ${r.path}`).toBeDefined();
      expect(op!['x-floodgate-role'] ?? null).toBe(r.role);
      expect(t.app.hasRoute({ method: r.method, url: r.path }), `${r.method} ${r.path} registered`).toBe(true);
    }
    expect(doc.paths['/api/alerts/{id}/ack']!['post']!.parameters).toEqual([expect.objectContaining({ name: 'id', in: 'path' })]);
    const page = await t.app.inject({ url: '/docs' });
    expect(page.body).toContain('POST /api/alerts/{id}/ack');
  });

  it('an unknown route and a malformed URL keep the error shape', async () => {
    const missing = await t.app.inject({ url: '/api/nothing-here', headers: { authorization: `Bearer ${t.token}` } });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ error: { code: 'NOT_FOUND' } });
    const bad = await t.app.inject({ url: '/api/alerts/%E0%A4%A', headers: { authorization: `Bearer ${t.token}` } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ error: { code: 'BAD_REQUEST' } });
  });

  it.each([
    ['a silence of 0 minutes', { method: 'POST' as const, url: '/api/silences', payload: { site: 'UP-001', minutes: 0, reason: 'x' } }],
    ['an unknown field', { method: 'POST' as const, url: '/api/silences', payload: { site: 'UP-001', minutes: 5, reason: 'x', city: 'all' } }],
    ['a bad query value', { method: 'GET' as const, url: '/api/alerts?state=burning' }],
  ])('refuses %s with a clear 400 from the zod schema', async (_c, req) => {
    const res = await t.app.inject({ ...req, headers: { authorization: `Bearer ${t.token}` } });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error: { code: 'BAD_REQUEST' } });
  });

  const auth = () => t.auth();
  it.each([
    ['a boolean for a number', '/api/silences', { site: 'UP-001', minutes: true, reason: 'x' }, 'body.minutes'],
    ['an array for a string', '/api/silences', { site: 'UP-001', minutes: 5, reason: ['x'] }, 'body.reason'],
    ['a boolean for a note', '/api/alerts/x/notes', { note: false }, 'body.note'],
    ['a silence of the whole city', '/api/silences', { minutes: 5, reason: 'x' }, 'names a sensor, a site or a district'],
  ])('bodies are parsed, not coerced: %s is a 400 naming the field', async (_c, url, payload, says) => {
    const res = await t.app.inject({ method: 'POST', url, headers: auth(), payload });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toMatchObject({ code: 'BAD_REQUEST', message: expect.stringContaining(says) });
    expect(await t.store.activeSilences(Date.now())).toEqual([]);
  });

  it.each([
    ['JSON that is not', { 'content-type': 'application/json' }, '{"minutes":', 400, 'BAD_REQUEST'],
    ['a body in another type', { 'content-type': 'text/plain' }, 'hello', 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['a body over 64 KiB', { 'content-type': 'application/json' }, JSON.stringify({ reason: 'x'.repeat(70_000) }), 413, 'PAYLOAD_TOO_LARGE'],
  ])("fastify's own errors speak the API's catalogue: %s", async (_c, headers, payload, status, code) => {
    const res = await t.app.inject({ method: 'POST', url: '/api/silences', headers: { ...auth(), ...headers }, payload });
    expect(res.statusCode).toBe(status);
    expect(res.json().error.code).toBe(code);
  });

  it('a method a path does not declare is 405 with Allow, an unknown path still 404', async () => {
    const put = await t.app.inject({ method: 'PUT', url: '/api/alerts', headers: auth() });
    expect(put.statusCode).toBe(405);
    expect(put.headers['allow']).toBe('GET, HEAD');
    expect(put.json().error.code).toBe('METHOD_NOT_ALLOWED');
    const del = await t.app.inject({ method: 'DELETE', url: '/api/alerts/x/ack', headers: auth() });
    expect([del.statusCode, del.headers['allow']]).toEqual([405, 'POST']);
    expect((await t.app.inject({ method: 'PUT', url: '/api/nothing', headers: auth() })).statusCode).toBe(404);
  });

  it('documents every answer a route gives: 201, 409, 401/429 on login, 413/415 on bodies', async () => {
    const doc = (await t.app.inject({ url: '/docs/openapi.json' })).json() as { paths: Record<string, Record<string, { responses: Record<string, unknown>; requestBody?: { content: Record<string, { schema: { anyOf?: unknown[] } }> } }>> };
    expect(Object.keys(doc.paths['/api/login']!['post']!.responses)).toEqual(expect.arrayContaining(['200', '401', '429', '413', '415']));
    expect(Object.keys(doc.paths['/api/silences']!['post']!.responses)).toEqual(expect.arrayContaining(['201', '401', '403', '413', '415']));
    expect(doc.paths['/api/silences']!['post']!.responses['200']).toBeUndefined();
    expect(Object.keys(doc.paths['/api/alerts/{id}/resolve']!['post']!.responses)).toContain('409');
    expect(Object.keys(doc.paths['/api/notices/{seq}/resend']!['post']!.responses)).toContain('409');
    expect(doc.paths['/api/silences']!['post']!.requestBody!.content['application/json']!.schema.anyOf).toHaveLength(3);
    // The readable page says the same: every answer of a route, and an example body.
    const page = (await t.app.inject({ url: '/docs' })).body;
    const resolveRow = page.slice(page.indexOf('id="post/api/alerts/{id}/resolve"'));
    expect(resolveRow.slice(0, resolveRow.indexOf('</tr>'))).toContain('<b>409</b> NOT_FIRING');
    expect(page).toContain('&#34;site&#34;:&#34;UP-003&#34;');
  });
});
