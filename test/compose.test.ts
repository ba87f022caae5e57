/**
 * docker-compose.yml is written for users and validated here (no Docker engine runs in CI):
 * Debian's docker-compose parses and validates it against its schema, then we check what it must
 * contain.
 */
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { load } from 'js-yaml';
import { requireBinary } from './helpers/servers.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

type Service = { image?: string; command?: string[]; environment?: Record<string, string>; depends_on?: object; profiles?: string[]; volumes?: Array<string | { source: string; target: string }> };

function composeConfig(): { services: Record<string, Service> } {
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
    for (const s of ['ingest', 'rules', 'alerts', 'sl651']) expect(services[s]?.environment?.['FLOODGATE_MQTT_URL']).toBe('mqtt://gateway:1883');
    expect(services['sl651']?.command).toEqual(['sl651']);
    expect(services['sl651']?.environment).toMatchObject({ FLOODGATE_SL651_PORT: '5005', FLOODGATE_SL651_HOST: '0.0.0.0' });
  });

  it('reads the console charts from InfluxDB and ships Prometheus and Grafana with the floodgate dashboard', () => {
    const { services } = composeConfig() as unknown as { services: Record<string, { environment?: Record<string, string>; volumes?: Array<string | { source: string; target: string }>; command?: string[] }> };
    expect(services['alerts']?.environment).toMatchObject({ INFLUX_URL: 'http://influxdb:8086', INFLUX_BUCKET: 'readings' });
    const mounts = (s: string) => (services[s]?.volumes ?? []).map((v) => (typeof v === 'string' ? v : `${v.source}:${v.target}`));
    expect(mounts('grafana').some((m) => m.endsWith('deploy/grafana/provisioning:/etc/grafana/provisioning') || m.includes('deploy/grafana/provisioning:/etc/grafana/provisioning'))).toBe(true);
    expect(mounts('grafana').some((m) => m.includes('deploy/grafana/dashboards:/var/lib/grafana/dashboards'))).toBe(true);
    expect(mounts('prometheus').some((m) => m.includes('deploy/prometheus/prometheus.yml.tmpl'))).toBe(true);
    // Every Prometheus target is a service's metrics port as compose configures it.
    const tmpl = readFileSync(join(ROOT, 'deploy/prometheus/prometheus.yml.tmpl'), 'utf8');
    const targets = [...tmpl.matchAll(/"(\w+):(\d+)"/g)].map((m) => [m[1]!, m[2]!] as const);
    expect(targets.map(([svc]) => svc).sort()).toEqual(['alerts', 'gateway', 'ingest', 'sl651']);
    for (const [svc, port] of targets) {
      const env = services[svc]?.environment ?? {};
      expect(env['FLOODGATE_METRICS_PORT'] ?? env['FLOODGATE_HTTP_PORT'], `${svc}:${port}`).toBe(port);
    }
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

  it('has a profile `single` (one of each service, the default in .env.example) and a profile `ha`', () => {
    const { services } = composeConfig();
    for (const s of ['gateway', 'ingest', 'rules', 'alerts', 'sl651']) expect(services[s]?.profiles, s).toEqual(['single']);
    expect(readFileSync(join(ROOT, '.env.example'), 'utf8')).toMatch(/^COMPOSE_PROFILES=single$/m);
    const ha = Object.entries(services).filter(([, s]) => s.profiles?.includes('ha')).map(([n]) => n).sort();
    expect(ha).toEqual(['alerts-1', 'alerts-2', 'gateway-1', 'gateway-2', 'haproxy', 'ingest-1', 'ingest-2', 'postgres', 'redis', 'rules-1', 'rules-2']);
    expect(services['postgres']?.image).toBe('postgres:15');
  });

  it('ha: two of each service, each with its own data directory and instance id, on PostgreSQL, through HAProxy', () => {
    const { services } = composeConfig();
    const dirs = new Set<string>();
    for (const role of ['gateway', 'ingest', 'rules', 'alerts']) {
      for (const n of [1, 2]) {
        const env = services[`${role}-${n}`]!.environment!;
        expect(services[`${role}-${n}`]?.command).toEqual([role]);
        expect(env['FLOODGATE_INSTANCE_ID']).toBe(`${role}-${n}`);
        expect(env['FLOODGATE_DATABASE_URL']).toMatch(/^postgres:\/\/floodgate:[^@]+@postgres:5432\/floodgate$/);
        expect(env['FLOODGATE_MQTT_URL']).toBe('mqtt://haproxy:1883');
        expect(env['FLOODGATE_REGISTRY']).toBe('/data/registry.json');
        dirs.add(env['FLOODGATE_DATA_DIR']!);
      }
      if (role === 'gateway') for (const n of [1, 2]) expect(services[`gateway-${n}`]!.environment).toMatchObject({ FLOODGATE_BROKER_PERSISTENCE: 'redis://redis:6379', FLOODGATE_BROKER_MQ: 'redis://redis:6379' });
    }
    expect(dirs.size).toBe(8); // no two instances share a spool or a state file
  });

  it('ha: HAProxy balances MQTT over both gateways and sends the console to the active alerts (deploy/haproxy/haproxy.cfg)', () => {
    const { services } = composeConfig();
    const mounts = (services['haproxy']?.volumes ?? []).map((v) => (typeof v === 'string' ? v : `${v.source}:${v.target}`));
    expect(mounts.some((m) => m.includes('deploy/haproxy/haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg'))).toBe(true);
    const cfg = readFileSync(join(ROOT, 'deploy/haproxy/haproxy.cfg'), 'utf8');
    expect([...cfg.matchAll(/^\s*server (\S+) (\S+)$/gm)].map((m) => `${m[1]} ${m[2]}`)).toEqual(['gateway-1 gateway-1:1883', 'gateway-2 gateway-2:1883', 'alerts-1 alerts-1:8080', 'alerts-2 alerts-2:8080']);
    expect(cfg).toMatch(/option httpchk GET \/healthz/);
    // Debian's HAProxy checks it (the service names do not resolve here: warnings, not errors).
    const out = execFileSync(requireBinary('haproxy', 'haproxy'), ['-c', '-f', join(ROOT, 'deploy/haproxy/haproxy.cfg')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    expect(out).toContain('Configuration file is valid');
  });
});
