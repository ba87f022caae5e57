/** `floodgate gateway | ingest | rules | alerts`: one service in this process. */
import { service, type Command } from './command.ts';

export const gateway: Command = service('gateway', 'run the MQTT gateway (aedes): device auth, ACL', () => import('../../gateway/main.ts'));
export const ingest: Command = service('ingest', 'run ingest: readings from MQTT into InfluxDB or the embedded store', () => import('../../ingest/main.ts'));
export const rules: Command = service('rules', 'run the rules engine: ponding readings into underpass closure alerts', () => import('../../rules/main.ts'));
export const alerts: Command = service('alerts', 'run the alerts service: alert store, HTTP API, signed police notices', () => import('../../alerts/main.ts'));
export const sl651: Command = service('sl651', 'run the SL 651-2014 centre: hydrological stations (RTUs) report over TCP (FLOODGATE_SL651_PORT)', () => import('../../sl651/main.ts'));
