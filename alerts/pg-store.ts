/**
 * The alerts store in PostgreSQL (`FLOODGATE_DATABASE_URL`): the same operations and the same
 * records as the embedded SQLite store, checked by the same contract suite
 * (test/store-contract.ts), so the instances of an HA deployment share alerts, silences and the
 * outbox. A write that SQLite makes in one transaction is one transaction here too; `atomically`
 * runs its function on one connection between BEGIN and COMMIT.
 */
import pg from 'pg';
import type { AlertEvent, Why } from '../contracts/index.ts';
import { migrate } from '../lib/pg-migrate.ts';
import { requireLease, type LeaseFence } from '../lib/pg-lease.ts';
import { alertSource } from './transitions.ts';
import { ALERTS_MIGRATIONS } from './pg-schema.ts';
import type { AlertFilter, AlertRecord, AlertStore, AlertTx, AuditEntry, NewNotice, NewSilence, NoticeAttempt, NoticeFilter, NoticeRecord, PageRenderer, Silence } from './store.ts';
import type { ChannelFormat, DutyMessage } from './channels.ts';

const ALERT_COLS = `alert_id AS "alertId", rule_id AS "ruleId", subject_id AS "subjectId", sensor_id AS "sensorId", state, severity, level,
  value, threshold, unit, reason, fired_at AS "firedAt", resolved_at AS "resolvedAt", acked_at AS "ackedAt", acked_by AS "ackedBy",
  ack_note AS "ackNote", updated_at AS "updatedAt", site, district, opened_at AS "openedAt", escalated_at AS "escalatedAt", resolved_by AS "resolvedBy", why`;
const NOTICE_COLS = `seq, notice_id AS "noticeId", recipient, format, alert_id AS "alertId", subject_id AS "subjectId", action, url,
  secret_ref AS "secretRef", body, status, attempts, next_attempt_at AS "nextAttemptAt", last_error AS "lastError",
  created_at AS "createdAt", queued_at AS "queuedAt", delivered_at AS "deliveredAt"`;
const SILENCE_COLS = `id, rule_id AS "ruleId", sensor, site, district, until, reason, created_by AS "createdBy", created_at AS "createdAt",
  ended_at AS "endedAt", alert_id AS "alertId"`;

/** bigint (ms times, ids, counts) as numbers: every value here is far below 2^53. */
const TYPES = { getTypeParser: ((oid: number, format?: 'text' | 'binary') => (oid === 20 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format))) as typeof pg.types.getTypeParser };

type RawAlert = Omit<AlertRecord, 'why'> & { why: string | null };
const withWhy = (r: RawAlert): AlertRecord => ({ ...r, why: r.why === null ? null : (JSON.parse(r.why) as Why) });
const whyJson = (why: Why | undefined): string | null => (why ? JSON.stringify(why) : null);

/** A pool, or one connection inside a transaction. */
interface Db {
  rows<R>(text: string, values?: unknown[]): Promise<R[]>;
  /** Rows changed. */
  run(text: string, values?: unknown[]): Promise<number>;
  /** `fn` in one transaction (on a connection already in one: simply run). */
  atomic<T>(fn: (db: Db) => Promise<T>): Promise<T>;
}

function onConnection(c: pg.PoolClient | pg.Pool, atomic: Db['atomic']): Db {
  return {
    rows: async <R>(text: string, values: unknown[] = []) => (await c.query({ text, values, types: TYPES })).rows as R[],
    run: async (text, values = []) => (await c.query({ text, values, types: TYPES })).rowCount ?? 0,
    atomic,
  };
}

function poolDb(pool: pg.Pool, fence: LeaseFence | undefined): Db {
  const self: Db = onConnection(pool, async (fn) => {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      if (fence) await requireLease(client, fence);
      const inTx: Db = onConnection(client, (inner) => inner(inTx));
      const result = await fn(inTx);
      await client.query('COMMIT');
      client.release();
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      client.release(true); // the connection may be broken: never reuse it
      throw err;
    }
  });
  return self;
}

const INSERT_NOTICE = `INSERT INTO notices (notice_id, recipient, format, alert_id, subject_id, action, url, secret_ref, body,
  next_attempt_at, created_at, queued_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $10) ON CONFLICT (notice_id, recipient) DO NOTHING`;

/** A police notice goes to the outbox at once; a duty-channel message waits to be grouped. */
async function queue(db: Db, n: NewNotice, nowMs: number): Promise<void> {
  if (n.page) {
    await db.run(`INSERT INTO pages (channel, format, url, secret_ref, group_key, state, alert_id, message, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, [n.recipient, n.format, n.url, n.secretRef, n.page.groupKey, n.action, n.alertId, JSON.stringify(n.page.message), nowMs]);
  } else await db.run(INSERT_NOTICE, [n.noticeId, n.recipient, n.format, n.alertId, n.subjectId, n.action, n.url, n.secretRef, n.body, nowMs]);
}

const audit = (db: Db, alertId: string, at: string, who: string, action: AuditEntry['action'], note: string | null) => db.run('INSERT INTO alert_audit (alert_id, at, who, action, note) VALUES ($1, $2, $3, $4, $5)', [alertId, at, who, action, note]);

/** WHERE from equality filters, with $n placeholders after `args`. */
function where(pairs: Array<readonly [string, string | number | undefined]>, args: unknown[], extra: string[] = []): string {
  const conds = [...extra];
  for (const [col, v] of pairs) {
    if (v === undefined) continue;
    args.push(v);
    conds.push(`${col} = $${args.length}`);
  }
  return conds.length ? `WHERE ${conds.join(' AND ')}` : '';
}

function alertOps(db: Db) {
  const getAlert = async (alertId: string) => {
    const [r] = await db.rows<RawAlert>(`SELECT ${ALERT_COLS} FROM alerts WHERE alert_id = $1`, [alertId]);
    return r ? withWhy(r) : undefined;
  };
  const ackOne = async (d: Db, alertId: string, ackedAt: string, ackedBy: string, ackNote: string | null) => {
    const done = (await d.run(`UPDATE alerts SET acked_at = $2, acked_by = $3, ack_note = $4, updated_at = $2 WHERE alert_id = $1 AND acked_at IS NULL`, [alertId, ackedAt, ackedBy, ackNote])) === 1;
    if (done) await audit(d, alertId, ackedAt, ackedBy, 'acknowledged', ackNote);
    return done;
  };
  return {
    getAlert,
    openAlert: (event: AlertEvent, nowIso: string, notices: NewNotice[], nowMs: number, place: { site?: string; district?: string } = {}) =>
      db.atomic(async (d) => {
        await d.run(
          `INSERT INTO alerts (alert_id, rule_id, subject_id, sensor_id, state, severity, level, value, threshold, unit, reason, why, fired_at,
            updated_at, site, district, opened_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`,
          [event.alertId, event.ruleId, event.subjectId, event.sensorId, event.state, event.severity, event.level ?? null, event.value, event.threshold, event.unit, event.reason, whyJson(event.why), event.observedAt, nowIso, place.site ?? null, place.district ?? null, nowMs],
        );
        await audit(d, event.alertId, nowIso, alertSource(event.ruleId), 'fired', event.reason);
        for (const n of notices) await queue(d, n, nowMs);
      }),
    refireAlert: (alertId: string, reason: string, nowIso: string, why?: Why) =>
      db.atomic(async (d) => {
        await d.run(`UPDATE alerts SET state = 'firing', resolved_at = NULL, acked_at = NULL, acked_by = NULL, ack_note = NULL, reason = $2, why = $3, updated_at = $4 WHERE alert_id = $1`, [alertId, reason, whyJson(why), nowIso]);
        await audit(d, alertId, nowIso, 'outbox', 'fired again', reason);
      }),
    updateAlert: (event: AlertEvent, nowIso: string, notices: NewNotice[], nowMs: number) =>
      db.atomic(async (d) => {
        const changed = (await d.run(`UPDATE alerts SET severity = $2, level = $3, value = $4, threshold = $5, reason = $6, why = $7, updated_at = $8 WHERE alert_id = $1 AND state = 'firing'`, [event.alertId, event.severity, event.level ?? null, event.value, event.threshold, event.reason, whyJson(event.why), nowIso])) === 1;
        if (changed) {
          await audit(d, event.alertId, nowIso, alertSource(event.ruleId), 'changed', event.reason);
          for (const n of notices) await queue(d, n, nowMs);
        }
        return changed;
      }),
    resolveAlert: (event: Pick<AlertEvent, 'alertId' | 'observedAt' | 'value' | 'reason' | 'why'>, nowIso: string, notices: NewNotice[], nowMs: number, by = 'rules') =>
      db.atomic(async (d) => {
        await d.run(`UPDATE alerts SET state = 'resolved', resolved_at = $2, value = $3, reason = $4, why = $5, resolved_by = $6, updated_at = $7 WHERE alert_id = $1`, [event.alertId, event.observedAt, event.value, event.reason, whyJson(event.why), by, nowIso]);
        // "Until resolved" silences end with their alert, in the same transaction.
        await d.run('UPDATE silences SET ended_at = $1 WHERE alert_id = $2 AND ended_at IS NULL', [nowMs, event.alertId]);
        await audit(d, event.alertId, nowIso, by, 'resolved', event.reason);
        for (const n of notices) await queue(d, n, nowMs);
      }),
    ack: (alertId: string, ackedAt: string, ackedBy: string, ackNote: string | null) => db.atomic((d) => ackOne(d, alertId, ackedAt, ackedBy, ackNote)),
    ackMany: (alertIds: string[], ackedAt: string, ackedBy: string, ackNote: string | null) =>
      db.atomic(async (d) => {
        const r = { acknowledged: [] as string[], already: [] as string[], unknown: [] as string[] };
        for (const alertId of alertIds) {
          if (await ackOne(d, alertId, ackedAt, ackedBy, ackNote)) r.acknowledged.push(alertId);
          else ((await d.rows('SELECT 1 FROM alerts WHERE alert_id = $1', [alertId])).length ? r.already : r.unknown).push(alertId);
        }
        return r;
      }),
    addNote: async (alertId: string, at: string, who: string, note: string) => void (await audit(db, alertId, at, who, 'note', note)),
    auditOf: (alertId: string) => db.rows<AuditEntry>('SELECT at, who, action, note FROM alert_audit WHERE alert_id = $1 ORDER BY id', [alertId]),
    dueForEscalation: async (openedBefore: number) =>
      (await db.rows<RawAlert>(`SELECT ${ALERT_COLS} FROM alerts WHERE state = 'firing' AND severity = 'critical' AND acked_at IS NULL AND escalated_at IS NULL AND opened_at IS NOT NULL AND opened_at <= $1`, [openedBefore])).map(withWhy),
    markEscalated: (alertId: string, nowIso: string, notices: NewNotice[], nowMs: number, note: string) =>
      db.atomic(async (d) => {
        if ((await d.run(`UPDATE alerts SET escalated_at = $1, updated_at = $1 WHERE alert_id = $2 AND escalated_at IS NULL AND state = 'firing'`, [nowIso, alertId])) === 0) return false;
        await audit(d, alertId, nowIso, 'system', 'escalated', note);
        for (const n of notices) await queue(d, n, nowMs);
        return true;
      }),
    async listAlerts(filter: AlertFilter): Promise<AlertRecord[]> {
      const args: unknown[] = [];
      const acked = filter.acked === undefined ? [] : [filter.acked ? 'acked_at IS NOT NULL' : 'acked_at IS NULL'];
      const w = where([['state', filter.state], ['rule_id', filter.rule], ['subject_id', filter.subject], ['district', filter.district], ['severity', filter.severity]], args, acked);
      args.push(filter.limit);
      return (await db.rows<RawAlert>(`SELECT ${ALERT_COLS} FROM alerts ${w} ORDER BY updated_at DESC LIMIT $${args.length}`, args)).map(withWhy);
    },
    firingByRule: async () => Object.fromEntries((await db.rows<{ ruleId: string; n: number }>(`SELECT rule_id AS "ruleId", count(DISTINCT subject_id) AS n FROM alerts WHERE state = 'firing' GROUP BY rule_id`)).map((r) => [r.ruleId, r.n])) as Record<string, number>,
    firingByRuleDistrict: () => db.rows<{ ruleId: string; district: string; n: number }>(`SELECT rule_id AS "ruleId", coalesce(district, '') AS district, count(*) AS n FROM alerts WHERE state = 'firing' GROUP BY rule_id, district`),
  };
}

function silenceAndPageOps(db: Db) {
  const addSilence = async (d: Db, s: NewSilence) =>
    (await d.rows<{ id: number }>(`INSERT INTO silences (rule_id, sensor, site, district, until, reason, created_by, created_at, alert_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`, [s.ruleId, s.sensor, s.site, s.district, s.until, s.reason, s.createdBy, s.createdAt, s.alertId]))[0]!.id;
  return {
    activeSilences: (nowMs: number) => db.rows<Silence>(`SELECT ${SILENCE_COLS} FROM silences WHERE ended_at IS NULL AND until > $1 ORDER BY id`, [nowMs]),
    recentSilences: (limit: number) => db.rows<Silence>(`SELECT ${SILENCE_COLS} FROM silences ORDER BY id DESC LIMIT $1`, [limit]),
    addSilence: (s: NewSilence) => addSilence(db, s),
    addSilences: (list: NewSilence[]) =>
      db.atomic(async (d) => {
        const ids: number[] = [];
        for (const s of list) ids.push(await addSilence(d, s));
        return ids;
      }),
    endSilence: async (id: number, nowMs: number) => (await db.run('UPDATE silences SET ended_at = $1 WHERE id = $2 AND ended_at IS NULL', [nowMs, id])) === 1,
    flushPages: (nowMs: number, windowMs: number, render: PageRenderer) =>
      db.atomic(async (d) => {
        const groups = await d.rows<{ channel: string; groupKey: string; firstId: number }>(`SELECT channel, group_key AS "groupKey", min(id) AS "firstId" FROM pages WHERE NOT flushed GROUP BY channel, group_key HAVING min(created_at) <= $1 ORDER BY "firstId"`, [nowMs - windowMs]);
        for (const g of groups) {
          const rows = await d.rows<{ format: ChannelFormat; url: string; secretRef: string; state: NewNotice['action']; alertId: string; message: string }>(`SELECT format, url, secret_ref AS "secretRef", state, alert_id AS "alertId", message FROM pages WHERE NOT flushed AND channel = $1 AND group_key = $2 ORDER BY id`, [g.channel, g.groupKey]);
          const first = rows[0]!;
          const messages = rows.map((r) => JSON.parse(r.message) as DutyMessage);
          const noticeId = rows.length === 1 ? `${first.alertId}:${first.state}:${g.firstId}` : `page:${g.groupKey}:${g.firstId}`;
          await d.run(INSERT_NOTICE, [noticeId, g.channel, first.format, first.alertId, g.groupKey, first.state, first.url, first.secretRef, render(first.format, messages), nowMs]);
          await d.run('UPDATE pages SET flushed = true WHERE NOT flushed AND channel = $1 AND group_key = $2', [g.channel, g.groupKey]);
        }
        return groups.length;
      }),
    pendingPages: async () => (await db.rows<{ n: number }>('SELECT count(*) AS n FROM pages WHERE NOT flushed'))[0]!.n,
  };
}

function noticeOps(db: Db) {
  const addAttempt = (d: Db, seq: number, at: number, outcome: NoticeAttempt['outcome'], a: { attempt: number; httpStatus: number | null; latencyMs: number }, error: string | null) =>
    d.run('INSERT INTO notice_attempts (seq, attempt, at, outcome, http_status, latency_ms, error) VALUES ($1, $2, $3, $4, $5, $6, $7)', [seq, a.attempt, at, outcome, a.httpStatus, a.latencyMs, error]);
  const one = async (text: string, values: unknown[]) => (await db.rows<NoticeRecord>(text, values))[0];
  return {
    async listNotices(filter: NoticeFilter): Promise<NoticeRecord[]> {
      const args: unknown[] = [];
      const w = where([['status', filter.status], ['subject_id', filter.subject], ['alert_id', filter.alert]], args);
      args.push(filter.limit);
      return db.rows<NoticeRecord>(`SELECT ${NOTICE_COLS} FROM notices ${w} ORDER BY seq DESC LIMIT $${args.length}`, args);
    },
    noticesOfFiring: () => db.rows<NoticeRecord>(`SELECT ${NOTICE_COLS} FROM notices WHERE alert_id IN (SELECT alert_id FROM alerts WHERE state = 'firing') ORDER BY seq`),
    noticesOfAlert: (alertId: string) => db.rows<NoticeRecord>(`SELECT ${NOTICE_COLS} FROM notices WHERE alert_id = $1 ORDER BY seq`, [alertId]),
    // Due notices whose subject has no earlier notice still undelivered to the same recipient: a
    // reopen never overtakes its close (DESIGN.md delivery guarantees).
    dueNotices: (nowMs: number, limit: number) =>
      db.rows<NoticeRecord>(`SELECT ${NOTICE_COLS} FROM notices n WHERE status = 'pending' AND next_attempt_at <= $1 AND NOT EXISTS (SELECT 1 FROM notices p
        WHERE p.subject_id = n.subject_id AND p.recipient = n.recipient AND p.seq < n.seq AND p.status != 'delivered') ORDER BY seq LIMIT $2`, [nowMs, limit]),
    noticesBlockedBehindFailure: () =>
      db.rows<NoticeRecord>(`SELECT ${NOTICE_COLS} FROM notices n WHERE status = 'pending' AND EXISTS (SELECT 1 FROM notices p
        WHERE p.subject_id = n.subject_id AND p.recipient = n.recipient AND p.seq < n.seq AND p.status = 'failed') ORDER BY seq`),
    nextDueAt: async () => (await db.rows<{ t: number | null }>(`SELECT min(next_attempt_at) AS t FROM notices WHERE status = 'pending'`))[0]!.t,
    expiredNotices: (queuedBefore: number) => db.rows<NoticeRecord>(`SELECT ${NOTICE_COLS} FROM notices WHERE status = 'pending' AND queued_at < $1 ORDER BY seq`, [queuedBefore]),
    getNotice: (seq: number) => one(`SELECT ${NOTICE_COLS} FROM notices WHERE seq = $1`, [seq]),
    findNotice: (noticeId: string, recipient: string) => one(`SELECT ${NOTICE_COLS} FROM notices WHERE notice_id = $1 AND recipient = $2`, [noticeId, recipient]),
    nextNoticeSequence: async (subjectId: string) =>
      (await db.rows<{ last: number }>(`INSERT INTO notice_sequences (subject_id, last) VALUES ($1, 1) ON CONFLICT (subject_id) DO UPDATE SET last = notice_sequences.last + 1 RETURNING last`, [subjectId]))[0]!.last,
    attempts: (seq: number) => db.rows<NoticeAttempt>(`SELECT attempt, at, outcome, http_status AS "httpStatus", latency_ms AS "latencyMs", error FROM notice_attempts WHERE seq = $1 ORDER BY id`, [seq]),
    markDelivered: (seq: number, nowMs: number, a?: Omit<NoticeAttempt, 'outcome' | 'at'>) =>
      db.atomic(async (d) => {
        await d.run(`UPDATE notices SET status = 'delivered', attempts = attempts + 1, delivered_at = $1, last_error = NULL WHERE seq = $2`, [nowMs, seq]);
        if (a) await addAttempt(d, seq, nowMs, 'delivered', a, a.error);
      }),
    markRetry: (seq: number, nextAt: number, error: string, a?: Omit<NoticeAttempt, 'outcome' | 'at' | 'error'> & { at: number }) =>
      db.atomic(async (d) => {
        await d.run('UPDATE notices SET attempts = attempts + 1, next_attempt_at = $1, last_error = $2 WHERE seq = $3', [nextAt, error, seq]);
        if (a) await addAttempt(d, seq, a.at, 'retry', a, error);
      }),
    markFailed: (seq: number, error: string, attempted: boolean, a?: Omit<NoticeAttempt, 'outcome' | 'at' | 'error'> & { at: number }) =>
      db.atomic(async (d) => {
        await d.run(`UPDATE notices SET status = 'failed', attempts = attempts + $1, last_error = $2 WHERE seq = $3`, [attempted ? 1 : 0, error, seq]);
        if (a) await addAttempt(d, seq, a.at, 'failed', a, error);
      }),
    resend: (seq: number, nowMs: number) =>
      db.atomic(async (d) => {
        const [n] = await d.rows<NoticeRecord>(`SELECT ${NOTICE_COLS} FROM notices WHERE seq = $1 FOR UPDATE`, [seq]);
        if (!n || n.status !== 'failed') return [];
        const seqs = (await d.rows<{ seq: number }>(`SELECT seq FROM notices WHERE subject_id = $1 AND recipient = $2 AND seq >= $3 AND status = 'failed' ORDER BY seq`, [n.subjectId, n.recipient, seq])).map((r) => r.seq);
        for (const s of seqs) await d.run(`UPDATE notices SET status = 'pending', next_attempt_at = $1, queued_at = $1, last_error = NULL WHERE seq = $2 AND status = 'failed'`, [nowMs, s]);
        return seqs;
      }),
    backlog: async () => (await db.rows<{ n: number; oldest: number | null }>(`SELECT count(*) AS n, min(queued_at) AS oldest FROM notices WHERE status = 'pending'`))[0]!,
    noticeCounts: async () => Object.fromEntries((await db.rows<{ status: string; n: number }>('SELECT status, count(*) AS n FROM notices GROUP BY status')).map((r) => [r.status, r.n])) as Record<string, number>,
  };
}

function opsOn(db: Db): AlertTx {
  return { ...alertOps(db), ...silenceAndPageOps(db), ...noticeOps(db) };
}

/**
 * The store on `pool` (the caller's: `close` leaves it open), migrated first. With a `fence` (an
 * HA deployment's alerts lease), `atomically` commits only while this instance holds the lease at
 * its epoch: the transitions taken from alert events, and a resolve by hand, make the police
 * notices, and a replaced leader must not make them after its successor (LEASE_LOST). Single
 * writes (an officer's acknowledgement, a silence) are not fenced: any instance may take them.
 */
export async function openPgAlertStore(pool: pg.Pool, fence?: LeaseFence): Promise<AlertStore> {
  const c = await pool.connect();
  try {
    await migrate(c, 'alerts', ALERTS_MIGRATIONS);
  } finally {
    c.release();
  }
  const db = poolDb(pool, undefined);
  const fenced = fence ? poolDb(pool, fence) : db;
  let open = true;
  return {
    ...opsOn(db),
    atomically: (fn) => fenced.atomic((d) => fn(opsOn(d))),
    isOpen: () => open,
    close: async () => void (open = false),
  };
}
