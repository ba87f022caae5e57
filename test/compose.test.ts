/**
 * docker-compose.yml is written for users and validated here (no Docker engine runs in CI):
 * Debian's docker-compose parses and validates it against its schema, then we check what it must
 * contain.
 */
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { load } from 'js-yaml';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

function composeConfig(): { services: Record<string, { image?: string; command?: string[]; environment?: Record<string, string>; depends_on?: object }> } {
  let out: string;
  try {
    out = execFileSync('docker-compose', ['--env-file', '.env.example', '-f', 'docker-compose.yml', 'config'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') throw new Error('docker-compose not found: install the Debian package "docker-compose" (apt-get install -y docker-compose); .ci/run does this');
    throw new Error(`docker-compose config rejected docker-compose.yml:\n${e.stderr ?? e.message}`);
  }
  // docker-compose 1.29 prints the resolved file as YAML.
  return load(out) as ReturnType<typeof composeConfig>;
}

describe('docker-compose.yml', () => {
  it('is valid and runs InfluxDB 2.7 and the four services', () => {
    const { services } = composeConfig();
    expect(services['influxdb']?.image).toBe('influxdb:2.7');
    for (const s of ['gateway', 'ingest', 'rules', 'alerts']) expect(services[s]?.command).toEqual([s]);
  });

  it('points ingest at InfluxDB and every service at the gateway', () => {
    const { services } = composeConfig();
    expect(services['ingest']?.environment).toMatchObject({ INFLUX_URL: 'http://influxdb:8086', INFLUX_ORG: 'floodgate', INFLUX_BUCKET: 'readings' });
    for (const s of ['ingest', 'rules', 'alerts']) expect(services[s]?.environment?.['FLOODGATE_MQTT_URL']).toBe('mqtt://gateway:1883');
  });

  it('gives the gateway durable sessions', () => {
    const { services } = composeConfig();
    expect(services['gateway']?.environment?.['FLOODGATE_BROKER_PERSISTENCE']).toBe('level:/data/broker');
  });

  it('requires the secrets instead of shipping defaults', () => {
    let err = '';
    try {
      execFileSync('docker-compose', ['-f', 'docker-compose.yml', 'config', '-q'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env['PATH'] ?? '' } });
    } catch (e) {
      err = String((e as { stderr?: string }).stderr);
    }
    expect(err).toContain('INFLUX_TOKEN');
  });
});
