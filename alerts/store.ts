/**
 * Durable alert and notice storage (SQLite, WAL, synchronous=FULL). The outbox is the notices
 * table: a notice is written in the same transaction as the alert transition that caused it, so
 * neither exists without the other, and delivery state survives restarts.
 */
import Database from 'better-sqlite3';
import type { ChannelFormat, DutyMessage } from './channels.ts';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { AlertEvent, Why } from '../contracts/index.ts';
import { alertSource, type AlertState } from './transitions.ts';

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
  /** The reason as a template key and parameters (null for alerts recorded before reasons had them). */
  why: Why | null;
  firedAt: string;
  resolvedAt: string | null;
  ackedAt: string | null;
  ackedBy: string | null;
  ackNote: string | null;
  updatedAt: string;
  /** Where (for silences and grouping): the site and district of the subject, when known. */
  site: string | null;
  district: string | null;
  /** Wall-clock ms when the alert was recorded here (escalation counts from it). */
  openedAt: number | null;
  escalatedAt: string | null;
  resolvedBy: string | null;
}

/** One line of an alert's audit trail: who did what, when. */
export interface AuditEntry {
  at: string;
  who: string;
  action: 'fired' | 'changed' | 'acknowledged' | 'note' | 'resolved' | 'escalated' | 'fired again';
  note: string | null;
}

/** A silence: matching alerts are recorded and shown, but page nobody and never escalate. */
export interface Silence {
  id: number;
  ruleId: string | null;
  sensor: string | null;
  site: string | null;
  district: string | null;
  until: number;
  reason: string;
  createdBy: string;
  createdAt: number;
  endedAt: number | null;
  /** "Until resolved": the silence ends when this alert resolves (and at `until` at the latest). */
  alertId: string | null;
}

export type NoticeStatus = 'pending' | 'delivered' | 'failed';

/** What the alert transition writes into the outbox: one row per recipient. */
export interface NewNotice {
  noticeId: string;
  /** The district's recipient (traffic police, road administration …): its own delivery record. */
  recipient: string;
  format: ChannelFormat;
  alertId: string;
  subjectId: string;
  /** close / reopen (police); firing / update / resolved / escalated (duty-officer channels). */
  action: 'close' | 'reopen' | 'firing' | 'update' | 'resolved' | 'escalated';
  url: string;
  secretRef: string;
  /** The exact bytes sent on every attempt (JSON or CAP XML; the signature covers them). */
  body: string;
  /**
   * A duty-channel message waits to be grouped: one page per channel, state, rule and district
   * within the grouping window (so a district storm is one page with many members, not fifty).
   */
  page?: { groupKey: string; message: DutyMessage };
}

/** One delivery attempt: the history of a notice. */
export interface NoticeAttempt {
  attempt: number;
  at: number;
  outcome: 'delivered' | 'retry' | 'failed';
  httpStatus: number | null;
  latencyMs: number;
  error: string | null;
}

/** An outbox row: the notice plus its delivery state. */
export interface NoticeRecord extends NewNotice {
  seq: number;
  status: NoticeStatus;
  attempts: number;
  nextAttemptAt: number;
  lastError: string | null;
  createdAt: number;
  /** When it was (re)queued: the maximum age counts from here. */
  queuedAt: number;
  deliveredAt: number | null;
}

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

const ALERT_COLS = `alert_id AS alertId, rule_id AS ruleId, subject_id AS subjectId, sensor_id AS sensorId, state, severity, level,
  value, threshold, unit, reason, fired_at AS firedAt, resolved_at AS resolvedAt, acked_at AS ackedAt, acked_by AS ackedBy,
  ack_note AS ackNote, updated_at AS updatedAt, site, district, opened_at AS openedAt, escalated_at AS escalatedAt, resolved_by AS resolvedBy, why`;
const NOTICE_COLS = `seq, notice_id AS noticeId, recipient, format, alert_id AS alertId, subject_id AS subjectId, action, url,
  secret_ref AS secretRef, body, status, attempts, next_attempt_at AS nextAttemptAt, last_error AS lastError,
  created_at AS createdAt, queued_at AS queuedAt, delivered_at AS deliveredAt`;

export type AlertStore = ReturnType<typeof openAlertStore>;

/** An alerts row as SQLite returns it: `why` is JSON text. */
type RawAlert = Omit<AlertRecord, 'why'> & { why: string | null };
const withWhy = (r: RawAlert | undefined): AlertRecord | undefined => (r ? { ...r, why: r.why === null ? null : (JSON.parse(r.why) as Why) } : undefined);
const whyJson = (why: Why | undefined): string | null => (why ? JSON.stringify(why) : null);

export function openAlertStore(path: string) {
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

  const q = {
    getAlert: db.prepare(`SELECT ${ALERT_COLS} FROM alerts WHERE alert_id = ?`),
    insertAlert: db.prepare(`INSERT INTO alerts (alert_id, rule_id, subject_id, sensor_id, state, severity, level, value, threshold, unit,
      reason, why, fired_at, updated_at, site, district, opened_at) VALUES (@alertId, @ruleId, @subjectId, @sensorId, @state, @severity, @level,
      @value, @threshold, @unit, @reason, @why, @firedAt, @updatedAt, @site, @district, @openedAt)`),
    insertPage: db.prepare(`INSERT INTO pages (channel, format, url, secret_ref, group_key, state, alert_id, message, created_at)
      VALUES (@recipient, @format, @url, @secretRef, @groupKey, @action, @alertId, @message, @now)`),
    dueGroups: db.prepare(`SELECT channel, group_key AS groupKey, min(id) AS firstId FROM pages WHERE flushed = 0
      GROUP BY channel, group_key HAVING min(created_at) <= ? ORDER BY firstId`),
    groupRows: db.prepare(`SELECT id, channel, format, url, secret_ref AS secretRef, state, alert_id AS alertId, message FROM pages
      WHERE flushed = 0 AND channel = ? AND group_key = ? ORDER BY id`),
    markFlushed: db.prepare('UPDATE pages SET flushed = 1 WHERE flushed = 0 AND channel = ? AND group_key = ?'),
    audit: db.prepare('INSERT INTO alert_audit (alert_id, at, who, action, note) VALUES (?, ?, ?, ?, ?)'),
    auditOf: db.prepare('SELECT at, who, action, note FROM alert_audit WHERE alert_id = ? ORDER BY id'),
    escalate: db.prepare(`UPDATE alerts SET escalated_at = ?, updated_at = ? WHERE alert_id = ? AND escalated_at IS NULL AND state = 'firing'`),
    dueEscalation: db.prepare(`SELECT ${ALERT_COLS} FROM alerts WHERE state = 'firing' AND severity = 'critical' AND acked_at IS NULL
      AND escalated_at IS NULL AND opened_at IS NOT NULL AND opened_at <= ?`),
    silences: db.prepare(`SELECT id, rule_id AS ruleId, sensor, site, district, until, reason, created_by AS createdBy, created_at AS createdAt,
      ended_at AS endedAt, alert_id AS alertId FROM silences WHERE ended_at IS NULL AND until > ? ORDER BY id`),
    endSilencesOf: db.prepare('UPDATE silences SET ended_at = ? WHERE alert_id = ? AND ended_at IS NULL'),
    recentSilences: db.prepare(`SELECT id, rule_id AS ruleId, sensor, site, district, until, reason, created_by AS createdBy, created_at AS createdAt,
      ended_at AS endedAt, alert_id AS alertId FROM silences ORDER BY id DESC LIMIT ?`),
    addSilence: db.prepare(`INSERT INTO silences (rule_id, sensor, site, district, until, reason, created_by, created_at, alert_id)
      VALUES (@ruleId, @sensor, @site, @district, @until, @reason, @createdBy, @createdAt, @alertId)`),
    endSilence: db.prepare('UPDATE silences SET ended_at = ? WHERE id = ? AND ended_at IS NULL'),
    updateAlert: db.prepare(`UPDATE alerts SET severity = @severity, level = @level, value = @value, threshold = @threshold,
      reason = @reason, why = @why, updated_at = @updatedAt WHERE alert_id = @alertId AND state = 'firing'`),
    resolveAlert: db.prepare(`UPDATE alerts SET state = 'resolved', resolved_at = @resolvedAt, value = @value, reason = @reason, why = @why,
      resolved_by = @resolvedBy, updated_at = @updatedAt WHERE alert_id = @alertId`),
    refire: db.prepare(`UPDATE alerts SET state = 'firing', resolved_at = NULL, acked_at = NULL, acked_by = NULL, ack_note = NULL,
      reason = ?, why = ?, updated_at = ? WHERE alert_id = ?`),
    ack: db.prepare(`UPDATE alerts SET acked_at = @ackedAt, acked_by = @ackedBy, ack_note = @ackNote, updated_at = @ackedAt
      WHERE alert_id = @alertId AND acked_at IS NULL`),
    insertNotice: db.prepare(`INSERT OR IGNORE INTO notices (notice_id, recipient, format, alert_id, subject_id, action, url,
      secret_ref, body, next_attempt_at, created_at, queued_at) VALUES (@noticeId, @recipient, @format, @alertId, @subjectId,
      @action, @url, @secretRef, @body, @now, @now, @now)`),
    // Due notices whose subject has no earlier notice still undelivered to the same recipient: a
    // reopen never overtakes its close (DESIGN.md delivery guarantees); recipients do not wait
    // for each other.
    due: db.prepare(`SELECT ${NOTICE_COLS} FROM notices n WHERE status = 'pending' AND next_attempt_at <= ?
      AND NOT EXISTS (SELECT 1 FROM notices p WHERE p.subject_id = n.subject_id AND p.recipient = n.recipient
        AND p.seq < n.seq AND p.status != 'delivered')
      ORDER BY seq LIMIT ?`),
    blockedBehindFailure: db.prepare(`SELECT ${NOTICE_COLS} FROM notices n WHERE status = 'pending'
      AND EXISTS (SELECT 1 FROM notices p WHERE p.subject_id = n.subject_id AND p.recipient = n.recipient AND p.seq < n.seq
        AND p.status = 'failed')`),
    expired: db.prepare(`SELECT ${NOTICE_COLS} FROM notices WHERE status = 'pending' AND queued_at < ? ORDER BY seq`),
    getNotice: db.prepare(`SELECT ${NOTICE_COLS} FROM notices WHERE seq = ?`),
    noticesOfAlert: db.prepare(`SELECT ${NOTICE_COLS} FROM notices WHERE alert_id = ? ORDER BY seq`),
    findNotice: db.prepare(`SELECT ${NOTICE_COLS} FROM notices WHERE notice_id = ? AND recipient = ?`),
    attempts: db.prepare(`SELECT attempt, at, outcome, http_status AS httpStatus, latency_ms AS latencyMs, error FROM notice_attempts
      WHERE seq = ? ORDER BY id`),
    addAttempt: db.prepare(`INSERT INTO notice_attempts (seq, attempt, at, outcome, http_status, latency_ms, error)
      VALUES (@seq, @attempt, @at, @outcome, @httpStatus, @latencyMs, @error)`),
    failedFrom: db.prepare(`SELECT seq FROM notices WHERE subject_id = ? AND recipient = ? AND seq >= ? AND status = 'failed' ORDER BY seq`),
    requeue: db.prepare(`UPDATE notices SET status = 'pending', next_attempt_at = @now, queued_at = @now, last_error = NULL
      WHERE seq = @seq AND status = 'failed'`),
    nextDue: db.prepare(`SELECT min(next_attempt_at) AS t FROM notices WHERE status = 'pending'`),
    markDelivered: db.prepare(`UPDATE notices SET status = 'delivered', attempts = attempts + 1, delivered_at = ?, last_error = NULL WHERE seq = ?`),
    markRetry: db.prepare(`UPDATE notices SET attempts = attempts + 1, next_attempt_at = ?, last_error = ? WHERE seq = ?`),
    markFailed: db.prepare(`UPDATE notices SET status = 'failed', attempts = attempts + ?, last_error = ? WHERE seq = ?`),
    countByStatus: db.prepare(`SELECT status, count(*) AS n FROM notices GROUP BY status`),
    backlog: db.prepare(`SELECT count(*) AS n, min(queued_at) AS oldest FROM notices WHERE status = 'pending'`),
    firingByRuleDistrict: db.prepare(`SELECT rule_id AS ruleId, coalesce(district, '') AS district, count(*) AS n FROM alerts WHERE state = 'firing' GROUP BY rule_id, district`),
    firingByRule: db.prepare(`SELECT rule_id AS ruleId, count(DISTINCT subject_id) AS n FROM alerts WHERE state = 'firing' GROUP BY rule_id`),
  };

  /** A police notice goes to the outbox at once; a duty-channel message waits to be grouped. */
  function queue(n: NewNotice, nowMs: number): void {
    const { page, ...notice } = n;
    if (page) q.insertPage.run({ ...notice, groupKey: page.groupKey, message: JSON.stringify(page.message), now: nowMs });
    else q.insertNotice.run({ ...notice, now: nowMs });
  }

  return {
    db,
    /**
     * Turn every group of waiting duty-channel messages whose first message is older than the
     * window into one outbox notice (rendered by `render`), in one transaction. Returns how many.
     */
    flushPages: db.transaction((nowMs: number, windowMs: number, render: (format: ChannelFormat, messages: DutyMessage[]) => string): number => {
      const groups = q.dueGroups.all(nowMs - windowMs) as Array<{ channel: string; groupKey: string; firstId: number }>;
      for (const g of groups) {
        const rows = q.groupRows.all(g.channel, g.groupKey) as Array<{ id: number; channel: string; format: ChannelFormat; url: string; secretRef: string; state: NewNotice['action']; alertId: string; message: string }>;
        const first = rows[0]!;
        const messages = rows.map((r) => JSON.parse(r.message) as DutyMessage);
        q.insertNotice.run({
          noticeId: rows.length === 1 ? `${first.alertId}:${first.state}:${g.firstId}` : `page:${g.groupKey}:${g.firstId}`,
          recipient: g.channel,
          format: first.format,
          alertId: first.alertId,
          subjectId: g.groupKey,
          action: first.state,
          url: first.url,
          secretRef: first.secretRef,
          body: render(first.format, messages),
          now: nowMs,
        });
        q.markFlushed.run(g.channel, g.groupKey);
      }
      return groups.length;
    }),
    getAlert: (alertId: string) => withWhy(q.getAlert.get(alertId) as RawAlert | undefined),

    /** Record a new firing alert and its notices (one per recipient; none for most rules), atomically. */
    openAlert: db.transaction((event: AlertEvent, nowIso: string, notices: NewNotice[], nowMs: number, place: { site?: string; district?: string } = {}) => {
      q.insertAlert.run({ ...event, level: event.level ?? null, why: whyJson(event.why), firedAt: event.observedAt, updatedAt: nowIso, site: place.site ?? null, district: place.district ?? null, openedAt: nowMs });
      q.audit.run(event.alertId, nowIso, alertSource(event.ruleId), 'fired', event.reason);
      for (const n of notices) queue(n, nowMs);
    }),

    /** A resolved alert that is true again (a resent notice failed again): firing, unacknowledged. */
    refireAlert: db.transaction((alertId: string, reason: string, nowIso: string, why?: Why) => {
      q.refire.run(reason, whyJson(why), nowIso, alertId);
      q.audit.run(alertId, nowIso, 'outbox', 'fired again', reason);
    }),

    /** A firing alert changed level or severity (rain escalating): the record follows. */
    updateAlert: db.transaction((event: AlertEvent, nowIso: string, notices: NewNotice[], nowMs: number) => {
      const changed = q.updateAlert.run({ alertId: event.alertId, severity: event.severity, level: event.level ?? null, value: event.value, threshold: event.threshold, reason: event.reason, why: whyJson(event.why), updatedAt: nowIso }).changes === 1;
      if (changed) {
        q.audit.run(event.alertId, nowIso, alertSource(event.ruleId), 'changed', event.reason);
        for (const n of notices) queue(n, nowMs);
      }
      return changed;
    }),

    /** Resolve an alert and queue its notices (one per recipient), atomically. */
    resolveAlert: db.transaction((event: Pick<AlertEvent, 'alertId' | 'observedAt' | 'value' | 'reason' | 'why'>, nowIso: string, notices: NewNotice[], nowMs: number, by = 'rules') => {
      q.resolveAlert.run({ alertId: event.alertId, resolvedAt: event.observedAt, value: event.value, reason: event.reason, why: whyJson(event.why), resolvedBy: by, updatedAt: nowIso });
      // "Until resolved" silences end with their alert, in the same transaction.
      q.endSilencesOf.run(nowMs, event.alertId);
      q.audit.run(event.alertId, nowIso, by, 'resolved', event.reason);
      for (const n of notices) queue(n, nowMs);
    }),

    /** Acknowledge; returns false when already acknowledged (the first acknowledgement stands). */
    ack: db.transaction((alertId: string, ackedAt: string, ackedBy: string, ackNote: string | null) => {
      const done = q.ack.run({ alertId, ackedAt, ackedBy, ackNote }).changes === 1;
      if (done) q.audit.run(alertId, ackedAt, ackedBy, 'acknowledged', ackNote);
      return done;
    }),
    /** Acknowledge many (a group) in one transaction: which were acknowledged now, which before, which are unknown. */
    ackMany: db.transaction((alertIds: string[], ackedAt: string, ackedBy: string, ackNote: string | null) => {
      const r = { acknowledged: [] as string[], already: [] as string[], unknown: [] as string[] };
      for (const alertId of alertIds) {
        if (q.ack.run({ alertId, ackedAt, ackedBy, ackNote }).changes === 1) {
          q.audit.run(alertId, ackedAt, ackedBy, 'acknowledged', ackNote);
          r.acknowledged.push(alertId);
        } else (q.getAlert.get(alertId) ? r.already : r.unknown).push(alertId);
      }
      return r;
    }),
    /** A note on an alert's audit trail. */
    addNote: (alertId: string, at: string, who: string, note: string) => void q.audit.run(alertId, at, who, 'note', note),
    auditOf: (alertId: string) => q.auditOf.all(alertId) as AuditEntry[],
    /** Critical, firing, unacknowledged, not yet escalated, recorded at or before `openedBefore`. */
    dueForEscalation: (openedBefore: number) => (q.dueEscalation.all(openedBefore) as RawAlert[]).map((r) => withWhy(r)!),
    markEscalated: db.transaction((alertId: string, nowIso: string, notices: NewNotice[], nowMs: number, note: string) => {
      if (q.escalate.run(nowIso, nowIso, alertId).changes === 0) return false;
      q.audit.run(alertId, nowIso, 'system', 'escalated', note);
      for (const n of notices) queue(n, nowMs);
      return true;
    }),
    activeSilences: (nowMs: number) => q.silences.all(nowMs) as Silence[],
    recentSilences: (limit: number) => q.recentSilences.all(limit) as Silence[],
    addSilence: (s: Omit<Silence, 'id' | 'endedAt'>) => Number(q.addSilence.run(s).lastInsertRowid),
    /** Several silences in one transaction (a group): their ids. */
    addSilences: db.transaction((list: Array<Omit<Silence, 'id' | 'endedAt'>>) => list.map((s) => Number(q.addSilence.run(s).lastInsertRowid))),
    endSilence: (id: number, nowMs: number) => q.endSilence.run(nowMs, id).changes === 1,

    listAlerts(filter: { state?: AlertState; rule?: string; subject?: string; district?: string; severity?: string; acked?: boolean | undefined; limit: number }): AlertRecord[] {
      const conds: string[] = [];
      const args: Array<string | number> = [];
      for (const [col, v] of [['state', filter.state], ['rule_id', filter.rule], ['subject_id', filter.subject], ['district', filter.district], ['severity', filter.severity]] as const) {
        if (v === undefined) continue;
        conds.push(`${col} = ?`);
        args.push(v);
      }
      if (filter.acked !== undefined) conds.push(filter.acked ? 'acked_at IS NOT NULL' : 'acked_at IS NULL');
      const where = conds.length ? `WHERE ${conds.join(' AND ')}` : '';
      return (db.prepare(`SELECT ${ALERT_COLS} FROM alerts ${where} ORDER BY updated_at DESC LIMIT ?`).all(...args, filter.limit) as RawAlert[]).map((r) => withWhy(r)!);
    },

    listNotices(filter: { status?: NoticeStatus; subject?: string; alert?: string; limit: number }): NoticeRecord[] {
      const conds: string[] = [];
      const args: Array<string | number> = [];
      for (const [col, v] of [['status', filter.status], ['subject_id', filter.subject], ['alert_id', filter.alert]] as const) {
        if (v === undefined) continue;
        conds.push(`${col} = ?`);
        args.push(v);
      }
      const where = conds.length ? `WHERE ${conds.join(' AND ')}` : '';
      return db.prepare(`SELECT ${NOTICE_COLS} FROM notices ${where} ORDER BY seq DESC LIMIT ?`).all(...args, filter.limit) as NoticeRecord[];
    },
    /** The notices of firing alerts (the closure board's delivery column), oldest first. */
    noticesOfFiring: () => db.prepare(`SELECT ${NOTICE_COLS} FROM notices WHERE alert_id IN (SELECT alert_id FROM alerts WHERE state = 'firing') ORDER BY seq`).all() as NoticeRecord[],
    /** The notices of these alerts, oldest first. */
    noticesOfAlert: (alertId: string) => q.noticesOfAlert.all(alertId) as NoticeRecord[],

    dueNotices: (nowMs: number, limit: number) => q.due.all(nowMs, limit) as NoticeRecord[],
    noticesBlockedBehindFailure: () => q.blockedBehindFailure.all() as NoticeRecord[],
    nextDueAt: () => (q.nextDue.get() as { t: number | null }).t,
    expiredNotices: (queuedBefore: number) => q.expired.all(queuedBefore) as NoticeRecord[],
    getNotice: (seq: number) => q.getNotice.get(seq) as NoticeRecord | undefined,
    findNotice: (noticeId: string, recipient: string) => q.findNotice.get(noticeId, recipient) as NoticeRecord | undefined,
    attempts: (seq: number) => q.attempts.all(seq) as NoticeAttempt[],
    /** Each outcome is recorded with its attempt (time, HTTP status, latency) in one transaction. */
    markDelivered: db.transaction((seq: number, nowMs: number, a?: Omit<NoticeAttempt, 'outcome' | 'at'>) => {
      q.markDelivered.run(nowMs, seq);
      if (a) q.addAttempt.run({ seq, at: nowMs, outcome: 'delivered', ...a });
    }),
    markRetry: db.transaction((seq: number, nextAt: number, error: string, a?: Omit<NoticeAttempt, 'outcome' | 'at' | 'error'> & { at: number }) => {
      q.markRetry.run(nextAt, error, seq);
      if (a) q.addAttempt.run({ seq, outcome: 'retry', error, ...a });
    }),
    markFailed: db.transaction((seq: number, error: string, attempted: boolean, a?: Omit<NoticeAttempt, 'outcome' | 'at' | 'error'> & { at: number }) => {
      q.markFailed.run(attempted ? 1 : 0, error, seq);
      if (a) q.addAttempt.run({ seq, outcome: 'failed', error, ...a });
    }),
    /**
     * Send a failed notice again, with the notices behind it for the same underpass and recipient
     * that failed with it (in order: the close, then its reopen). Same notice id and body, so the
     * recipient's Idempotency-Key check still holds. Returns the re-queued seqs.
     */
    resend: db.transaction((seq: number, nowMs: number): number[] => {
      const n = q.getNotice.get(seq) as NoticeRecord | undefined;
      if (!n || n.status !== 'failed') return [];
      const seqs = (q.failedFrom.all(n.subjectId, n.recipient, seq) as Array<{ seq: number }>).map((r) => r.seq);
      for (const s of seqs) q.requeue.run({ seq: s, now: nowMs });
      return seqs;
    }),
    /** Subjects with a firing alert, per rule (the console's city overview). */
    firingByRule: () => Object.fromEntries((q.firingByRule.all() as Array<{ ruleId: string; n: number }>).map((r) => [r.ruleId, r.n])) as Record<string, number>,
    /** Notices waiting for delivery, and when the oldest of them was queued (null: none). */
    backlog: () => q.backlog.get() as { n: number; oldest: number | null },
    /** Firing alerts per rule and district ('' where the subject has none). */
    firingByRuleDistrict: () => q.firingByRuleDistrict.all() as Array<{ ruleId: string; district: string; n: number }>,
    noticeCounts: () => Object.fromEntries((q.countByStatus.all() as Array<{ status: string; n: number }>).map((r) => [r.status, r.n])),
    close: () => db.close(),
  };
}
