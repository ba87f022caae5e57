/** A store written before per-recipient notices opens with every row kept, as the police's JSON notices. */
import { describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { openAlertStore } from '../sqlite-store.ts';
import { tempDir } from '../../test/helpers/servers.ts';

describe('alert store migration', () => {
  it('rebuilds the old notices table keeping every row and its delivery state', async () => {
    const d = tempDir('alerts-migrate');
    const path = join(d.path, 'alerts.db');
    const old = new Database(path);
    old.exec(`CREATE TABLE notices (
      seq INTEGER PRIMARY KEY AUTOINCREMENT, notice_id TEXT NOT NULL UNIQUE, alert_id TEXT NOT NULL,
      subject_id TEXT NOT NULL, action TEXT NOT NULL, url TEXT NOT NULL, secret_ref TEXT NOT NULL, body TEXT NOT NULL,
      status TEXT NOT NULL DEFAULT 'pending', attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at INTEGER NOT NULL,
      last_error TEXT, created_at INTEGER NOT NULL, delivered_at INTEGER);
      CREATE INDEX notices_due ON notices (status, next_attempt_at);
      INSERT INTO notices (notice_id, alert_id, subject_id, action, url, secret_ref, body, status, attempts, next_attempt_at, created_at, delivered_at)
      VALUES ('a:close', 'a', 'UP-001', 'close', 'http://p', 'FLOODGATE_POLICE_SECRET', '{}', 'delivered', 2, 5, 1, 7),
             ('a:reopen', 'a', 'UP-001', 'reopen', 'http://p', 'FLOODGATE_POLICE_SECRET', '{}', 'pending', 0, 9, 8, NULL);`);
    old.close();
    const store = openAlertStore(path);
    try {
      const rows = (await store.listNotices({ limit: 10 })).reverse();
      expect(rows.map((r) => [r.seq, r.noticeId, r.recipient, r.format, r.status, r.attempts, r.queuedAt])).toEqual([
        [1, 'a:close', 'police', 'json', 'delivered', 2, 1],
        [2, 'a:reopen', 'police', 'json', 'pending', 0, 8],
      ]);
      expect((await store.dueNotices(100, 10)).map((r) => r.noticeId)).toEqual(['a:reopen']);
    } finally {
      await store.close();
      d.remove();
    }
  });
});
