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
