import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger };

/**
 * Secrets never reach the logs: these paths are redacted wherever they appear in a log object.
 */
const redact = {
  paths: [
    'password',
    'secret',
    'token',
    '*.password',
    '*.secret',
    '*.token',
    'headers.authorization',
    'req.headers.authorization',
    'config.apiToken',
    'config.serviceSecret',
    'config.policeSecret',
    'config.influx.token',
  ],
  censor: '[redacted]',
};

export function createLogger(opts: { level?: string; name?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  const options: LoggerOptions = {
    level: opts.level ?? process.env['FLOODGATE_LOG_LEVEL'] ?? 'info',
    redact,
    base: { svc: opts.name ?? 'floodgate' },
  };
  return opts.destination ? pino(options, opts.destination as pino.DestinationStream) : pino(options);
}

/** A logger that drops everything: the default in tests that do not assert on logs. */
export const silentLogger: Logger = pino({ level: 'silent' });
