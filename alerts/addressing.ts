/**
 * Who hears of an alert transition, and in what words: the police notices of a closure (one per
 * recipient of the underpass's district, in its format) and the duty officers' channel messages.
 * Pure: the registry index, the time and the earlier close (for a CAP reopen's reference) are
 * passed in; nothing here reads a store or a clock.
 */
import { ClosureNotice, type AlertEvent } from '../contracts/index.ts';
import { recipientsOf, type DutyChannel, type RegistryIndex } from '../config/registry.ts';
import { toCap } from './cap.ts';
import { noticeIdFor } from './transitions.ts';
import type { DutyMessage } from './channels.ts';
import type { NewNotice, NoticeRecord } from './store.ts';

/** Where an alert's subject is: for people (a name) and for silences and grouping (site and district ids). */
export interface Place {
  text: string;
  site: string | undefined;
  district: string | undefined;
}

export function placeOf(index: RegistryIndex, subjectId: string): Place {
  const site = index.site(subjectId) ?? index.siteOfSensor(subjectId);
  if (site) return { text: `${site.name}（${index.district(site.district)?.name ?? site.district}）`, site: site.id, district: site.district };
  const d = index.district(subjectId);
  return d ? { text: d.name, site: undefined, district: d.id } : { text: '', site: undefined, district: undefined };
}

export interface NoticeContext {
  index: RegistryIndex;
  /** The CAP sender (an e-mail-like id) and the city's name as its senderName. */
  capSender: string;
  city: string;
  /** When the notice is issued (ISO 8601 with offset). */
  issuedAt: string;
  /** The close notice already sent to a recipient (a CAP reopen references it). */
  closeSentTo(noticeId: string, recipient: string): NoticeRecord | undefined;
  /** The underpass's next notice sequence (the store's counter: it only rises, across restarts and instances). */
  nextSequence(subjectId: string): number;
  /** The issuing instance's leadership epoch (0 without a lease). */
  epoch: number;
}

/**
 * The police notices of a transition: one per recipient of the underpass's district, in its
 * format. `null` when the underpass or its district is not in the registry (no one to address).
 */
export function policeNotices(event: AlertEvent, action: 'close' | 'reopen' | null, ctx: NoticeContext): NewNotice[] | null {
  if (!action) return [];
  const site = ctx.index.site(event.subjectId);
  const district = site && ctx.index.district(site.district);
  if (!site || !district) return null;
  const noticeId = noticeIdFor(event.alertId, action);
  const notice = ClosureNotice.parse({
    noticeId,
    action,
    underpass: { id: site.id, name: site.name, road: site.road, district: district.id, lat: site.lat, lon: site.lon },
    depthCm: event.value,
    thresholdCm: event.threshold,
    observedAt: event.observedAt,
    issuedAt: ctx.issuedAt,
    alertId: event.alertId,
    reason: event.reason,
    sequence: ctx.nextSequence(site.id),
    epoch: ctx.epoch,
  });
  return recipientsOf(district).map((r) => {
    let body: string;
    if (r.format === 'cap') {
      // A reopen refers to the close it ends (CAP 1.2 references: sender,identifier,sent).
      const close = action === 'reopen' ? ctx.closeSentTo(noticeIdFor(event.alertId, 'close'), r.id) : undefined;
      const sent = close && /<sent>([^<]+)<\/sent>/.exec(close.body)?.[1];
      body = toCap(notice, { sender: ctx.capSender, senderName: ctx.city, ...(close && sent ? { references: { identifier: close.noticeId, sent } } : {}) });
    } else body = JSON.stringify(notice);
    return { noticeId, recipient: r.id, format: r.format, alertId: event.alertId, subjectId: site.id, action, url: r.url, secretRef: r.secretRef, body };
  });
}

export type DutyState = 'firing' | 'update' | 'resolved' | 'escalated';

/**
 * Messages for the duty officers' channels that carry this rule (and district): tier-1 channels
 * for every transition; an escalation goes to the tier-2 channels (or, without any, to tier 1).
 * The caller leaves out silenced alerts.
 */
export function dutyMessages(event: AlertEvent, state: DutyState, place: Place, channels: readonly DutyChannel[]): NewNotice[] {
  if (channels.length === 0) return [];
  const tier2 = channels.some((c) => c.tier === 2);
  const message: DutyMessage = { alertId: event.alertId, ruleId: event.ruleId, subjectId: event.subjectId, place: place.text, state, severity: event.severity, ...(event.level ? { level: event.level } : {}), value: event.value, unit: event.unit, reason: event.reason, observedAt: event.observedAt };
  return channels
    .filter((c) => (state === 'escalated' && tier2 ? c.tier === 2 : c.tier === 1))
    .filter((c) => c.rules.includes(event.ruleId) && (!c.districts || (place.district !== undefined && c.districts.includes(place.district))))
    .map((c) => ({
      noticeId: `${event.alertId}:${state}`, // the page gets its own id when it is flushed
      recipient: c.id,
      format: c.format,
      alertId: event.alertId,
      subjectId: event.subjectId,
      action: state,
      url: c.url,
      secretRef: c.secretRef ?? '',
      body: '',
      // Grouped with the others of the same state, rule and district (store.flushPages).
      page: { groupKey: `${state}|${event.ruleId}|${place.district ?? event.subjectId}`, message },
    }));
}
