/**
 * A real HAProxy (Debian haproxy) in TCP mode in front of MQTT gateways, on a free port: the same
 * balancing a deployment uses (deploy/haproxy.cfg). Health-checked backends, a failed connect
 * tried again on another backend (redispatch), and long idle timeouts (MQTT connections live for
 * hours; keepalive pings keep them busy).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { freePort, launchOrRemove, onFreshPorts, requireBinary, startProcess, stopProcess, tempDir, waitForTcp } from './servers.ts';

export interface Haproxy {
  port: number;
  url: string;
  /** Stopped and started again on the same port (the load balancer restarted). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export function haproxyConfig(port: number, backends: number[]): string {
  return [
    'global',
    '  maxconn 8000', // 2 descriptors each: within a 20,000 descriptor limit (this machine's)
    'defaults',
    '  mode tcp',
    '  timeout connect 2s',
    '  timeout client 10m',
    '  timeout server 10m',
    '  retries 3',
    '  option redispatch',
    'frontend mqtt',
    `  bind 127.0.0.1:${port}`,
    '  default_backend gateways',
    'backend gateways',
    '  balance leastconn',
    ...backends.map((p, i) => `  server gateway-${i + 1} 127.0.0.1:${p} check inter 500 fall 2 rise 1`),
    '',
  ].join('\n');
}

export function startHaproxy(backends: number[]): Promise<Haproxy> {
  const bin = requireBinary('haproxy', 'haproxy');
  return onFreshPorts(async () => {
    const port = await freePort();
    const dir = tempDir('haproxy');
    const cfg = join(dir.path, 'haproxy.cfg');
    writeFileSync(cfg, haproxyConfig(port, backends));
    const launch = async (): Promise<ChildProcess> => {
      const p = startProcess(bin, ['-f', cfg, '-db']);
      await waitForTcp(port, p.proc, p.logs, 30_000);
      return p.proc;
    };
    let proc = await launchOrRemove(dir, launch);
    return {
      port,
      url: `mqtt://127.0.0.1:${port}`,
      async restart() {
        await stopProcess(proc);
        proc = await launch();
      },
      async stop() {
        await stopProcess(proc);
        dir.remove();
      },
    };
  });
}
