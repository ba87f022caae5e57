/**
 * The same access rules for an external Mosquitto broker: an ACL file generated from the
 * gateway's roles (gateway/acl.ts), so a deployment that runs Mosquitto in place of the floodgate
 * gateway keeps devices on their own topics and services on theirs.
 */
import { SERVICE_PREFIX, SERVICE_ROLES } from './acl.ts';

/** mosquitto.conf(5) acl_file text: one block per service account, patterns for devices (%u = username = device id). */
export function mosquittoAcl(): string {
  const lines: string[] = ['# Generated from floodgate gateway/acl.ts: services', ''];
  for (const [role, grants] of Object.entries(SERVICE_ROLES)) {
    lines.push(`user ${SERVICE_PREFIX}${role}`);
    for (const t of grants.subscribe) lines.push(`topic read ${t}`);
    for (const t of grants.publish) lines.push(`topic write ${t}`);
    lines.push('');
  }
  lines.push(
    '# Devices: username = client id = sensor id; only their own topics.',
    'pattern write sensors/+/%u/reading',
    'pattern write sensors/+/%u/status',
    'pattern read sensors/+/%u/config',
    'pattern read floodgate/rejects/+/%u',
    '',
  );
  return lines.join('\n');
}
