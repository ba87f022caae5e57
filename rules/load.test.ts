import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { BUNDLED_CITY, loadRegistry } from '../config/registry.ts';
import { DEFAULT_RULES_PATH, loadRules, parseRules } from './load.ts';
import { RulesFile } from './spec.ts';

const sites = loadRegistry(BUNDLED_CITY).sites;

describe('rules file', () => {
  it('the shipped config/rules.yaml is the standard rule set (states the defaults)', () => {
    const r = loadRules(DEFAULT_RULES_PATH, sites);
    expect(r.file.defaults).toEqual(RulesFile.parse({ version: 1 }).defaults);
    expect(r.sites.size).toBe(sites.length);
    expect(r.sites.get('WS-001')!.waterLevel.warningM).toBe(4.8); // from the registry (Wusong)
    expect(r.sites.get('UP-001')!.underpass.closeCm).toBe(25);
  });

  it('a site override changes that site only', () => {
    const r = parseRules('version: 1\nsites:\n  UP-001: { underpass: { closeCm: 27 } }\n', 'r.yaml', sites);
    expect(r.sites.get('UP-001')!.underpass.closeCm).toBe(27);
    expect(r.sites.get('UP-002')!.underpass.closeCm).toBe(25);
  });

  it('reads JSON too', () => {
    expect(parseRules(JSON.stringify({ version: 1, defaults: { underpass: { closeCm: 30 } } }), 'r.json', sites).sites.get('UP-001')!.underpass.closeCm).toBe(30);
  });

  it.each<[string, string, string[]]>([
    ['YAML syntax', 'version: 1\ndefaults:\n  underpass: { closeCm: 25\n', ['r.yaml:', 'Flow']],
    ['wrong type, with its line', 'version: 1\ndefaults:\n  underpass:\n    closeCm: deep\n', ['r.yaml:4 defaults.underpass.closeCm:']],
    ['misspelt key', 'version: 1\ndefaults:\n  underpass:\n    closeCM: 25\n', ['r.yaml:4 defaults.underpass:', 'closeCM']],
    ['hysteresis inverted', 'version: 1\ndefaults:\n  underpass:\n    closeCm: 25\n    reopenCm: 30\n', ['defaults.underpass.reopenCm: reopenCm must be below closeCm']],
    ['unknown site', 'version: 1\nsites:\n  UP-999: { underpass: { closeCm: 27 } }\n', ['r.yaml:3 sites.UP-999: site UP-999 is not in the registry']],
    ['bad site override, all problems at once', 'version: 1\nsites:\n  UP-001:\n    underpass: { closeCm: -1 }\n  UP-002:\n    underpass: { reopenHoldS: x }\n', ['r.yaml:4 sites.UP-001.underpass.closeCm', 'r.yaml:6 sites.UP-002.underpass.reopenHoldS']],
    ['wrong version', 'version: 2\n', ['r.yaml:1 version: version must be 1']],
    ['an alias to nothing (found by the fuzz suite)', '*!', ['r.yaml']],
  ])('refuses %s with a clear message', (_case, text, parts) => {
    let message = '';
    try {
      parseRules(text, 'r.yaml', sites);
    } catch (err) {
      message = (err as Error).message;
      expect((err as { code?: string }).code).toBe('RULES_INVALID');
    }
    for (const p of parts) expect(message).toContain(p);
  });

  it('the shipped file parses as YAML with comments intact (operators edit it)', () => {
    expect(readFileSync(DEFAULT_RULES_PATH, 'utf8')).toContain('# Shanghai rainstorm signals');
  });
});
