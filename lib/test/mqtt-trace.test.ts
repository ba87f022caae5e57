/**
 * The services' MQTT client traces packets only when DEBUG asks for it (mqtt.js' `debug`):
 * otherwise its per-packet trace calls go to a no-op, which costs nothing per message.
 */
import { afterEach, describe, expect, it } from 'vitest';
import createDebug from 'debug';
import { connectService } from '../mqtt.ts';
import { testLogger } from '../../test/helpers/stack.ts';

describe('connectService trace', () => {
  const before = createDebug.disable();
  afterEach(() => createDebug.enable(before));
  // manualConnect: nothing is dialled, the options are what is looked at.
  const client = () => connectService({ url: 'mqtt://127.0.0.1:1', service: 'ingest', secret: 's', clientId: 'trace-test', clean: true, logger: testLogger });

  it.each([
    ['unset', '', false],
    ['another namespace', 'floodgate:*', false],
    ['mqttjs*', 'mqttjs*', true],
    ['mqttjs:client', 'mqttjs:client', true],
  ])('DEBUG %s → trace %s', async (_name, namespaces, traced) => {
    createDebug.enable(namespaces);
    const c = await client(); // never connected: nothing to end
    const log = c.options.log as ((...args: unknown[]) => void) & { namespace?: string };
    expect(log.namespace === 'mqttjs:client').toBe(traced);
  });
});
