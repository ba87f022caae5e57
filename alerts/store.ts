/**
 * Durable alert and notice storage (SQLite, WAL, synchronous=FULL). The outbox is the notices
 * table: a notice is written in the same transaction as the alert transition that caused it, so
 * neither exists without the other, and delivery state survives restarts.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { AlertEvent } from '../contracts/index.ts';
import type { AlertState } from './transitions.ts';

export interface AlertRecord {
  alertId: string;
  ruleId: string;
  subjectId: string;
  sensorId: string;
  state: AlertState;
  severity: string;
  /** Rain rules: the rainstorm level (blue … red); null otherwise. */
  level: string | null;
  value: number;
  threshold: number;
  unit: string;
  reason: string;
  firedAt: string;
  resolvedAt: string | null;
  ackedAt: string | null;
  ackedBy: string | null;
  ackNote: string | null;
  updatedAt: string;
}

export type NoticeStatus = 'pending' | 'delivered' | 'failed';

/** What the alert transition writes into the outbox. */
export interface NewNotice {
  noticeId: string;
  alertId: string;
  subjectId: string;
  action: 'close' | 'reopen';
  url: string;
  secretRef: string;
  /** The exact JSON sent on every attempt (the signature covers these bytes). */
  body: string;
}

/** An outbox row: the notice plus its delivery state. */
export interface NoticeRecord extends NewNotice {
  seq: number;
  status: NoticeStatus;
  attempts: number;
  nextAttemptAt: number;
  lastError: string | null;
  createdAt: number;
  deliveredAt: number | null;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS alerts (
  alert_id TEXT PRIMARY KEY, rule_id TEXT NOT NULL, subject_id TEXT NOT NULL, sensor_id TEXT NOT NULL,
  state TEXT NOT NULL, severity TEXT NOT NULL, value REAL NOT NULL, threshold REAL NOT NULL, unit TEXT NOT NULL,
  reason TEXT NOT NULL, fired_at TEXT NOT NULL, resolved_at TEXT, acked_at TEXT, acked_by TEXT, ack_note TEXT,
  updated_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS alerts_state ON alerts (state, fired_at);
CREATE TABLE IF NOT EXISTS notices (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, notice_id TEXT NOT NULL UNIQUE, alert_id TEXT NOT NULL,
  subject_id TEXT NOT NULL, action TEXT NOT NULL, url TEXT NOT NULL, secret_ref TEXT NOT NULL, body TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'pending', attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at INTEGER NOT NULL,
  last_error TEXT, created_at INTEGER NOT NULL, delivered_at INTEGER);
CREATE INDEX IF NOT EXISTS notices_due ON notices (status, next_attempt_at);
`;

const ALERT_COLS = `alert_id AS alertId, rule_id AS ruleId, subject_id AS subjectId, sensor_id AS sensorId, state, severity, level,
  value, threshold, unit, reason, fired_at AS firedAt, resolved_at AS resolvedAt, acked_at AS ackedAt, acked_by AS ackedBy,
  ack_note AS ackNote, updated_at AS updatedAt`;
const NOTICE_COLS = `seq, notice_id AS noticeId, alert_id AS alertId, subject_id AS subjectId, action, url, secret_ref AS secretRef,
  body, status, attempts, next_attempt_at AS nextAttemptAt, last_error AS lastError, created_at AS createdAt, delivered_at AS deliveredAt`;

export type AlertStore = ReturnType<typeof openAlertStore>;

export function openAlertStore(path: string) {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec(SCHEMA);
  // Added after the first release: stores made before it get the column.
  if (!(db.prepare('PRAGMA table_info(alerts)').all() as Array<{ name: string }>).some((c) => c.name === 'level')) db.exec('ALTER TABLE alerts ADD COLUMN level TEXT');

  const q = {
    getAlert: db.prepare(`SELECT ${ALERT_COLS} FROM alerts WHERE alert_id = ?`),
    insertAlert: db.prepare(`INSERT INTO alerts (alert_id, rule_id, subject_id, sensor_id, state, severity, level, value, threshold, unit,
      reason, fired_at, updated_at) VALUES (@alertId, @ruleId, @subjectId, @sensorId, @state, @severity, @level, @value, @threshold, @unit,
      @reason, @firedAt, @updatedAt)`),
    updateAlert: db.prepare(`UPDATE alerts SET severity = @severity, level = @level, value = @value, threshold = @threshold,
      reason = @reason, updated_at = @updatedAt WHERE alert_id = @alertId AND state = 'firing'`),
    resolveAlert: db.prepare(`UPDATE alerts SET state = 'resolved', resolved_at = @resolvedAt, value = @value, reason = @reason,
      updated_at = @updatedAt WHERE alert_id = @alertId`),
    ack: db.prepare(`UPDATE alerts SET acked_at = @ackedAt, acked_by = @ackedBy, ack_note = @ackNote, updated_at = @ackedAt
      WHERE alert_id = @alertId AND acked_at IS NULL`),
    insertNotice: db.prepare(`INSERT OR IGNORE INTO notices (notice_id, alert_id, subject_id, action, url, secret_ref, body,
      next_attempt_at, created_at) VALUES (@noticeId, @alertId, @subjectId, @action, @url, @secretRef, @body, @now, @now)`),
    // Due notices whose subject has no earlier notice still undelivered: a reopen never
    // overtakes its close (DESIGN.md delivery guarantees).
    due: db.prepare(`SELECT ${NOTICE_COLS} FROM notices n WHERE status = 'pending' AND next_attempt_at <= ?
      AND NOT EXISTS (SELECT 1 FROM notices p WHERE p.subject_id = n.subject_id AND p.seq < n.seq AND p.status != 'delivered')
      ORDER BY seq LIMIT ?`),
    blockedBehindFailure: db.prepare(`SELECT ${NOTICE_COLS} FROM notices n WHERE status = 'pending'
      AND EXISTS (SELECT 1 FROM notices p WHERE p.subject_id = n.subject_id AND p.seq < n.seq AND p.status = 'failed')`),
    nextDue: db.prepare(`SELECT min(next_attempt_at) AS t FROM notices WHERE status = 'pending'`),
    markDelivered: db.prepare(`UPDATE notices SET status = 'delivered', attempts = attempts + 1, delivered_at = ?, last_error = NULL WHERE seq = ?`),
    markRetry: db.prepare(`UPDATE notices SET attempts = attempts + 1, next_attempt_at = ?, last_error = ? WHERE seq = ?`),
    markFailed: db.prepare(`UPDATE notices SET status = 'failed', attempts = attempts + ?, last_error = ? WHERE seq = ?`),
    countByStatus: db.prepare(`SELECT status, count(*) AS n FROM notices GROUP BY status`),
  };

  return {
    db,
    getAlert: (alertId: string) => q.getAlert.get(alertId) as AlertRecord | undefined,

    /** Record a new firing alert and (optionally) its notice, atomically. */
    openAlert: db.transaction((event: AlertEvent, nowIso: string, notice: NewNotice | null, nowMs: number) => {
      q.insertAlert.run({ ...event, level: event.level ?? null, firedAt: event.observedAt, updatedAt: nowIso });
      if (notice) q.insertNotice.run({ ...notice, now: nowMs });
    }),

    /** A firing alert changed level or severity (rain escalating): the record follows. */
    updateAlert: (event: AlertEvent, nowIso: string) =>
      q.updateAlert.run({ alertId: event.alertId, severity: event.severity, level: event.level ?? null, value: event.value, threshold: event.threshold, reason: event.reason, updatedAt: nowIso }).changes === 1,

    /** Resolve an alert and (optionally) queue its notice, atomically. */
    resolveAlert: db.transaction((event: AlertEvent, nowIso: string, notice: NewNotice | null, nowMs: number) => {
      q.resolveAlert.run({ alertId: event.alertId, resolvedAt: event.observedAt, value: event.value, reason: event.reason, updatedAt: nowIso });
      if (notice) q.insertNotice.run({ ...notice, now: nowMs });
    }),

    /** Acknowledge; returns false when already acknowledged (the first acknowledgement stands). */
    ack: (alertId: string, ackedAt: string, ackedBy: string, ackNote: string | null) =>
      q.ack.run({ alertId, ackedAt, ackedBy, ackNote }).changes === 1,

    listAlerts(filter: { state?: AlertState; limit: number }): AlertRecord[] {
      const where = filter.state ? 'WHERE state = ?' : '';
      const args = filter.state ? [filter.state, filter.limit] : [filter.limit];
      return db.prepare(`SELECT ${ALERT_COLS} FROM alerts ${where} ORDER BY updated_at DESC LIMIT ?`).all(...args) as AlertRecord[];
    },

    listNotices(filter: { status?: NoticeStatus; limit: number }): NoticeRecord[] {
      const where = filter.status ? 'WHERE status = ?' : '';
      const args = filter.status ? [filter.status, filter.limit] : [filter.limit];
      return db.prepare(`SELECT ${NOTICE_COLS} FROM notices ${where} ORDER BY seq DESC LIMIT ?`).all(...args) as NoticeRecord[];
    },

    dueNotices: (nowMs: number, limit: number) => q.due.all(nowMs, limit) as NoticeRecord[],
    noticesBlockedBehindFailure: () => q.blockedBehindFailure.all() as NoticeRecord[],
    nextDueAt: () => (q.nextDue.get() as { t: number | null }).t,
    markDelivered: (seq: number, nowMs: number) => void q.markDelivered.run(nowMs, seq),
    markRetry: (seq: number, nextAt: number, error: string) => void q.markRetry.run(nextAt, error, seq),
    markFailed: (seq: number, error: string, attempted: boolean) => void q.markFailed.run(attempted ? 1 : 0, error, seq),
    noticeCounts: () => Object.fromEntries((q.countByStatus.all() as Array<{ status: string; n: number }>).map((r) => [r.status, r.n])),
    close: () => db.close(),
  };
}
