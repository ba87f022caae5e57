/**
 * No secret reaches the logs: a line carrying every secret field floodgate has, in the shapes it
 * has them (a service's config, the alerts config's police secrets and readings store, a request's
 * headers, a device's login), has none of their values in the output, and says what it redacted.
 */
import { describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { createLogger } from './logger.ts';

function capture() {
  let out = '';
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      out += chunk.toString();
      done();
    },
  });
  return { logger: createLogger({ level: 'info', destination }), out: () => out };
}

const S = (name: string) => `s3cr3t-${name}-value`;

describe('logger redaction', () => {
  it.each([
    ['a service config', { config: { apiToken: S('api'), serviceSecret: S('svc'), policeSecrets: { FLOODGATE_POLICE_SECRET: S('police'), ROADS_2: S('roads') }, readings: { kind: 'influxdb', token: S('influx') }, influx: { token: S('influx2') }, databaseUrl: `postgres://floodgate:${S('pg')}@db/floodgate` } }],
    ['shared settings at the top', { serviceSecret: S('svc'), apiToken: S('api'), policeSecret: S('police'), token: S('tok'), secret: S('sec'), password: S('pw') }],
    ['a request', { req: { headers: { authorization: `Bearer ${S('bearer')}`, cookie: `fg_session=${S('session')}` } }, res: { headers: { 'set-cookie': `fg_session=${S('session2')}` } } }],
    ['headers alone', { headers: { authorization: `Bearer ${S('bearer')}`, cookie: `fg_session=${S('session')}` } }],
    ['a device login', { device: { username: 'PD-001', password: S('device') } }],
  ])('%s', (_name, fields) => {
    const { logger, out } = capture();
    logger.info(fields, 'line');
    expect(out()).not.toContain('s3cr3t');
    expect(out()).toContain('[redacted]');
  });

  it('keeps what is not a secret', () => {
    const { logger, out } = capture();
    logger.info({ config: { host: '127.0.0.1', port: 8080 }, sensorId: 'PD-001' }, 'line');
    expect(JSON.parse(out())).toMatchObject({ config: { host: '127.0.0.1', port: 8080 }, sensorId: 'PD-001' });
  });
});
