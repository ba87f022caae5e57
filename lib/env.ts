import { z } from 'zod';
import { FloodgateError } from './errors.ts';
import { describeIssues } from './zod-issues.ts';

/**
 * Parse a service configuration once, from an env-like record, reporting every problem at once
 * (not only the first), with the variable name each problem belongs to.
 */
export function parseConfig<S extends z.ZodType>(schema: S, input: unknown, what: string): z.output<S> {
  // The variables a schema reads: its own object's keys, or those of the object it transforms.
  const source: unknown = schema instanceof z.ZodPipe ? schema.in : schema;
  if (source instanceof z.ZodObject) declareVariables(Object.keys(source.shape));
  const result = schema.safeParse(input);
  if (result.success) return frozen(result.data);
  throw new FloodgateError('CONFIG_INVALID', `invalid ${what} configuration:\n${describeIssues(result.error.issues, { list: true })}`, result.error.issues);
}

/**
 * A configuration is read once and never changed: frozen all the way down, so a service that
 * tried to change its own settings at run time fails loudly instead of drifting from what it logged.
 */
export function frozen<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) frozen(v);
    Object.freeze(value);
  }
  return value;
}

/** An integer env var in a TCP port range; 0 means "any free port" (tests). */
export const portFromEnv = (def: number) => z.coerce.number().int().min(0).max(65535).default(def);

/** A port env var that may be unset (or empty): a listener that is off unless asked for. */
export const optionalPortFromEnv = (min = 0) => z.preprocess((v) => (v === '' ? undefined : v), z.coerce.number().int().min(min).max(65535).optional());

/** An integer env var within bounds, with a default. */
export const intFromEnv = (min: number, max: number, def: number) => z.coerce.number().int().min(min).max(max).default(def);

/** An on/off env var: `1`/`true` on, `0`/`false`/empty off, unset = `def`; anything else is refused. */
export const flagFromEnv = (def: boolean) =>
  z
    .enum(['0', '1', 'true', 'false', ''])
    .default(def ? '1' : '0')
    .transform((v) => v === '1' || v === 'true');

/** Empty strings in the environment mean "unset". */
export const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v === '' ? undefined : v));

/** Every FLOODGATE_* variable something in this process reads: each config schema's, and those declared. */
const known = new Set<string>();

/** Variables read outside a config schema (the secret references a registry names). */
export function declareVariables(names: Iterable<string>): void {
  for (const n of names) known.add(n);
}

/**
 * FLOODGATE_* variables nothing reads, once every configuration is parsed: a misspelt one
 * (FLOODGATE_RULE_FILE) was silently ignored and the default used instead.
 */
export function unknownVariables(env: Record<string, string | undefined>): string[] {
  return Object.keys(env)
    .filter((k) => k.startsWith('FLOODGATE_') && !known.has(k))
    .sort();
}
