/**
 * A closure notice as an OASIS CAP 1.2 alert (Common Alerting Protocol), for recipients that take
 * CAP rather than floodgate's JSON contract. Valid against CAP-v1.2.xsd (checked with xmllint in
 * alerts/test/cap.test.ts). Element order follows the schema's sequences; every time carries an
 * explicit ±hh:mm offset and whole seconds, as the schema's pattern requires
 * (`\d\d\d\d-\d\d-\d\dT\d\d:\d\d:\d\d[-,+]\d\d:\d\d`, CAP 1.2 §3.3.2).
 */
import type { ClosureNotice } from '../contracts/index.ts';

export const CAP_CONTENT_TYPE = 'application/cap+xml; charset=utf-8';

const ESC: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };
// XML 1.0 allows no control characters but tab, newline and carriage return.
// eslint-disable-next-line no-control-regex
const escape = (s: string) => s.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '').replace(/[&<>"']/g, (c) => ESC[c]!);

/** `2026-07-01T18:03:00.123+08:00` → `2026-07-01T18:03:00+08:00` (CAP has no fractional seconds). */
export function capTime(iso: string): string {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.\d+)?(Z|[+-]\d{2}:\d{2})$/.exec(iso);
  if (!m) throw new Error(`not an ISO time with an offset: ${iso}`);
  return `${m[1]}${m[2] === 'Z' ? '+00:00' : m[2]}`; // CAP writes UTC as +00:00, never Z
}

export interface CapOptions {
  /** The sender id (CAP `sender`), e.g. `floodgate@shanghai.example`. */
  sender: string;
  senderName: string;
  /** The close this reopen follows (CAP `references`: sender,identifier,sent). */
  references?: { identifier: string; sent: string };
}

const el = (name: string, value: string | number) => `<${name}>${escape(String(value))}</${name}>`;

export function toCap(n: ClosureNotice, opts: CapOptions): string {
  const close = n.action === 'close';
  const u = n.underpass;
  const place = `${u.name}${u.road ? `（${u.road}）` : ''}`;
  const info = [
    el('language', 'zh-CN'),
    el('category', 'Transport'),
    el('category', 'Met'),
    el('event', close ? '下立交积水封闭 Underpass closure (ponding)' : '下立交恢复通行 Underpass reopened'),
    el('responseType', close ? 'Avoid' : 'AllClear'),
    el('urgency', close ? 'Immediate' : 'Past'),
    el('severity', close ? 'Severe' : 'Minor'),
    el('certainty', 'Observed'),
    el('audience', 'traffic police'),
    el('onset', capTime(n.observedAt)),
    el('senderName', opts.senderName),
    el('headline', close ? `封闭 ${place}：积水 ${n.depthCm} cm` : `恢复通行 ${place}：积水 ${n.depthCm} cm`),
    el('description', n.reason),
    el('instruction', close ? `Close ${u.name} to traffic: ponding ${n.depthCm} cm above ${n.thresholdCm} cm.` : `Reopen ${u.name}: ponding ${n.depthCm} cm, below ${n.thresholdCm} cm.`),
    `<parameter>${el('valueName', 'depthCm')}${el('value', n.depthCm)}</parameter>`,
    `<parameter>${el('valueName', 'thresholdCm')}${el('value', n.thresholdCm)}</parameter>`,
    `<parameter>${el('valueName', 'underpassId')}${el('value', u.id)}</parameter>`,
    `<parameter>${el('valueName', 'alertId')}${el('value', n.alertId)}</parameter>`,
    `<parameter>${el('valueName', 'sequence')}${el('value', n.sequence)}</parameter>`,
    `<parameter>${el('valueName', 'epoch')}${el('value', n.epoch)}</parameter>`,
    // A 100 m circle around the underpass: CAP circle = "lat,lon radius_km" (WGS 84).
    `<area>${el('areaDesc', `${place}, ${u.district}`)}${el('circle', `${u.lat},${u.lon} 0.1`)}</area>`,
  ].join('');
  const alert = [
    el('identifier', n.noticeId),
    el('sender', opts.sender),
    el('sent', capTime(n.issuedAt)),
    el('status', 'Actual'),
    el('msgType', close ? 'Alert' : 'Update'),
    el('scope', 'Restricted'),
    el('restriction', 'traffic police and road administration'),
    ...(opts.references ? [el('references', `${opts.sender},${opts.references.identifier},${capTime(opts.references.sent)}`)] : []),
    el('incidents', n.alertId),
    `<info>${info}</info>`,
  ].join('');
  return `<?xml version="1.0" encoding="UTF-8"?>\n<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">${alert}</alert>\n`;
}
