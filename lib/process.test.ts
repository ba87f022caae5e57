import { describe, expect, it } from 'vitest';
import { knownProblem } from './process.ts';

const sys = (code: string, extra: object = {}) => Object.assign(new Error(`${code} boom`), { code, ...extra });

describe('knownProblem: system errors a person can act on, as one line', () => {
  it.each([
    { name: 'the MQTT port taken', err: sys('EADDRINUSE', { port: 1883 }), env: {}, code: 'PORT_IN_USE', says: 'FLOODGATE_MQTT_PORT' },
    { name: 'the HTTP port taken, set by its variable', err: sys('EADDRINUSE', { port: 9000 }), env: { FLOODGATE_HTTP_PORT: '9000' }, code: 'PORT_IN_USE', says: 'FLOODGATE_HTTP_PORT' },
    { name: 'a port no variable names', err: sys('EADDRINUSE', { port: 4444 }), env: {}, code: 'PORT_IN_USE', says: 'FLOODGATE_MQTT_PORT, FLOODGATE_HTTP_PORT' },
    { name: 'nothing listening', err: sys('ECONNREFUSED', { address: '127.0.0.1', port: 1883 }), env: {}, code: 'BROKER_UNREACHABLE', says: '127.0.0.1:1883' },
    { name: 'nothing listening, wrapped', err: new Error('PD-001 could not connect', { cause: sys('ECONNREFUSED', { address: '127.0.0.1', port: 1999 }) }), env: {}, code: 'BROKER_UNREACHABLE', says: 'floodgate up' },
    { name: 'fetch to a dead API (an AggregateError of refusals)', err: new AggregateError([sys('ECONNREFUSED'), sys('ECONNREFUSED')]), env: {}, code: 'BROKER_UNREACHABLE', says: 'FLOODGATE_API_URL' },
  ])('$name', ({ err, env, code, says }) => {
    const known = knownProblem(err, env);
    expect(known?.code).toBe(code);
    expect(known?.message).toContain(says);
  });

  it.each([new Error('something else'), sys('ENOENT'), 'a string'])('leaves anything else alone: %s', (err) => {
    expect(knownProblem(err, {})).toBeUndefined();
  });
});
