/** `floodgate mosquitto-acl`. */
import type { Command } from './command.ts';
import { print } from '../../lib/process.ts';

export const mosquittoAcl: Command = {
  summary: 'print a Mosquitto acl_file with floodgate\'s access rules',
  usage: `floodgate mosquitto-acl

Prints an acl_file for Mosquitto that mirrors the gateway's rules: each service role gets exactly
its topics, devices (username = client id = sensor id) only their own. See docs/brokers.md.`,
  options: {},
  async run() {
    print((await import('../../gateway/mosquitto.ts')).mosquittoAcl());
  },
};
