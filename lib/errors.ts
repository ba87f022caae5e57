/**
 * Typed errors with stable codes. Codes are part of the public surface: they appear in logs,
 * in reject messages and in API error bodies, so operators can grep for them.
 */
/**
 * The error catalogue: every code floodgate gives, what it means and what to do. The type is the
 * catalogue's keys, so a code that is not here does not compile (FloodgateError, the API's error
 * bodies, ingest's rejects); docs/errors.md is made from it and checked against it
 * (lib/errors.test.ts), as is the source tree, for codes used and codes never used.
 */
export const ERROR_CATALOGUE = {
  // Starting a service or a command
  CONFIG_INVALID: { where: 'start', meaning: 'a FLOODGATE_* variable (or a flag) is missing or wrong; every problem is listed', action: 'fix the variables named, see README "Configuration"' },
  REGISTRY_INVALID: { where: 'start', meaning: 'the sensor registry file does not parse or contradicts itself', action: 'fix the file at the path and line given; the registry in force stays until then' },
  RULES_INVALID: { where: 'start', meaning: 'the rules file does not parse or names unknown sites', action: 'fix the rules file; the rules in force stay until then' },
  DATA_DIR_LOCKED: { where: 'start', meaning: 'another floodgate (its pid is given) uses this data directory', action: 'stop it first, or give this one its own FLOODGATE_DATA_DIR' },
  DEPENDENCY_VERSION: { where: 'start', meaning: 'aedes, aedes-persistence-level or mqtt.js is not the version floodgate\'s patches to it were written for', action: 'install the version package.json pins (npm ci), or review the patches as the message says' },
  DATABASE_SCHEMA: { where: 'start', meaning: "the PostgreSQL database's migration record disagrees with this floodgate (a newer version ran against it, or a migration was renamed)", action: 'run the floodgate version that migrated the database, or restore the database to match this one' },
  PORT_IN_USE: { where: 'start', meaning: 'a port floodgate listens on is taken', action: 'free it, or choose another with the variable named' },
  BROKER_UNREACHABLE: { where: 'command', meaning: 'nothing answers at the gateway or API address', action: 'start `floodgate up`, or set FLOODGATE_MQTT_URL / FLOODGATE_API_URL (--url / --api)' },
  BACKTEST_INPUT: { where: 'command', meaning: '`floodgate backtest` replayed nothing, or skipped more of the recording\'s lines than --max-skipped allows', action: 'read the problems listed by kind above it: give the format (--format) or the zone (--tz), or register the sensors (--registry, --auto-register)' },
  DEVICE_EXISTS: { where: 'command', meaning: '`floodgate devices add` for a sensor id already in the registry', action: 'choose another id, or rotate the existing device\'s secret' },
  DEVICE_INVALID: { where: 'command', meaning: '`floodgate devices add` with options that do not fit: an SL 651 password that is not 4 hex digits, or not the password or networks of the station\'s other sensor', action: 'give the station\'s password (or none, to have one made), and its networks only with its first sensor' },
  DEVICE_UNKNOWN: { where: 'command', meaning: 'a device command names a sensor that is not in the registry', action: 'check the id with `floodgate devices list`' },
  // A running service (logged and counted on /metrics; the service carries on)
  LEASE_LOST: { where: 'running', meaning: "an instance's write was refused because another instance now holds its role's lease (a higher epoch): it was cut off or paused and replaced", action: 'nothing: it stands by; if it recurs, look for a network partition or a paused host between it and PostgreSQL' },
  // A device's reading refused by ingest (GET /api/rejects; the device's reject topic)
  PAYLOAD_NOT_JSON: { where: 'reading', meaning: 'the payload is not JSON', action: 'send the payload of DESIGN.md "Payloads" (UTF-8 JSON)' },
  PAYLOAD_INVALID: { where: 'reading', meaning: 'the payload is JSON but not a valid reading (the reason names the field)', action: 'fix the field named; the rest of the batch was kept' },
  SENSOR_UNKNOWN: { where: 'reading', meaning: 'the topic names a sensor that is not in the registry', action: 'add the device (`floodgate devices add`) or fix its id' },
  SENSOR_KIND_MISMATCH: { where: 'reading', meaning: 'the topic\'s kind is not the kind the registry gives the sensor', action: 'publish on sensors/<its kind>/<id>/reading' },
  SL651_BAD_CRC: { where: 'reading', meaning: 'an SL 651 frame whose CRC-16 does not match its bytes (a line error, or not SL 651)', action: 'nothing for one; many from a station: check its modem and line' },
  SL651_BAD_HEADER: { where: 'reading', meaning: 'bytes after 7E7E that are not an SL 651 HEX frame header (direction, start or end character)', action: 'check that the station sends HEX/BCD mode to this port' },
  SL651_TOO_LONG: { where: 'reading', meaning: 'an SL 651 frame longer than the listener allows', action: 'raise the cap if the station really sends such frames' },
  SL651_BAD_BODY: { where: 'reading', meaning: 'an SL 651 report whose body cannot be read (a time that is not BCD, an element cut short)', action: 'compare the frame with the station\'s manual; the frame is logged as hex' },
  STORE_REFUSED: { where: 'reading', meaning: 'the readings store refused the reading for good (its message is kept)', action: 'read the store\'s message; a field type conflict means the measurement was written with another type before' },
  // The HTTP API ({"error": {"code", "message"}})
  BAD_REQUEST: { where: 'api', status: 400, meaning: 'the request does not match the route\'s schema (the message says where)', action: 'see /docs for the route\'s body and query' },
  UNAUTHORIZED: { where: 'api', status: 401, meaning: 'no token, an unknown token or an expired session', action: 'log in again, or send Authorization: Bearer <token>' },
  FORBIDDEN: { where: 'api', status: 403, meaning: 'the user\'s role may not do this (viewer < officer < admin)', action: 'ask an admin for the role named' },
  NOT_FOUND: { where: 'api', status: 404, meaning: 'no such route, alert, notice, sensor or silence', action: 'check the id' },
  METHOD_NOT_ALLOWED: { where: 'api', status: 405, meaning: 'the route exists but not with this method (Allow lists those it has)', action: 'use a method from Allow' },
  NOT_FIRING: { where: 'api', status: 409, meaning: 'the alert is not firing (resolve, or a silence until it resolves)', action: 'reload the alert: someone resolved it, or it resolved by itself' },
  NOT_SUSPECT: { where: 'api', status: 409, meaning: 'trust was asked for an alert that is not a firing data-quality alert of a ponding sensor', action: 'reload the alert: its suspicion may have ended by itself, or it is another kind of alert' },
  NOT_FAILED: { where: 'api', status: 409, meaning: 'only a notice that failed for good can be resent', action: 'reload the notice: it was delivered or is still being tried' },
  PAYLOAD_TOO_LARGE: { where: 'api', status: 413, meaning: 'the body is over 64 KiB', action: 'send less (bulk acknowledgements take up to 1,000 ids)' },
  UNSUPPORTED_MEDIA_TYPE: { where: 'api', status: 415, meaning: 'the body is not application/json', action: 'send Content-Type: application/json' },
  NOT_ACTIVE: { where: 'api', status: 503, meaning: 'this alerts instance is a standby (an HA deployment): a resolve by hand sends police notices, which only the active instance may make', action: 'send it through the load balancer, which sends the console to the active instance, or to the instance whose /healthz answers 200' },
  RATE_LIMITED: { where: 'api', status: 429, meaning: 'too many login attempts from this address', action: 'wait the Retry-After seconds' },
  INTERNAL: { where: 'api', status: 500, meaning: 'a fault in floodgate (logged with the request id)', action: 'report it with the log line' },
} as const satisfies Record<string, { where: 'start' | 'command' | 'running' | 'reading' | 'api'; status?: number; meaning: string; action: string }>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

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
