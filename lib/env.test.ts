import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { declareVariables, parseConfig, unknownVariables } from './env.ts';

describe('FLOODGATE_* variables nothing reads', () => {
  it('are those no parsed schema and no declaration names', () => {
    parseConfig(z.object({ FLOODGATE_TEST_ALPHA: z.string().optional() }), {}, 'test');
    declareVariables(['FLOODGATE_TEST_REF']);
    const env = { FLOODGATE_TEST_ALPHA: '1', FLOODGATE_TEST_REF: 's', FLOODGATE_TEST_ALPAH: 'typo', PATH: '/bin', INFLUX_URL: 'http://x' };
    expect(unknownVariables(env)).toEqual(['FLOODGATE_TEST_ALPAH']);
  });

  it('a log level is checked with the rest', async () => {
    const { SharedEnv } = await import('../config/shared-config.ts');
    expect(() => parseConfig(SharedEnv, { FLOODGATE_LOG_LEVEL: 'loud' }, 'test')).toThrow(/FLOODGATE_LOG_LEVEL/);
    expect(parseConfig(SharedEnv, { FLOODGATE_LOG_LEVEL: 'debug' }, 'test').FLOODGATE_LOG_LEVEL).toBe('debug');
  });
});

describe('one schema per service configuration', () => {
  it('a schema that transforms the environment into the configuration still declares its variables', () => {
    const S = z.object({ FLOODGATE_TEST_BETA_S: z.coerce.number().default(5) }).transform((e) => ({ betaMs: e.FLOODGATE_TEST_BETA_S * 1000 }));
    expect(parseConfig(S, { FLOODGATE_TEST_BETA_S: '2' }, 'test')).toEqual({ betaMs: 2000 });
    expect(unknownVariables({ FLOODGATE_TEST_BETA_S: '2' })).toEqual([]);
  });

  it.each([
    ['gateway', async () => (await import('../gateway/config.ts')).gatewayConfigFromEnv({})],
    ['ingest', async () => (await import('../ingest/config.ts')).ingestConfigFromEnv({})],
    ['rules', async () => (await import('../rules/config.ts')).rulesConfigFromEnv({})],
    ['alerts', async () => (await import('../alerts/config.ts')).alertsConfigFromEnv({})],
  ])('the %s configuration is frozen all the way down', async (_s, read) => {
    const c = (await read()) as Record<string, unknown>;
    expect(Object.isFrozen(c)).toBe(true);
    for (const v of Object.values(c)) if (v && typeof v === 'object') expect(Object.isFrozen(v)).toBe(true);
    expect(() => {
      (c as { shared: { dataDir: string } }).shared.dataDir = '/elsewhere';
    }).toThrow(TypeError);
  });

  it('the helpers for tests start from the environment schema’s defaults', async () => {
    const { rulesConfig, rulesConfigFromEnv } = await import('../rules/config.ts');
    const { ingestConfig } = await import('../ingest/config.ts');
    expect(rulesConfig('/d', { tickMs: 5 })).toEqual({ ...rulesConfigFromEnv({ FLOODGATE_DATA_DIR: '/d' }).rules, tickMs: 5, instanceId: expect.stringMatching(/-[0-9a-f]{8}$/) }); // a fresh instance id each time
    expect(ingestConfig('/d')).toMatchObject({ spoolPath: '/d/ingest-spool.db', dedupeWindowMs: 86_400_000, commitDelayMs: 20, groupCommit: true });
  });
});
