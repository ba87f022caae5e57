/**
 * The embedded alerts store: SQLite (WAL, synchronous=FULL) through better-sqlite3, whose calls are
 * synchronous. The store answers with promises, like a server database; while a transaction of
 * `atomically` is open (it spans the awaits of its function), every other call waits for it, so
 * no other piece of the service's work can slip into it or be rolled back with it.
 */
import type Database from 'better-sqlite3';
import type { AlertEvent, Why } from '../contracts/index.ts';
import { alertSource } from './transitions.ts';
import { openDatabase } from './sqlite-schema.ts';
import type { AlertFilter, AlertRecord, AlertStore, AlertStoreOps, AuditEntry, Promised, NewNotice, NewSilence, NoticeAttempt, NoticeFilter, NoticeRecord, PageRenderer, Silence } from './store.ts';
import type { ChannelFormat, DutyMessage } from './channels.ts';

const ALERT_COLS = `alert_id AS alertId, rule_id AS ruleId, subject_id AS subjectId, sensor_id AS sensorId, state, severity, level,
  value, threshold, unit, reason, fired_at AS firedAt, resolved_at AS resolvedAt, acked_at AS ackedAt, acked_by AS ackedBy,
  ack_note AS ackNote, updated_at AS updatedAt, site, district, opened_at AS openedAt, escalated_at AS escalatedAt, resolved_by AS resolvedBy, why`;
const NOTICE_COLS = `seq, notice_id AS noticeId, recipient, format, alert_id AS alertId, subject_id AS subjectId, action, url,
  secret_ref AS secretRef, body, status, attempts, next_attempt_at AS nextAttemptAt, last_error AS lastError,
  created_at AS createdAt, queued_at AS queuedAt, delivered_at AS deliveredAt`;

/** An alerts row as SQLite returns it: `why` is JSON text. */
type RawAlert = Omit<AlertRecord, 'why'> & { why: string | null };
const withWhy = (r: RawAlert | undefined): AlertRecord | undefined => (r ? { ...r, why: r.why === null ? null : (JSON.parse(r.why) as Why) } : undefined);
const whyJson = (why: Why | undefined): string | null => (why ? JSON.stringify(why) : null);

function prepare(db: Database.Database) {
  return {
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
    nextSequence: db.prepare(`INSERT INTO notice_sequences (subject_id, last) VALUES (?, 1)
      ON CONFLICT (subject_id) DO UPDATE SET last = last + 1 RETURNING last`),
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
    pendingPages: db.prepare('SELECT count(*) AS n FROM pages WHERE flushed = 0'),
  };
}
type Statements = ReturnType<typeof prepare>;

/** A police notice goes to the outbox at once; a duty-channel message waits to be grouped. */
function queue(q: Statements, n: NewNotice, nowMs: number): void {
  const { page, ...notice } = n;
  if (page) q.insertPage.run({ ...notice, groupKey: page.groupKey, message: JSON.stringify(page.message), now: nowMs });
  else q.insertNotice.run({ ...notice, now: nowMs });
}

/** Each operation as a promise, after `wait` (a transaction in progress) if it says so. */
function promised<T extends object>(ops: T, wait: () => Promise<void> | undefined): Promised<T> {
  const out: Record<string, unknown> = {};
  for (const [name, op] of Object.entries(ops) as Array<[string, (...args: unknown[]) => unknown]>) {
    out[name] = async (...args: unknown[]) => {
      const w = wait();
      if (w) await w;
      return op(...args);
    };
  }
  return out as Promised<T>;
}

export function openAlertStore(path: string): AlertStore {
  const db = openDatabase(path);
  const q = prepare(db);
  const ops: AlertStoreOps = { ...alertOps(db, q), ...silenceAndPageOps(db, q), ...noticeOps(db, q) };
  let tx: Promise<void> | undefined;
  const idle = async () => {
    while (tx) await tx;
  };
  const inside = promised(ops, () => undefined);
  return {
    ...promised(ops, () => (tx ? idle() : undefined)),
    async atomically<T>(fn: (t: typeof inside) => Promise<T>): Promise<T> {
      await idle();
      let done!: () => void;
      tx = new Promise<void>((resolve) => (done = resolve));
      db.exec('BEGIN IMMEDIATE');
      try {
        const result = await fn(inside);
        db.exec('COMMIT');
        return result;
      } catch (err) {
        if (db.inTransaction) db.exec('ROLLBACK');
        throw err;
      } finally {
        tx = undefined;
        done();
      }
    },
    isOpen: () => db.open,
    async close() {
      await idle();
      db.close();
    },
  };
}

/** Alerts, their audit trail and the counts over them. */
function alertOps(db: Database.Database, q: Statements) {
  return {
    getAlert: (alertId: string) => withWhy(q.getAlert.get(alertId) as RawAlert | undefined),

    /** Record a new firing alert and its notices (one per recipient; none for most rules), atomically. */
    openAlert: db.transaction((event: AlertEvent, nowIso: string, notices: NewNotice[], nowMs: number, place: { site?: string; district?: string } = {}) => {
      q.insertAlert.run({ ...event, level: event.level ?? null, why: whyJson(event.why), firedAt: event.observedAt, updatedAt: nowIso, site: place.site ?? null, district: place.district ?? null, openedAt: nowMs });
      q.audit.run(event.alertId, nowIso, alertSource(event.ruleId), 'fired', event.reason);
      for (const n of notices) queue(q, n, nowMs);
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
        for (const n of notices) queue(q, n, nowMs);
      }
      return changed;
    }),

    /** Resolve an alert and queue its notices (one per recipient), atomically. */
    resolveAlert: db.transaction((event: Pick<AlertEvent, 'alertId' | 'observedAt' | 'value' | 'reason' | 'why'>, nowIso: string, notices: NewNotice[], nowMs: number, by = 'rules') => {
      q.resolveAlert.run({ alertId: event.alertId, resolvedAt: event.observedAt, value: event.value, reason: event.reason, why: whyJson(event.why), resolvedBy: by, updatedAt: nowIso });
      // "Until resolved" silences end with their alert, in the same transaction.
      q.endSilencesOf.run(nowMs, event.alertId);
      q.audit.run(event.alertId, nowIso, by, 'resolved', event.reason);
      for (const n of notices) queue(q, n, nowMs);
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
      for (const n of notices) queue(q, n, nowMs);
      return true;
    }),
    listAlerts(filter: AlertFilter): AlertRecord[] {
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

    /** Subjects with a firing alert, per rule (the console's city overview). */
    firingByRule: () => Object.fromEntries((q.firingByRule.all() as Array<{ ruleId: string; n: number }>).map((r) => [r.ruleId, r.n])) as Record<string, number>,
    /** Firing alerts per rule and district ('' where the subject has none). */
    firingByRuleDistrict: () => q.firingByRuleDistrict.all() as Array<{ ruleId: string; district: string; n: number }>,
  };
}

/** Silences, and the duty pages that wait to be grouped. */
function silenceAndPageOps(db: Database.Database, q: Statements) {
  return {
    activeSilences: (nowMs: number) => q.silences.all(nowMs) as Silence[],
    recentSilences: (limit: number) => q.recentSilences.all(limit) as Silence[],
    addSilence: (s: NewSilence) => Number(q.addSilence.run(s).lastInsertRowid),
    /** Several silences in one transaction (a group): their ids. */
    addSilences: db.transaction((list: Array<NewSilence>) => list.map((s) => Number(q.addSilence.run(s).lastInsertRowid))),
    endSilence: (id: number, nowMs: number) => q.endSilence.run(nowMs, id).changes === 1,

    /**
     * Turn every group of waiting duty-channel messages whose first message is older than the
     * window into one outbox notice (rendered by `render`), in one transaction. Returns how many.
     */
    flushPages: db.transaction((nowMs: number, windowMs: number, render: PageRenderer): number => {
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
    pendingPages: () => (q.pendingPages.get() as { n: number }).n,
  };
}

/** The outbox: notices, their delivery state and their attempts. */
function noticeOps(db: Database.Database, q: Statements) {
  return {
    listNotices(filter: NoticeFilter): NoticeRecord[] {
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
    nextNoticeSequence: (subjectId: string) => (q.nextSequence.get(subjectId) as { last: number }).last,
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
    /** Notices waiting for delivery, and when the oldest of them was queued (null: none). */
    backlog: () => q.backlog.get() as { n: number; oldest: number | null },
    noticeCounts: () => Object.fromEntries((q.countByStatus.all() as Array<{ status: string; n: number }>).map((r) => [r.status, r.n])),
  };
}
