/**
 * Typed errors with stable codes. Codes are part of the public surface: they appear in logs,
 * in reject messages and in API error bodies, so operators can grep for them.
 */
export type ErrorCode =
  | 'CONFIG_INVALID'
  | 'REGISTRY_INVALID'
  | 'RULES_INVALID'
  | 'PAYLOAD_NOT_JSON'
  | 'PAYLOAD_INVALID'
  | 'TOPIC_INVALID'
  | 'SENSOR_UNKNOWN'
  | 'SENSOR_KIND_MISMATCH'
  | 'STORE_WRITE_FAILED'
  | 'NOTICE_REJECTED'
  | 'NOT_FOUND'
  | 'UNAUTHORIZED'
  | 'DEVICE_EXISTS'
  | 'DEVICE_UNKNOWN';

export class FloodgateError extends Error {
  readonly code: ErrorCode;
  readonly details: unknown;
  constructor(code: ErrorCode, message: string, details?: unknown, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'FloodgateError';
    this.code = code;
    this.details = details;
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
