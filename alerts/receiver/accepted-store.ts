/**
 * The receiver's memory of what it accepted, in SQLite: every noticeId (a duplicate is known
 * after a restart) with its underpass, epoch and sequence. In a file it survives a restart, which
 * closes the replay gap an in-RAM set left (a captured close re-sent to a restarted receiver);
 * ':memory:' for tests.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Accepted } from './order.ts';

export interface AcceptedStore {
  before(noticeId: string, underpassId: string): Accepted;
  record(n: { noticeId: string; underpassId: string; epoch: number; sequence: number; receivedAt: string }): void;
  close(): void;
}

export function openAcceptedStore(path: string): AcceptedStore {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL'); // an accepted notice is remembered before it is answered
  db.exec(`CREATE TABLE IF NOT EXISTS accepted (notice_id TEXT PRIMARY KEY, underpass TEXT NOT NULL, epoch INTEGER NOT NULL,
    sequence INTEGER NOT NULL, received_at TEXT NOT NULL);
    CREATE INDEX IF NOT EXISTS accepted_underpass ON accepted (underpass);`);
  const seen = db.prepare('SELECT 1 FROM accepted WHERE notice_id = ?');
  const highest = db.prepare('SELECT max(epoch) AS maxEpoch, max(sequence) AS maxSequence FROM accepted WHERE underpass = ?');
  const insert = db.prepare('INSERT OR IGNORE INTO accepted (notice_id, underpass, epoch, sequence, received_at) VALUES (@noticeId, @underpassId, @epoch, @sequence, @receivedAt)');
  return {
    before(noticeId, underpassId) {
      const h = highest.get(underpassId) as { maxEpoch: number | null; maxSequence: number | null };
      return { seen: seen.get(noticeId) !== undefined, maxEpoch: h.maxEpoch ?? undefined, maxSequence: h.maxSequence ?? undefined };
    },
    record: (n) => void insert.run(n),
    close: () => db.close(),
  };
}
