/**
 * Delivery channels behind one interface: how a stored message becomes an HTTP request, and what
 * the answer means. Police notices (floodgate's JSON contract, CAP 1.2) and the duty officers'
 * channels (a generic signed webhook, a WeCom group robot, a DingTalk group robot) are all
 * channels; the outbox does not know the difference. Pure: no I/O here (police-notifier.ts sends).
 *
 * The robots answer HTTP 200 even when they refuse a message, with `errcode` in the body: that is
 * read here, so a rate-limited robot message is retried and a misconfigured one fails for good.
 */
import { createHmac } from 'node:crypto';
import { NOTICE_HEADERS, signNotice } from '../contracts/index.ts';
import { parseRetryAfter } from '../lib/backoff.ts';
import type { DeliveryResult } from './transitions.ts';
import { CAP_CONTENT_TYPE } from './cap.ts';

export const CHANNEL_FORMATS = ['json', 'cap', 'webhook', 'wecom', 'dingtalk'] as const;
export type ChannelFormat = (typeof CHANNEL_FORMATS)[number];

export interface ChannelRequest {
  url: string;
  headers: Record<string, string>;
}

export interface Channel {
  format: ChannelFormat;
  /** The request for a stored body: URL (the DingTalk signature goes there) and headers. */
  request(target: { url: string; secret: string }, noticeId: string, body: string, nowMs: number): ChannelRequest;
  /** What an answer means: delivered, retried (with Retry-After), or failed for good. */
  interpret(status: number, responseBody: string, retryAfter: string | null, nowMs: number): DeliveryResult;
}

const JSON_TYPE = 'application/json; charset=utf-8';

/** floodgate's signed POST (DESIGN.md, Closure notice): Idempotency-Key, timestamp, HMAC. */
function signedHeaders(contentType: string, secret: string, noticeId: string, body: string, nowMs: number): Record<string, string> {
  const ts = Math.floor(nowMs / 1000);
  return {
    'content-type': contentType,
    [NOTICE_HEADERS.idempotencyKey]: noticeId,
    [NOTICE_HEADERS.timestamp]: String(ts),
    [NOTICE_HEADERS.signature]: signNotice(secret, ts, body),
  };
}

const byStatus = (status: number, retryAfter: string | null, nowMs: number): DeliveryResult => ({ kind: 'response', status, retryAfterMs: parseRetryAfter(retryAfter, nowMs) });

/**
 * A robot's answer: HTTP status first, then its `errcode`. Rate limits become 429 (retried),
 * other refusals 400 (failed for good, with the robot's message).
 */
function robotAnswer(status: number, body: string, retryAfter: string | null, nowMs: number, rateLimited: Set<number>): DeliveryResult {
  if (status < 200 || status >= 300) return byStatus(status, retryAfter, nowMs);
  let answer: { errcode?: unknown; errmsg?: unknown };
  try {
    answer = JSON.parse(body) as typeof answer;
  } catch {
    return { kind: 'response', status: 502, retryAfterMs: undefined, detail: 'the robot answered without JSON' };
  }
  const code = typeof answer.errcode === 'number' ? answer.errcode : -1;
  if (code === 0) return { kind: 'response', status, retryAfterMs: undefined };
  const detail = `errcode ${code}: ${String(answer.errmsg ?? '')}`.slice(0, 300);
  return rateLimited.has(code) ? { kind: 'response', status: 429, retryAfterMs: 60_000, detail } : { kind: 'response', status: 400, retryAfterMs: undefined, detail };
}

/** DingTalk's signed URL: sign = urlencode(base64(HMAC-SHA256(secret, `${ts}\n${secret}`))), ts in ms. */
export function dingtalkSign(secret: string, timestampMs: number): string {
  return encodeURIComponent(createHmac('sha256', secret).update(`${timestampMs}\n${secret}`).digest('base64'));
}

/** A channel speaking floodgate's signed POST: the answer is its HTTP status. */
const signed = (format: ChannelFormat, contentType: string): Channel => ({
  format,
  request: (t, id, body, now) => ({ url: t.url, headers: signedHeaders(contentType, t.secret, id, body, now) }),
  interpret: (status, _b, retryAfter, now) => byStatus(status, retryAfter, now),
});

export const CHANNELS: Record<ChannelFormat, Channel> = {
  json: signed('json', JSON_TYPE),
  cap: signed('cap', CAP_CONTENT_TYPE),
  webhook: signed('webhook', JSON_TYPE),
  // WeCom group robot: the key is in the URL; errcode 45009 = frequency limit (20 messages/min).
  wecom: {
    format: 'wecom',
    request: (t) => ({ url: t.url, headers: { 'content-type': JSON_TYPE } }),
    interpret: (status, body, retryAfter, now) => robotAnswer(status, body, retryAfter, now, new Set([45009])),
  },
  // DingTalk group robot with "加签": timestamp + sign appended to the access_token URL;
  // errcode 130101 = sending too fast, 410100 = flow control.
  dingtalk: {
    format: 'dingtalk',
    request: (t, _id, _body, now) => ({ url: `${t.url}${t.url.includes('?') ? '&' : '?'}timestamp=${now}&sign=${dingtalkSign(t.secret, now)}`, headers: { 'content-type': JSON_TYPE } }),
    interpret: (status, body, retryAfter, now) => robotAnswer(status, body, retryAfter, now, new Set([130101, 410100])),
  },
};

/** What the duty officers' channels carry about an alert transition. */
export interface DutyMessage {
  alertId: string;
  ruleId: string;
  subjectId: string;
  /** Where: the site's name and district, when known. */
  place: string;
  state: 'firing' | 'resolved' | 'update' | 'escalated';
  severity: string;
  level?: string;
  value: number;
  unit: string;
  reason: string;
  observedAt: string;
  /** A link to the alert in the console, when the console's address is configured. */
  link?: string;
}

const STATE_ZH: Record<DutyMessage['state'], string> = { firing: '告警', update: '变化', resolved: '解除', escalated: '升级·无人确认' };
const SEVERITY_ZH: Record<string, string> = { critical: '严重', warning: '警告', info: '提示' };

function headline(m: DutyMessage): string {
  return `【${STATE_ZH[m.state]}·${SEVERITY_ZH[m.severity] ?? m.severity}】${m.ruleId}${m.level ? ` ${m.level}` : ''} ${m.subjectId} ${m.place}`;
}

function markdown(m: DutyMessage, maxBytes: number): string {
  const lines = [
    `### ${headline(m)}`,
    `> ${m.state === 'escalated' ? 'not acknowledged: escalated' : m.state === 'update' ? 'changed' : m.state} / ${m.severity}${m.level ? ` / ${m.level}` : ''}`,
    `**${m.value} ${m.unit}** · ${m.observedAt}`,
    m.reason,
    ...(m.link ? [`[console](${m.link})`] : []),
  ];
  return truncateBytes(lines.join('\n\n'), maxBytes);
}

/** Cut to at most `max` UTF-8 bytes without splitting a character (robots count bytes). */
export function truncateBytes(s: string, max: number): string {
  const b = Buffer.from(s, 'utf8');
  if (b.length <= max) return s;
  let end = max - 3;
  while (end > 0 && (b[end]! & 0xc0) === 0x80) end--; // not inside a multi-byte character
  return `${b.subarray(0, end).toString('utf8')}…`;
}

/** The body a duty-officer channel sends, rendered once when the message is queued. */
export function renderDuty(format: 'webhook' | 'wecom' | 'dingtalk', m: DutyMessage): string {
  if (format === 'wecom') return JSON.stringify({ msgtype: 'markdown', markdown: { content: markdown(m, 4096) } });
  if (format === 'dingtalk') return JSON.stringify({ msgtype: 'markdown', markdown: { title: truncateBytes(headline(m), 200), text: markdown(m, 5000) } });
  return JSON.stringify({ type: 'floodgate.alert', ...m });
}

/**
 * One page for a group of messages of the same state, rule and district (a district storm: one
 * page listing its underpasses, not fifty pages). A group of one is the single message.
 */
export function renderDutyGroup(format: ChannelFormat, messages: DutyMessage[]): string {
  const f = format === 'wecom' || format === 'dingtalk' ? format : 'webhook';
  if (messages.length === 1) return renderDuty(f, messages[0]!);
  const m = messages[0]!;
  const title = `【${STATE_ZH[m.state]}·${SEVERITY_ZH[m.severity] ?? m.severity}】${m.ruleId} ×${messages.length} ${m.place.replace(/^.*（(.*)）$/, '$1')}`;
  const lines = messages.map((x) => `- **${x.subjectId}** ${x.place} ${x.value} ${x.unit}${x.level ? ` ${x.level}` : ''} — ${x.reason}`);
  if (f === 'wecom') return JSON.stringify({ msgtype: 'markdown', markdown: { content: truncateBytes([`### ${title}`, ...lines].join('\n'), 4096) } });
  if (f === 'dingtalk') return JSON.stringify({ msgtype: 'markdown', markdown: { title: truncateBytes(title, 200), text: truncateBytes([`### ${title}`, ...lines].join('\n\n'), 5000) } });
  return JSON.stringify({ type: 'floodgate.alert-group', state: m.state, ruleId: m.ruleId, count: messages.length, members: messages });
}
