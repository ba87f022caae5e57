/**
 * Hostile input, property-based (fast-check, fixed seed): every device payload schema, the rules
 * file and every HTTP body of the alerts API get wrong types, NaN/Infinity, huge numbers, deep
 * nesting, long strings, unicode tricks and prototype-pollution keys. Nothing throws, nothing
 * invalid is accepted, no server error, Object.prototype stays clean.
 *
 *   CI: FUZZ_RUNS default 200 per property.   Longer: `npm run fuzz` (FUZZ_RUNS=20000).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { BUNDLED_CITY, loadRegistry } from '../../config/registry.ts';
import { parseReadingPayload, READING_SCHEMAS, SENSOR_KINDS, type SensorKind } from '../../contracts/index.ts';
import { parseRules } from '../../rules/load.ts';
import { startStack, type Stack } from '../helpers/stack.ts';

const RUNS = Number(process.env['FUZZ_RUNS'] ?? 200);
const SEED = Number(process.env['FUZZ_SEED'] ?? 20261128);
let tried = 0;
const opts = { numRuns: RUNS, seed: SEED };

/** Values that break naive code: wrong types, non-finite and huge numbers, odd strings, pollution keys. */
const nasty = fc.oneof(
  fc.constantFrom(NaN, Infinity, -Infinity, -0, 1e308, -1e308, Number.MAX_SAFE_INTEGER + 2, 2 ** 53, 1e-320, '', ' ', '\u0000', '\u202e', '\ud800', 'null', '1e999', '0x10', true, false, null, [], {}),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.double(),
  fc.integer(),
  fc.bigInt().map((b) => b.toString()),
);
const pollutionKey = fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty');
const field = fc.constantFrom('ts', 'seq', 'battery_v', 'depth_cm', 'level_m', 'rain_mm', 'interval_s', 'extra');
/** A reading-like object: real field names with nasty values, sometimes pollution keys. */
const readingLike = fc.dictionary(fc.oneof(field, pollutionKey, fc.string({ maxLength: 8 })), fc.oneof(nasty, fc.jsonValue({ maxDepth: 3 })), { maxKeys: 8 });
/** Deep nesting without blowing the test's own stack. */
const deep = fc.integer({ min: 100, max: 3000 }).map((n) => '['.repeat(n) + ']'.repeat(n));

function payloads(): fc.Arbitrary<string> {
  return fc.oneof(
    readingLike.map((o) => JSON.stringify(o)),
    fc.array(readingLike, { maxLength: 5 }).map((a) => JSON.stringify(a)),
    fc.jsonValue({ maxDepth: 6 }).map((v) => JSON.stringify(v)),
    deep,
    fc.string({ maxLength: 200 }),
    fc.constant(JSON.stringify({ __proto__: { polluted: 1 }, ts: Date.now(), depth_cm: 3 })),
    fc.constant('{"__proto__":{"polluted":1},"ts":1790000000000,"depth_cm":3}'),
    fc.constant(JSON.stringify({ ts: Date.now(), depth_cm: 3, note: 'x'.repeat(1_000_000) })),
  );
}

describe('fuzz', { timeout: 600_000 }, () => {
  afterAll(() => {
    process.stdout.write(`fuzz: ${tried} hostile inputs tried (seed ${SEED}, ${RUNS} per property)\n`);
  });

  it.each(SENSOR_KINDS)('device payloads (%s): never throw, accept only what the schema allows', (kind: SensorKind) => {
    fc.assert(
      fc.property(payloads(), (text) => {
        tried++;
        const r = parseReadingPayload(kind, 'PD-001', Buffer.from(text));
        for (const reading of r.readings) {
          // Whatever was accepted is a valid reading of this kind: finite numbers in range.
          expect(reading.kind).toBe(kind);
          expect(Number.isSafeInteger(reading.ts)).toBe(true);
          for (const v of Object.values(reading.fields)) expect(Number.isFinite(v)).toBe(true);
          expect(READING_SCHEMAS[kind].safeParse({ ...reading.fields, ts: reading.ts, ...(reading.seq !== undefined ? { seq: reading.seq } : {}) }).success).toBe(true);
        }
        expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
      }),
      opts,
    );
  });

  it('raw bytes: never throw', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
        tried++;
        const r = parseReadingPayload('ponding', 'PD-001', Buffer.from(bytes));
        expect(r.fatal !== undefined || Array.isArray(r.readings)).toBe(true);
      }),
      opts,
    );
  });

  it('rules files: refused with RULES_INVALID, never anything else', () => {
    const sites = loadRegistry(BUNDLED_CITY).sites.slice(0, 20);
    const yamlish = fc.oneof(
      fc.string({ maxLength: 300 }),
      fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify({ version: 1, defaults: v })),
      fc.record({ closeCm: nasty, reopenCm: nasty }).map((u) => JSON.stringify({ version: 1, defaults: { underpass: u } })),
      fc.dictionary(fc.oneof(pollutionKey, fc.string({ maxLength: 6 })), fc.jsonValue({ maxDepth: 2 })).map((v) => JSON.stringify({ version: 1, sites: v })),
    );
    fc.assert(
      fc.property(yamlish, (text) => {
        tried++;
        try {
          parseRules(text, 'fuzz.yaml', sites);
        } catch (err) {
          expect((err as { code?: string }).code).toBe('RULES_INVALID');
        }
        expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
      }),
      opts,
    );
  });

  describe('HTTP bodies', () => {
    let stack: Stack;
    beforeAll(async () => {
      stack = await startStack();
    });
    afterAll(() => stack?.close());

    it.each([
      ['POST', '/api/alerts/underpass-closure%3AUP-001%3A1/ack'],
      ['POST', '/api/alerts/x/notes'],
      ['POST', '/api/alerts/x/resolve'],
      ['POST', '/api/silences'],
      ['POST', '/api/login'],
      ['GET', '/api/alerts?state='],
      ['GET', '/api/sensors?q='],
      ['DELETE', '/api/silences/'],
    ] as const)('%s %s: 2xx or a 4xx with {error:{code,message}}, never a 500', async (method, url) => {
      await fc.assert(
        fc.asyncProperty(fc.oneof(readingLike, fc.jsonValue({ maxDepth: 4 }), fc.string({ maxLength: 100 })), async (body) => {
          tried++;
          const isQuery = method !== 'POST';
          const target = isQuery ? `${url}${encodeURIComponent(typeof body === 'string' ? body : JSON.stringify(body))}` : url;
          const res = await stack.alerts.app.inject({
            method,
            url: target,
            headers: { authorization: `Bearer ${stack.apiToken}`, ...(isQuery ? {} : { 'content-type': 'application/json' }) },
            ...(isQuery ? {} : { payload: typeof body === 'string' ? body : JSON.stringify(body) }),
            remoteAddress: `10.0.${tried % 250}.${tried % 200}`, // the login limit is per address
          });
          expect(res.statusCode, `${method} ${target} ${res.body.slice(0, 200)}`).toBeLessThan(500);
          if (res.statusCode >= 400) expect(res.json()).toMatchObject({ error: { code: expect.any(String), message: expect.any(String) } });
        }),
        { ...opts, numRuns: Math.max(20, Math.round(RUNS / 4)) },
      );
      // Nothing invalid was stored: no silence without a scope, no alert invented.
      expect((await stack.alerts.store.activeSilences(Date.now())).every((s) => s.sensor || s.site || s.district)).toBe(true);
      expect(await stack.alerts.store.listAlerts({ limit: 10 })).toEqual([]);
    });
  });
});
