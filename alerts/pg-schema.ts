/**
 * The PostgreSQL alerts store's schema, as numbered migrations of the `alerts` component
 * (lib/pg-migrate.ts). The same tables as the SQLite store (./sqlite-schema.ts), in PostgreSQL's
 * types: times in ms as bigint, ISO times as text (returned exactly as written), ids as identity.
 */
import type { Migration } from '../lib/pg-migrate.ts';

export const ALERTS_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'alerts-outbox-silences-pages',
    sql: `
CREATE TABLE alerts (
  alert_id text PRIMARY KEY, rule_id text NOT NULL, subject_id text NOT NULL, sensor_id text NOT NULL,
  state text NOT NULL, severity text NOT NULL, level text, value double precision NOT NULL, threshold double precision NOT NULL,
  unit text NOT NULL, reason text NOT NULL, why text, fired_at text NOT NULL, resolved_at text, acked_at text, acked_by text,
  ack_note text, updated_at text NOT NULL, site text, district text, opened_at bigint, escalated_at text, resolved_by text);
CREATE INDEX alerts_state ON alerts (state, fired_at);
CREATE INDEX alerts_state_rule ON alerts (state, rule_id);
CREATE TABLE alert_audit (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, alert_id text NOT NULL, at text NOT NULL, who text NOT NULL, action text NOT NULL, note text);
CREATE INDEX alert_audit_alert ON alert_audit (alert_id, id);
CREATE TABLE pages (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, channel text NOT NULL, format text NOT NULL, url text NOT NULL, secret_ref text NOT NULL,
  group_key text NOT NULL, state text NOT NULL, alert_id text NOT NULL, message text NOT NULL, created_at bigint NOT NULL,
  flushed boolean NOT NULL DEFAULT false);
CREATE INDEX pages_open ON pages (flushed, channel, group_key, id);
CREATE TABLE silences (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, rule_id text, sensor text, site text, district text, until bigint NOT NULL,
  reason text NOT NULL, created_by text NOT NULL, created_at bigint NOT NULL, ended_at bigint, alert_id text);
CREATE TABLE notices (
  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, notice_id text NOT NULL, recipient text NOT NULL, format text NOT NULL,
  alert_id text NOT NULL, subject_id text NOT NULL, action text NOT NULL, url text NOT NULL, secret_ref text NOT NULL,
  body text NOT NULL, status text NOT NULL DEFAULT 'pending', attempts integer NOT NULL DEFAULT 0,
  next_attempt_at bigint NOT NULL, last_error text, created_at bigint NOT NULL, queued_at bigint NOT NULL,
  delivered_at bigint, UNIQUE (notice_id, recipient));
CREATE INDEX notices_due ON notices (status, next_attempt_at);
CREATE INDEX notices_subject ON notices (subject_id, recipient, seq);
CREATE INDEX notices_alert ON notices (alert_id, seq);
CREATE TABLE notice_attempts (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, seq bigint NOT NULL, attempt integer NOT NULL, at bigint NOT NULL,
  outcome text NOT NULL, http_status integer, latency_ms integer NOT NULL, error text);
CREATE INDEX notice_attempts_seq ON notice_attempts (seq, id);
CREATE TABLE notice_sequences (subject_id text PRIMARY KEY, last bigint NOT NULL);`,
  },
];
