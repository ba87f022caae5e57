/**
 * Disabled `debug` namespaces become true no-ops.
 *
 * mqtt-packet, the MQTT codec under both aedes and mqtt.js, traces every packet it parses or
 * writes through `debug` (8–15 calls per PUBLISH). A disabled `debug` function still gathers its
 * arguments into an array and asks a getter whether it is on: 3.6% of the gateway's CPU under
 * load, and 2% of ingest's (benchmarks/README.md). Those modules keep the function they got from
 * `require('debug')(namespace)` at load time, so it can only be swapped at that moment: this
 * replaces the factory in the CommonJS cache with one that hands out a no-op for a namespace
 * that DEBUG does not enable. It must run before aedes or mqtt are loaded — the CLI
 * imports this module first.
 *
 * The trade: DEBUG is read when the process starts; `debug.enable()` later switches on only
 * namespaces created after it. The factory itself (enable, disable, formatters, …) is the real
 * one, reached through the prototype.
 */
import { createRequire } from 'node:module';
import type { Debug, Debugger } from 'debug';

const require = createRequire(import.meta.url);
const QUIET = Symbol.for('floodgate.quietDebug');

function silent(real: Debugger, factory: Debug): Debugger {
  const off = function () {} as unknown as Debugger;
  return Object.assign(off, {
    namespace: real.namespace,
    enabled: false,
    color: real.color,
    diff: 0,
    log: real.log,
    destroy: () => true,
    extend: (sub: string, delimiter = ':') => factory(`${real.namespace}${delimiter}${sub}`),
  });
}

/** Install once; returns false when it already was. */
export function quietDebug(): boolean {
  const id = require.resolve('debug');
  const real = require('debug') as Debug & { [QUIET]?: true };
  if (real[QUIET]) return false;
  const quiet = function createQuietDebug(namespace: string): Debugger {
    const d = real(namespace);
    return d.enabled ? d : silent(d, quiet);
  } as unknown as Debug & { [QUIET]?: true };
  Object.setPrototypeOf(quiet, real);
  Object.assign(quiet, { default: quiet, debug: quiet, [QUIET]: true });
  require.cache[id]!.exports = quiet;
  return true;
}

quietDebug();
