/** `floodgate up`. */
import { ENV_NOTE, type Command } from './command.ts';

export const up: Command = {
  summary: 'run every service in one process on embedded defaults',
  usage: `floodgate up

Runs gateway, ingest, rules and alerts in one process. Without INFLUX_URL readings go to an
embedded store under FLOODGATE_DATA_DIR (default ./data). On first start the bundled demo city
(config/demo-city.json) is provisioned there: registry.json (secret hashes) and provisioning.json
(device secrets for simulators). ${ENV_NOTE}`,
  options: {},
  run: async () => (await import('../up.ts')).up(),
};
