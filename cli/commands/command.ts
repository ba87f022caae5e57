/** What a `floodgate` command is: its help, its options (parsed strictly) and what it runs. */
import type { ParseArgsConfig } from 'node:util';

export interface Command {
summary: string;
usage: string;
options: NonNullable<ParseArgsConfig['options']>;
/** Positional arguments allowed (subcommands). */
positionals?: boolean;
run(values: Record<string, string | boolean | undefined>, positionals: string[]): Promise<void>;
}

export const ENV_NOTE = 'Configuration comes from FLOODGATE_* environment variables (see README, "Configuration").';

/** A standalone service (docker-compose runs one per container). */
export const service = (name: string, what: string, load: () => Promise<{ main(): Promise<void> }>): Command => ({
summary: what,
usage: `floodgate ${name}\n\n${what}\n${ENV_NOTE}`,
options: {},
run: async () => (await load()).main(),
});
