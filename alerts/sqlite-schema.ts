/**
 * The SQLite alerts store's schema: tables, indexes, and the migrations of stores made by earlier
 * versions (columns added since, the per-recipient outbox). Applied on open, idempotent.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS alerts (
  alert_id TEXT PRIMARY KEY, rule_id TEXT NOT NULL, subject_id TEXT NOT NULL, sensor_id TEXT NOT NULL,
  state TEXT NOT NULL, severity TEXT NOT NULL, value REAL NOT NULL, threshold REAL NOT NULL, unit TEXT NOT NULL,
  reason TEXT NOT NULL, fired_at TEXT NOT NULL, resolved_at TEXT, acked_at TEXT, acked_by TEXT, ack_note TEXT,
  updated_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS alerts_state ON alerts (state, fired_at);
CREATE INDEX IF NOT EXISTS alerts_state_rule ON alerts (state, rule_id);
CREATE TABLE IF NOT EXISTS alert_audit (
  id INTEGER PRIMARY KEY AUTOINCREMENT, alert_id TEXT NOT NULL, at TEXT NOT NULL, who TEXT NOT NULL, action TEXT NOT NULL, note TEXT);
CREATE INDEX IF NOT EXISTS alert_audit_alert ON alert_audit (alert_id, id);
CREATE TABLE IF NOT EXISTS pages (
  id INTEGER PRIMARY KEY AUTOINCREMENT, channel TEXT NOT NULL, format TEXT NOT NULL, url TEXT NOT NULL, secret_ref TEXT NOT NULL,
  group_key TEXT NOT NULL, state TEXT NOT NULL, alert_id TEXT NOT NULL, message TEXT NOT NULL, created_at INTEGER NOT NULL,
  flushed INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS pages_open ON pages (flushed, channel, group_key, id);
CREATE TABLE IF NOT EXISTS silences (
  id INTEGER PRIMARY KEY AUTOINCREMENT, rule_id TEXT, sensor TEXT, site TEXT, district TEXT, until INTEGER NOT NULL,
  reason TEXT NOT NULL, created_by TEXT NOT NULL, created_at INTEGER NOT NULL, ended_at INTEGER);
`;

/** Columns added after the first release: stores made before get them on open. */
const ADDED_COLUMNS: Array<[table: string, column: string, type: string]> = [
  ['alerts', 'level', 'TEXT'],
  ['alerts', 'site', 'TEXT'],
  ['alerts', 'district', 'TEXT'],
  ['alerts', 'opened_at', 'INTEGER'],
  ['alerts', 'escalated_at', 'TEXT'],
  ['alerts', 'resolved_by', 'TEXT'],
  ['alerts', 'why', 'TEXT'],
  ['silences', 'alert_id', 'TEXT'],
];

const NOTICES_SCHEMA = `
CREATE TABLE IF NOT EXISTS notices (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, notice_id TEXT NOT NULL, recipient TEXT NOT NULL, format TEXT NOT NULL,
  alert_id TEXT NOT NULL, subject_id TEXT NOT NULL, action TEXT NOT NULL, url TEXT NOT NULL, secret_ref TEXT NOT NULL,
  body TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'pending', attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL, last_error TEXT, created_at INTEGER NOT NULL, queued_at INTEGER NOT NULL,
  delivered_at INTEGER, UNIQUE (notice_id, recipient));
CREATE INDEX IF NOT EXISTS notices_due ON notices (status, next_attempt_at);
CREATE INDEX IF NOT EXISTS notices_subject ON notices (subject_id, recipient, seq);
CREATE INDEX IF NOT EXISTS notices_alert ON notices (alert_id, seq);
CREATE TABLE IF NOT EXISTS notice_attempts (
  id INTEGER PRIMARY KEY AUTOINCREMENT, seq INTEGER NOT NULL, attempt INTEGER NOT NULL, at INTEGER NOT NULL,
  outcome TEXT NOT NULL, http_status INTEGER, latency_ms INTEGER NOT NULL, error TEXT);
CREATE INDEX IF NOT EXISTS notice_attempts_seq ON notice_attempts (seq, id);
CREATE TABLE IF NOT EXISTS notice_sequences (subject_id TEXT PRIMARY KEY, last INTEGER NOT NULL);
`;

/** Stores made before per-recipient notices: rebuild the outbox table, keeping every row. */
function migrateNotices(db: Database.Database): void {
  const cols = (db.prepare('PRAGMA table_info(notices)').all() as Array<{ name: string }>).map((c) => c.name);
  if (cols.length === 0 || cols.includes('recipient')) return;
  db.transaction(() => {
    db.exec('ALTER TABLE notices RENAME TO notices_v1; DROP INDEX IF EXISTS notices_due;');
    db.exec(NOTICES_SCHEMA);
    db.exec(`INSERT INTO notices (seq, notice_id, recipient, format, alert_id, subject_id, action, url, secret_ref, body, status,
      attempts, next_attempt_at, last_error, created_at, queued_at, delivered_at)
      SELECT seq, notice_id, 'police', 'json', alert_id, subject_id, action, url, secret_ref, body, status, attempts,
      next_attempt_at, last_error, created_at, created_at, delivered_at FROM notices_v1`);
    db.exec('DROP TABLE notices_v1');
  })();
}


/** Open (creating if need be) the store at `path` (':memory:' for none), WAL and synchronous=FULL, migrated. */
export function openDatabase(path: string): Database.Database {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec(SCHEMA);
  migrateNotices(db);
  db.exec(NOTICES_SCHEMA);
  for (const [table, column, type] of ADDED_COLUMNS) {
    if (!(db.prepare(`PRAGMA table_info(${table})`).all() as Array<{ name: string }>).some((c) => c.name === column)) db.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${type}`);
  }
  return db;
}
