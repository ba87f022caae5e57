/**
 * The API against its own description, in the manner of Schemathesis: for every operation of the
 * served OpenAPI document (/docs/openapi.json), requests are generated from its schemas — path
 * and query values and bodies that fit, and ones that break them (wrong types, values out of
 * range, unknown fields, missing required ones) — and sent with the admin token. Every answer
 * must be one the document lists for that operation, no server error, and an error must have the
 * {error:{code,message}} shape. A body that does not fit its schema must be refused, never
 * stored. Fixed seed; FUZZ_RUNS per operation (default 200 / 4).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { startStack, type Stack } from '../helpers/stack.ts';

const RUNS = Math.max(25, Math.round(Number(process.env['FUZZ_RUNS'] ?? 200) / 4));
const SEED = Number(process.env['FUZZ_SEED'] ?? 20261207);

type Schema = { type?: string | string[]; enum?: unknown[]; const?: unknown; minimum?: number; maximum?: number; exclusiveMinimum?: number; minLength?: number; maxLength?: number; pattern?: string; format?: string; properties?: Record<string, Schema>; required?: string[]; items?: Schema; minItems?: number; maxItems?: number; anyOf?: Schema[]; additionalProperties?: unknown; default?: unknown };
interface Operation {
  parameters: Array<{ name: string; in: 'path' | 'query'; required: boolean; schema: Schema }>;
  requestBody?: { content: { 'application/json': { schema: Schema } } };
  responses: Record<string, unknown>;
}

/** Values that fit a schema (as far as this generator reads JSON Schema: what contracts/api.ts produces). */
function fitting(s: Schema): fc.Arbitrary<unknown> {
  if (s.enum) return fc.constantFrom(...s.enum);
  if (s.const !== undefined) return fc.constant(s.const);
  if (s.anyOf && !s.type && !s.properties) return fc.oneof(...s.anyOf.map(fitting));
  const type = Array.isArray(s.type) ? s.type.find((t) => t !== 'null') : s.type;
  switch (type) {
    case 'integer':
      return fc.integer({ min: Math.ceil(s.minimum ?? (s.exclusiveMinimum !== undefined ? s.exclusiveMinimum + 1 : -1000)), max: Math.floor(s.maximum ?? 100_000) });
    case 'number':
      return fc.double({ min: s.minimum ?? -1000, max: s.maximum ?? 100_000, noNaN: true, noDefaultInfinity: true });
    case 'boolean':
      return fc.boolean();
    case 'string':
      if (s.format === 'date-time') return fc.date({ min: new Date('2020-01-01'), max: new Date('2030-01-01'), noInvalidDate: true }).map((d) => d.toISOString());
      if (s.pattern) return fc.stringMatching(new RegExp(s.pattern)).filter((x) => x.length >= (s.minLength ?? 0) && x.length <= (s.maxLength ?? 1000));
      return fc.string({ minLength: Math.max(1, s.minLength ?? 0), maxLength: Math.min(s.maxLength ?? 40, 40) });
    case 'array':
      return fc.array(fitting(s.items ?? {}), { minLength: s.minItems ?? 0, maxLength: Math.min(s.maxItems ?? 5, 5) });
    case 'object': {
      const props = s.properties ?? {};
      const required = new Set(s.required ?? []);
      // anyOf: [{required: [a]}, {required: [b]}]: one of them present.
      const oneOf = s.anyOf?.flatMap((a) => a.required ?? []) ?? [];
      return fc.record(Object.fromEntries(Object.entries(props).map(([k, v]) => [k, fitting(v)])), { requiredKeys: [...required] as never[] }).chain((o) => {
        if (oneOf.length === 0 || oneOf.some((k) => k in o)) return fc.constant(o);
        return fc.constantFrom(...oneOf).chain((k) => fitting(props[k]!).map((v) => ({ ...o, [k]: v })));
      });
    }
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}

/** A value that breaks the schema: another type, out of range, or for objects an unknown field or a missing required one. */
function breaking(s: Schema): fc.Arbitrary<unknown> {
  const type = Array.isArray(s.type) ? s.type.find((t) => t !== 'null') : s.type;
  const wrongType = fc.constantFrom<unknown>(true, 'text', 12.5, [], { a: 1 }).filter((v) => typeof v !== (type === 'integer' ? 'number' : type) && !(type === 'array' && Array.isArray(v)));
  if (type === 'object' && s.properties) {
    const base = fitting(s) as fc.Arbitrary<Record<string, unknown>>;
    return fc.oneof(
      wrongType,
      base.map((o) => ({ ...o, unknownField: 1 })),
      ...(s.required?.length ? [base.map((o) => Object.fromEntries(Object.entries(o).filter(([k]) => k !== s.required![0])))] : []),
      ...Object.entries(s.properties).map(([k, v]) => fc.tuple(base, breaking(v)).map(([o, bad]) => ({ ...o, [k]: bad }))),
    );
  }
  if (type === 'integer' || type === 'number') return fc.oneof(wrongType, ...(s.maximum !== undefined ? [fc.constant(s.maximum + 1)] : []), ...(s.minimum !== undefined ? [fc.constant(s.minimum - 1)] : []), ...(type === 'integer' ? [fc.constant(1.5)] : []));
  if (type === 'string' && s.maxLength !== undefined) return fc.oneof(wrongType, fc.constant('x'.repeat(s.maxLength + 1)));
  return wrongType;
}

describe('the API against its OpenAPI document', () => {
  let stack: Stack;
  let doc: { paths: Record<string, Record<string, Operation>> };
  beforeAll(async () => {
    stack = await startStack();
    doc = (await stack.alerts.app.inject({ url: '/docs/openapi.json' })).json();
  });
  afterAll(() => stack?.close());

  it('every operation: only documented answers, no server error, errors in the catalogue shape', async () => {
    const ops = Object.entries(doc.paths).flatMap(([path, methods]) => Object.entries(methods).map(([method, op]) => ({ path, method: method.toUpperCase(), op })));
    expect(ops.length).toBeGreaterThan(20);
    let sent = 0;
    for (const { path, method, op } of ops) {
      if (path === '/api/stream' || path === '/api/logout') continue; // a stream does not end; logging out the admin token is a no-op tested elsewhere
      const params = op.parameters;
      const body = op.requestBody?.content['application/json'].schema;
      const request = fc.record({
        good: fc.boolean(),
        path: fc.record(Object.fromEntries(params.filter((p) => p.in === 'path').map((p) => [p.name, fitting(p.schema)]))),
        query: fc.record(Object.fromEntries(params.filter((p) => p.in === 'query').map((p) => [p.name, fc.oneof(fitting(p.schema), breaking(p.schema))])), { requiredKeys: [] }),
        body: body ? fc.oneof(fitting(body), breaking(body)) : fc.constant(undefined),
      });
      await fc.assert(
        fc.asyncProperty(request, async (r) => {
          sent++;
          const url = path.replace(/\{(\w+)\}/g, (_m, k: string) => encodeURIComponent(String(r.path[k]))) + (Object.keys(r.query).length ? `?${new URLSearchParams(Object.entries(r.query).map(([k, v]) => [k, typeof v === 'object' ? JSON.stringify(v) : String(v)]))}` : '');
          const res = await stack.alerts.app.inject({
            method: method as 'GET',
            url,
            headers: { authorization: `Bearer ${stack.apiToken}`, ...(r.body !== undefined ? { 'content-type': 'application/json' } : {}) },
            ...(r.body !== undefined ? { payload: JSON.stringify(r.body) } : {}),
            remoteAddress: `10.1.${sent % 250}.${sent % 200}`,
          });
          const where = `${method} ${url} ${JSON.stringify(r.body)?.slice(0, 200)} → ${res.statusCode} ${res.body.slice(0, 200)}`;
          expect(res.statusCode, where).toBeLessThan(500);
          expect(Object.keys(op.responses), where).toContain(String(res.statusCode));
          if (res.statusCode >= 400) expect(res.json(), where).toMatchObject({ error: { code: expect.stringMatching(/^[A-Z_]+$/), message: expect.any(String) } });
        }),
        { numRuns: RUNS, seed: SEED },
      );
    }
    process.stdout.write(`openapi fuzz: ${sent} requests over ${ops.length} operations (seed ${SEED})\n`);
    // Nothing that broke a schema was stored: every silence names a scope and lasts 1 min – 7 days.
    for (const s of (await stack.alerts.store.recentSilences(10_000))) {
      expect(s.sensor || s.site || s.district).toBeTruthy();
      expect(s.until - s.createdAt).toBeGreaterThanOrEqual(60_000);
      expect(s.until - s.createdAt).toBeLessThanOrEqual(7 * 86_400_000);
    }
  });
});
