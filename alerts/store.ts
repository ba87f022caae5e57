/**
 * The alerts store: what the service keeps of alerts, their audit trail, silences, duty pages and
 * the outbox of notices, as records and one interface. The outbox lives in the store: a notice is
 * written in the same transaction as the alert transition that caused it, so neither exists
 * without the other, and delivery state survives restarts. The embedded implementation is SQLite
 * (sqlite-store.ts); every implementation passes the same contract tests (test/store-contract.ts).
 */
import type { ChannelFormat, DutyMessage } from './channels.ts';
import type { AlertEvent, Why } from '../contracts/index.ts';
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

export type NewSilence = Omit<Silence, 'id' | 'endedAt'>;

export interface AlertFilter {
  state?: AlertState;
  rule?: string;
  subject?: string;
  district?: string;
  severity?: string;
  acked?: boolean | undefined;
  limit: number;
}

export interface NoticeFilter {
  status?: NoticeStatus;
  subject?: string;
  alert?: string;
  limit: number;
}

/** An attempt's record as the outbox reports it (the store adds the outcome, and the time where not given). */
export type AttemptFacts = Omit<NoticeAttempt, 'outcome' | 'at' | 'error'>;

/** Renders a group of duty-channel messages into one message body (channels.ts). */
export type PageRenderer = (format: ChannelFormat, messages: DutyMessage[]) => string;

/**
 * What an alerts store does, written as plain calls; the store itself (`AlertStore`) offers each
 * of them asynchronously, since a server database (PostgreSQL, issue 21) answers over the network.
 * Each write is atomic on its own; `AlertStore.atomically` makes one transaction of many (a group
 * of alert events is one fsync).
 */
export interface AlertStoreOps {
  // Alerts and their audit trail.
  getAlert(alertId: string): AlertRecord | undefined;
  listAlerts(filter: AlertFilter): AlertRecord[];
  /** Record a new firing alert and its notices (one per recipient; none for most rules), atomically. */
  openAlert(event: AlertEvent, nowIso: string, notices: NewNotice[], nowMs: number, place?: { site?: string; district?: string }): void;
  /** A resolved alert that is true again (a resent notice failed again): firing, unacknowledged. */
  refireAlert(alertId: string, reason: string, nowIso: string, why?: Why): void;
  /** A firing alert changed level or severity (rain escalating): the record follows. False: not firing. */
  updateAlert(event: AlertEvent, nowIso: string, notices: NewNotice[], nowMs: number): boolean;
  /** Resolve an alert and queue its notices (one per recipient), atomically; its "until resolved" silences end. */
  resolveAlert(event: Pick<AlertEvent, 'alertId' | 'observedAt' | 'value' | 'reason' | 'why'>, nowIso: string, notices: NewNotice[], nowMs: number, by?: string): void;
  /** Acknowledge; false when already acknowledged (the first acknowledgement stands). */
  ack(alertId: string, ackedAt: string, ackedBy: string, ackNote: string | null): boolean;
  /** Acknowledge many (a group) in one transaction: which were acknowledged now, which before, which are unknown. */
  ackMany(alertIds: string[], ackedAt: string, ackedBy: string, ackNote: string | null): { acknowledged: string[]; already: string[]; unknown: string[] };
  addNote(alertId: string, at: string, who: string, note: string): void;
  auditOf(alertId: string): AuditEntry[];
  /** Critical, firing, unacknowledged, not yet escalated, recorded at or before `openedBefore`. */
  dueForEscalation(openedBefore: number): AlertRecord[];
  /** Mark escalated and queue its messages; false when it was escalated (or stopped firing) already. */
  markEscalated(alertId: string, nowIso: string, notices: NewNotice[], nowMs: number, note: string): boolean;
  /** Subjects with a firing alert, per rule (the console's city overview). */
  firingByRule(): Record<string, number>;
  /** Firing alerts per rule and district ('' where the subject has none). */
  firingByRuleDistrict(): Array<{ ruleId: string; district: string; n: number }>;

  // Silences.
  activeSilences(nowMs: number): Silence[];
  recentSilences(limit: number): Silence[];
  addSilence(s: NewSilence): number;
  /** Several silences in one transaction (a group): their ids. */
  addSilences(list: NewSilence[]): number[];
  endSilence(id: number, nowMs: number): boolean;

  // Duty pages waiting to be grouped.
  /**
   * Turn every group of waiting duty-channel messages whose first message is older than the
   * window into one outbox notice (rendered by `render`), in one transaction. Returns how many.
   */
  flushPages(nowMs: number, windowMs: number, render: PageRenderer): number;
  /** Duty-channel messages still waiting to be grouped. */
  pendingPages(): number;

  // The outbox.
  listNotices(filter: NoticeFilter): NoticeRecord[];
  /** The notices of firing alerts (the closure board's delivery column), oldest first. */
  noticesOfFiring(): NoticeRecord[];
  noticesOfAlert(alertId: string): NoticeRecord[];
  /**
   * Due notices whose subject has no earlier notice still undelivered to the same recipient: a
   * reopen never overtakes its close (DESIGN.md delivery guarantees); recipients do not wait for
   * each other.
   */
  dueNotices(nowMs: number, limit: number): NoticeRecord[];
  noticesBlockedBehindFailure(): NoticeRecord[];
  nextDueAt(): number | null;
  expiredNotices(queuedBefore: number): NoticeRecord[];
  getNotice(seq: number): NoticeRecord | undefined;
  findNotice(noticeId: string, recipient: string): NoticeRecord | undefined;
  /** The next number of a subject's notice sequence: only rises, kept with the notices (so across restarts and instances). */
  nextNoticeSequence(subjectId: string): number;
  attempts(seq: number): NoticeAttempt[];
  /** Each outcome is recorded with its attempt (time, HTTP status, latency) in one transaction. */
  markDelivered(seq: number, nowMs: number, a?: Omit<NoticeAttempt, 'outcome' | 'at'>): void;
  markRetry(seq: number, nextAt: number, error: string, a?: AttemptFacts & { at: number }): void;
  markFailed(seq: number, error: string, attempted: boolean, a?: AttemptFacts & { at: number }): void;
  /**
   * Send a failed notice again, with the notices behind it for the same underpass and recipient
   * that failed with it (in order: the close, then its reopen). Same notice id and body, so the
   * recipient's Idempotency-Key check still holds. Returns the re-queued seqs.
   */
  resend(seq: number, nowMs: number): number[];
  /** Notices waiting for delivery, and when the oldest of them was queued (null: none). */
  backlog(): { n: number; oldest: number | null };
  noticeCounts(): Record<string, number>;
}

/** Every operation of `T`, answering with a promise. */
export type Promised<T> = { [K in keyof T]: T[K] extends (...args: infer A) => infer R ? (...args: A) => Promise<Awaited<R>> : never };

/** The operations as one transaction sees them (inside `atomically`). */
export type AlertTx = Promised<AlertStoreOps>;

/**
 * The alerts store: embedded SQLite (./sqlite-store.ts) or PostgreSQL, one contract suite for
 * both (test/store-contract.ts).
 */
export interface AlertStore extends Promised<AlertStoreOps> {
  /** Run `fn` as one transaction with the operations it is given: all of its writes or none. */
  atomically<T>(fn: (tx: AlertTx) => Promise<T>): Promise<T>;
  /** Open and usable (the health check's `store`). */
  isOpen(): boolean;
  close(): Promise<void>;
}
