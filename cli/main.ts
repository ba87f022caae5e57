/**
 * `floodgate <command>`: dispatch and --help. Each command's options are parsed strictly, so a
 * typo is an error, not a silently ignored flag.
 */
// First: the disabled `debug` traces of mqtt-packet become no-ops, which must happen before aedes
// or mqtt load (lib/quiet-debug.ts).
import '../lib/quiet-debug.ts';
import { parseArgs } from 'node:util';
import { fail, print } from '../lib/process.ts';
import type { Command } from './commands/command.ts';
import { up } from './commands/up.ts';
import { provision } from './commands/provision.ts';
import { devices } from './commands/devices.ts';
import { users } from './commands/users.ts';
import { mosquittoAcl } from './commands/mosquitto-acl.ts';
import { sim } from './commands/sim.ts';
import { backtest } from './commands/backtest.ts';
import { policeReceiver } from './commands/police-receiver.ts';
import { gateway, ingest, rules, alerts, sl651 } from './commands/services.ts';

const commands: Record<string, Command> = {
  up,
  gateway,
  ingest,
  rules,
  alerts,
  sl651,
  provision,
  devices,
  users,
  'mosquitto-acl': mosquittoAcl,
  sim,
  backtest,
  'police-receiver': policeReceiver,
};

function help(): string {
  const width = Math.max(...Object.keys(commands).map((c) => c.length));
  return [
    'floodgate — flood-operations pipeline: MQTT sensors → InfluxDB → rules → alerts → police notices',
    '',
    'Usage: floodgate <command> [options]      floodgate <command> --help',
    '',
    'Commands:',
    ...Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
  ].join('\n');
}

export async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    print(help());
    return;
  }
  const command = commands[name];
  if (!command) {
    process.stderr.write(`floodgate: unknown command ${JSON.stringify(name)}\n\n${help()}\n`);
    process.exit(2);
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    print(command.usage);
    return;
  }
  let values: Record<string, string | boolean | undefined>;
  let positionals: string[];
  try {
    const parsed = parseArgs({ args: rest, options: command.options, strict: true, allowPositionals: command.positionals ?? false });
    values = parsed.values as Record<string, string | boolean | undefined>;
    positionals = parsed.positionals;
  } catch (err) {
    process.stderr.write(`floodgate ${name}: ${(err as Error).message}\n\n${command.usage}\n`);
    process.exit(2);
  }
  let flags: unknown = values;
  if (command.flags) {
    // Every wrong flag at once, each named as typed: a usage error (exit 2), like an unknown one.
    const r = command.flags.safeParse(values);
    if (!r.success) {
      process.stderr.write(`floodgate ${name}: ${r.error.issues.map((i) => `${i.path.length ? `--${i.path.join('.')}` : 'options'}: ${i.message}`).join('\n  ')}\n\n${command.usage}\n`);
      process.exit(2);
    }
    flags = r.data;
  }
  try {
    await command.run(flags, positionals);
  } catch (err) {
    fail(err);
  }
}
