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
    'apiToken',
    'serviceSecret',
    'policeSecret',
    'policeSecrets',
    'databaseUrl',
    '*.password',
    '*.secret',
    '*.token',
    '*.apiToken',
    '*.serviceSecret',
    '*.policeSecret',
    '*.policeSecrets',
    '*.databaseUrl',
    '*.*.token',
    'headers.authorization',
    'headers.cookie',
    'headers["set-cookie"]',
    'req.headers.authorization',
    'req.headers.cookie',
    'res.headers["set-cookie"]',
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
