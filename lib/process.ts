/**
 * The process boundary: signals, exit codes and printing. Only the CLI and the services' main.ts
 * files use it; createX() functions never touch `process`.
 */
import type { Logger } from './logger.ts';
import { FloodgateError } from './errors.ts';
import { unknownVariables } from './env.ts';
import { startOpsServer } from './ops-server.ts';

export interface Closable {
  close(): Promise<void>;
}

/** Run until SIGINT/SIGTERM, then close in the given order, within a deadline. */
export function closeOnSignal(handles: Closable[], logger: Logger, deadlineMs = 15_000): Promise<void> {
  return new Promise((resolve) => {
    let closing = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (closing) {
        logger.warn({ signal }, 'second signal: exiting now');
        process.exit(130);
      }
      closing = true;
      logger.info({ signal }, 'shutting down');
      const timer = setTimeout(() => {
        logger.error({ deadlineMs }, 'shutdown took too long; exiting');
        process.exit(1);
      }, deadlineMs);
      timer.unref();
      (async () => {
        for (const h of handles) {
          try {
            await h.close();
          } catch (err) {
            logger.error({ err }, 'error while closing');
          }
        }
        resolve();
      })();
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  });
}

/** The variables that set each port floodgate listens on, with their defaults. */
const PORT_VARIABLES: Array<[string, number | undefined]> = [
  ['FLOODGATE_MQTT_PORT', 1883],
  ['FLOODGATE_HTTP_PORT', 8080],
  ['FLOODGATE_MQTT_TLS_PORT', undefined],
  ['FLOODGATE_MQTT_WS_PORT', undefined],
  ['FLOODGATE_METRICS_PORT', undefined],
];

/**
 * A system error a person can act on, as one line without a stack: a port taken, the broker not
 * there. Undefined for anything else.
 */
export function knownProblem(err: unknown, env: Record<string, string | undefined>): FloodgateError | undefined {
  const e = err as NodeJS.ErrnoException & { port?: number; address?: string };
  // A wrapped error ("PD-001 could not connect: …") is judged by what it wraps.
  if (e instanceof Error && e.cause !== undefined && !e.code) return knownProblem(e.cause, env);
  if (e?.code === 'EADDRINUSE') {
    const port = e.port ?? Number(/:(\d+)$/.exec(e.message)?.[1]);
    const named = PORT_VARIABLES.filter(([name, def]) => Number(env[name] ?? def) === port).map(([name]) => name);
    const which = named.length > 0 ? named.join(' or ') : PORT_VARIABLES.map(([n]) => n).join(', ');
    return new FloodgateError('PORT_IN_USE', `port ${port} is already in use (another floodgate, or another program); choose a free one with ${which}`);
  }
  if (e?.code === 'ECONNREFUSED' || (err instanceof AggregateError && err.errors.some((x: NodeJS.ErrnoException) => x?.code === 'ECONNREFUSED'))) {
    const where = e.address && e.port ? `${e.address}:${e.port}` : 'the gateway';
    return new FloodgateError('BROKER_UNREACHABLE', `nothing answers at ${where}: start the system with \`floodgate up\`, or point FLOODGATE_MQTT_URL (--url) or FLOODGATE_API_URL (--api) at it`);
  }
  return undefined;
}

/** Print a fatal startup error clearly (config problems are listed one per line) and exit 1. */
export function fail(err: unknown): never {
  err = knownProblem(err, process.env) ?? err;
  if (err instanceof FloodgateError) process.stderr.write(`floodgate: ${err.code}: ${err.message}\n`);
  else process.stderr.write(`floodgate: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
}

export const print = (line: string) => process.stdout.write(line + '\n');

/** Say which FLOODGATE_* variables nothing read (call after every configuration is parsed). */
export function warnUnknownVariables(env: Record<string, string | undefined> = process.env): void {
  for (const name of unknownVariables(env)) process.stderr.write(`floodgate: warning: ${name} is not a floodgate variable and is ignored (README, "Configuration")\n`);
}

/**
 * A standalone service's /healthz and /metrics (and its own routes) when FLOODGATE_METRICS_PORT is
 * set; the bearer token is FLOODGATE_API_TOKEN, required then.
 */
export async function opsServerFromEnv(
  port: number | undefined,
  opts: Omit<Parameters<typeof startOpsServer>[0], 'host' | 'port' | 'token'>,
): Promise<Closable[]> {
  if (port === undefined) return [];
  const token = process.env['FLOODGATE_API_TOKEN'];
  if (!token) throw new FloodgateError('CONFIG_INVALID', 'FLOODGATE_METRICS_PORT needs FLOODGATE_API_TOKEN (the bearer token for /metrics)');
  return [await startOpsServer({ ...opts, host: process.env['FLOODGATE_HTTP_HOST'] ?? '0.0.0.0', port, token })];
}
