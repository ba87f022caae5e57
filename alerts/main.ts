import { createLogger, type Logger } from '../lib/logger.ts';
import { createMetricsRegistry } from '../lib/metrics.ts';
import { loadSharedDeps } from '../config/shared-config.ts';
import { systemClock } from '../lib/clock.ts';
import { readOrCreateSecretFile } from '../lib/secret-file.ts';
import { recipientsOf, type Registry } from '../config/registry.ts';
import { closeOnSignal } from '../lib/process.ts';
import { declareVariables } from '../lib/env.ts';
import { DEFAULT_RULES_PATH, loadRules } from '../rules/load.ts';
import type { SiteRules } from '../rules/spec.ts';
import { watchRegistry } from '../config/watch-registry.ts';
import { alertsConfigFromEnv, secretFiles, type AlertsConfig } from './config.ts';
import { createAlerts } from './alerts.ts';

/**
 * Complete the alerts configuration with secrets that may live in files: the API token and the
 * default police HMAC secret are generated into the data dir on first use (mode 0600) unless set
 * in the environment; other districts' secrets are read from the variables their registry entry
 * names. Logs say where a secret is, never what it is.
 */
export function resolveAlertsConfig(
  c: ReturnType<typeof alertsConfigFromEnv>,
  env: Record<string, string | undefined>,
  registry: Registry,
  logger: Logger,
): AlertsConfig & { dataDir: string } {
  const files = secretFiles(c.shared.dataDir);
  const fromFile = (path: string, what: string) => {
    const r = readOrCreateSecretFile(path);
    logger.info({ path }, r.created ? `generated ${what}` : `using ${what} from file`);
    return r.secret;
  };
  const apiToken = c.apiToken ?? fromFile(files.apiToken, 'API token');
  const policeSecret = c.policeSecret ?? fromFile(files.police, 'police HMAC secret');
  return { ...c.partial, apiToken, policeSecrets: policeSecretsFor(registry, env, policeSecret), dataDir: c.shared.dataDir };
}

/**
 * The secrets the registry's recipients and duty channels name (secretRef → value, from the
 * environment), with the default police secret under FLOODGATE_POLICE_SECRET. Read again when the
 * registry changes, so a district added later finds its secret if its variable is set.
 */
export function policeSecretsFor(registry: Registry, env: Record<string, string | undefined>, policeSecret: string): Record<string, string> {
  const policeSecrets: Record<string, string> = { FLOODGATE_POLICE_SECRET: policeSecret };
  const refs = new Set([...registry.districts.flatMap((d) => [d.police.secretRef, ...recipientsOf(d).map((r) => r.secretRef)]), ...(registry.dutyChannels ?? []).flatMap((c) => (c.secretRef ? [c.secretRef] : []))]);
  declareVariables(refs);
  for (const ref of refs) {
    const v = env[ref];
    if (ref !== 'FLOODGATE_POLICE_SECRET' && v) policeSecrets[ref] = v;
  }
  return policeSecrets;
}

/**
 * The rules file's levels for the console's charts, read at start. A file that does not load
 * leaves the charts on the rules' defaults: the alerts service does not stop over a chart line.
 */
function chartRules(path: string | undefined, registry: Registry, logger: Logger): ((siteId: string) => SiteRules | undefined) | undefined {
  try {
    const loaded = loadRules(path ?? DEFAULT_RULES_PATH, registry.sites);
    return (id) => loaded.sites.get(id);
  } catch (err) {
    logger.warn({ err: (err as Error).message }, 'rules file not loaded: charts show the default levels');
    return undefined;
  }
}

export async function main(): Promise<void> {
  const logger = createLogger({ name: 'alerts' });
  const parsed = alertsConfigFromEnv(process.env);
  const { registry, serviceSecret } = loadSharedDeps(parsed.shared);
  const config = resolveAlertsConfig(parsed, process.env, registry, logger);
  const handle = await createAlerts(config, { logger, metrics: createMetricsRegistry({ defaults: true }), registry, serviceSecret, clock: systemClock, siteRules: chartRules(parsed.rulesPath, registry, logger) });
  const watch = watchRegistry(parsed.shared.registryPath, (r) => handle.updateRegistry(r, policeSecretsFor(r, process.env, config.policeSecrets['FLOODGATE_POLICE_SECRET']!)), logger);
  await closeOnSignal([watch, handle], logger);
}
