/**
 * `floodgate up`: every service in one process on embedded defaults (no external database),
 * for a laptop demo or a small site. docker-compose runs the same services one per container.
 */
import { join } from 'node:path';
import { createLogger } from '../lib/logger.ts';
import { createMetricsRegistry } from '../lib/metrics.ts';
import { systemClock } from '../lib/clock.ts';
import { FloodgateError } from '../lib/errors.ts';
import { ensureProvisioned, loadProvisioning, loadRegistry } from '../config/registry.ts';
import { gatewayConfigFromEnv } from '../gateway/config.ts';
import { ingestConfigFromEnv } from '../ingest/config.ts';
import { rulesConfigFromEnv } from '../rules/config.ts';
import { alertsConfigFromEnv } from '../alerts/config.ts';
import { sl651ConfigFromEnv } from '../sl651/config.ts';
import { createSl651 } from '../sl651/sl651.ts';
import { policeSecretsFor, resolveAlertsConfig } from '../alerts/main.ts';
import { createGateway } from '../gateway/gateway.ts';
import { createIngest } from '../ingest/ingest.ts';
import { createRules } from '../rules/rules.ts';
import { createAlerts } from '../alerts/alerts.ts';
import { ingestRoutes } from '../ingest/api.ts';
import { closeOnSignal, print, warnUnknownVariables } from '../lib/process.ts';
import { lockDataDir } from './data-lock.ts';
import { watchRegistry } from '../config/watch-registry.ts';

export async function up(): Promise<void> {
  const env = process.env;
  // Parse every service's configuration first and report all problems together.
  const problems: string[] = [];
  const attempt = <T>(f: () => T): T | undefined => {
    try {
      return f();
    } catch (err) {
      if (err instanceof FloodgateError) problems.push(err.message);
      else throw err;
      return undefined;
    }
  };
  const g = attempt(() => gatewayConfigFromEnv(env));
  const i = attempt(() => ingestConfigFromEnv(env));
  const r = attempt(() => rulesConfigFromEnv(env));
  const a = attempt(() => alertsConfigFromEnv(env));
  const s = attempt(() => sl651ConfigFromEnv(env));
  if (!g || !i || !r || !a || !s) throw new FloodgateError('CONFIG_INVALID', problems.join('\n'));

  const logger = createLogger({ name: 'floodgate' });
  const dataDir = g.shared.dataDir;
  const lock = lockDataDir(dataDir);
  if (!env['FLOODGATE_REGISTRY']) {
    const pending = ensureProvisioned(dataDir);
    const slow = setTimeout(() => print(`floodgate: first start: provisioning a secret for every sensor of the demo city into ${dataDir} …`), 300);
    const { files, created } = await pending.finally(() => clearTimeout(slow));
    if (created) print(`floodgate: wrote ${files.registry} (hashes only) and ${files.provisioning} (device secrets, mode 0600)`);
  }
  const registry = loadRegistry(g.shared.registryPath);
  const serviceSecret = g.shared.serviceSecret ?? loadProvisioning(`${dataDir}/provisioning.json`).serviceSecret;
  const metrics = createMetricsRegistry({ defaults: true });
  const clock = systemClock;

  // In one process a crash takes the broker down with ingest: with the memory store, readings the
  // broker had acknowledged to devices but not yet handed to ingest's spool would be gone, and the
  // devices do not resend them. So `up` keeps sessions and queued messages on disk, under the data
  // directory, unless FLOODGATE_BROKER_PERSISTENCE says otherwise.
  const gatewayConfig = env['FLOODGATE_BROKER_PERSISTENCE'] === undefined ? { ...g.gateway, persistence: { type: 'level' as const, dir: join(dataDir, 'broker') } } : g.gateway;
  const gateway = await createGateway(gatewayConfig, { logger, metrics, registry, serviceSecret, clock });
  const mqttUrl = `mqtt://127.0.0.1:${gateway.port}`;
  const ingest = await createIngest({ ...i.ingest, mqttUrl }, { logger, metrics, registry, serviceSecret, clock });
  const rules = await createRules({ ...r.rules, mqttUrl }, { logger, metrics, registry, serviceSecret, clock });
  const alertsConfig = resolveAlertsConfig(a, env, registry, logger);
  const alerts = await createAlerts({ ...alertsConfig, mqttUrl }, { logger, metrics, registry, serviceSecret, clock, extraRoutes: [ingestRoutes(ingest.spool)], siteRules: (id) => rules.rules().sites.get(id) });
  // The SL 651 centre only where FLOODGATE_SL651_PORT asks for it (stations are an opt-in).
  const sl651 = s.sl651 ? await createSl651({ ...s.sl651, mqttUrl }, { logger, metrics, registry, serviceSecret, clock }) : undefined;
  // Every service follows the registry file; watched once all of them exist.
  const registryWatch = watchRegistry(
    g.shared.registryPath,
    (next) => {
      gateway.updateRegistry(next);
      ingest.updateRegistry(next);
      rules.updateRegistry(next);
      sl651?.updateRegistry(next);
      alerts.updateRegistry(next, policeSecretsFor(next, env, alertsConfig.policeSecrets['FLOODGATE_POLICE_SECRET']!));
    },
    logger,
  );

  print(
    [
      `floodgate up: ${registry.sensors.length} sensors at ${registry.sites.length} sites in ${registry.districts.length} districts`,
      `  MQTT gateway   mqtt://${g.gateway.host}:${gateway.port}  (sessions and queued messages: ${gatewayConfig.persistence.type === 'level' ? `LevelDB ${gatewayConfig.persistence.dir}` : gatewayConfig.persistence.type})`,
      `  console + API  http://${alertsConfig.host === '0.0.0.0' ? '127.0.0.1' : alertsConfig.host}:${alerts.port}/  (admin token: ${env['FLOODGATE_API_TOKEN'] ? '$FLOODGATE_API_TOKEN' : `${dataDir}/api.token`}; officers: floodgate users add NAME --role officer)`,
      ...(sl651 ? [`  SL 651 centre  tcp://${s.sl651!.host}:${sl651.port}  (hydrological stations, SL 651-2014 HEX mode)`] : []),
      `  readings       ${ingest.sink.name === 'influxdb' ? `InfluxDB ${i.ingest.influx?.url}` : `embedded store ${i.ingest.embeddedPath}`}`,
      `  police         ${alertsConfig.policeUrl}  (HMAC secret: ${env['FLOODGATE_POLICE_SECRET'] ? '$FLOODGATE_POLICE_SECRET' : `${dataDir}/police.secret`})`,
      `Ctrl-C stops.`,
    ].join('\n'),
  );
  // Every service's configuration is parsed: a FLOODGATE_* variable none of them read is a typo.
  warnUnknownVariables(env);
  await closeOnSignal([registryWatch, ...(sl651 ? [sl651] : []), alerts, rules, ingest, gateway, { close: async () => lock.release() }], logger);
}
