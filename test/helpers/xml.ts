/** Validate CAP 1.2 XML against the OASIS schema in ../shared/schemas with xmllint (Debian libxml2-utils). */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { requireBinary, tempDir } from './servers.ts';

const XSD = fileURLToPath(new URL('../../../shared/schemas/CAP-v1.2.xsd', import.meta.url));

export function validateCap(xml: string): { ok: boolean; out: string } {
  const xmllint = requireBinary('xmllint', 'libxml2-utils');
  const d = tempDir('cap');
  const f = join(d.path, 'alert.xml');
  writeFileSync(f, xml);
  try {
    // xmllint reports on stderr: "<file> validates" or the schema's complaint.
    const r = spawnSync(xmllint, ['--noout', '--schema', XSD, f], { encoding: 'utf8' });
    return { ok: r.status === 0, out: `${r.stdout}${r.stderr}` };
  } finally {
    d.remove();
  }
}
