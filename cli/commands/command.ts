/** What a `floodgate` command is: its help, its options (parsed strictly) and what it runs. */
import type { ParseArgsConfig } from 'node:util';
import { z } from 'zod';

export interface Command<S extends z.ZodType = z.ZodType> {
  summary: string;
  usage: string;
  /** The options as node:util parseArgs reads them (names and string/boolean). */
  options: NonNullable<ParseArgsConfig['options']>;
  /**
   * What the options mean: a zod schema over parseArgs' values that coerces and checks them, so a
   * command gets typed values and every wrong flag is reported at once (cli/main.ts). Default:
   * the values as parsed.
   */
  flags?: S;
  /** Positional arguments allowed (subcommands). */
  positionals?: boolean;
  run(values: z.output<S>, positionals: string[]): Promise<void>;
}

/** A command whose `run` gets the values its `flags` schema makes. */
export const command = <S extends z.ZodType>(c: Command<S> & { flags: S }): Command<S> => c;

/** Flag value types shared by the commands. */
export const flag = {
  /** A path or name; absent stays undefined. */
  text: z.string().min(1).optional(),
  port: z.coerce.number().int('must be an integer').min(0).max(65535, 'must be 0..65535'),
  int: (min: number, max: number) => z.coerce.number().int('must be an integer').min(min, `must be an integer in ${min}..${max}`).max(max, `must be an integer in ${min}..${max}`),
  positive: (max: number, what: string) => z.coerce.number().positive(`must be ${what} above 0`).max(max, `must be at most ${max}`),
  on: z.boolean().default(false),
};

export const ENV_NOTE = 'Configuration comes from FLOODGATE_* environment variables (see README, "Configuration").';

/** A standalone service (docker-compose runs one per container). */
export const service = (name: string, what: string, load: () => Promise<{ main(): Promise<void> }>): Command => ({
  summary: what,
  usage: `floodgate ${name}\n\n${what}\n${ENV_NOTE}`,
  options: {},
  run: async () => (await load()).main(),
});
