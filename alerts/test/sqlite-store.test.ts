import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openAlertStore } from '../sqlite-store.ts';
import { alertStoreContract } from './store-contract.ts';
import { tempDir } from '../../test/helpers/servers.ts';

alertStoreContract('SQLite (embedded)', () => openAlertStore(':memory:'));

describe('SQLite alerts store on disk', () => {
  it("keeps each subject's notice sequence across a restart (a receiver's high-water mark is never met again)", async () => {
    const d = tempDir('alerts-seq');
    try {
      const path = join(d.path, 'alerts.db');
      const a = openAlertStore(path);
      expect([await a.nextNoticeSequence('UP-001'), await a.nextNoticeSequence('UP-001')]).toEqual([1, 2]);
      await a.close();
      const b = openAlertStore(path);
      expect(await b.nextNoticeSequence('UP-001')).toBe(3);
      await b.close();
    } finally {
      d.remove();
    }
  });
});
