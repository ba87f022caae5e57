/**
 * Who hears of a transition, with the registry as it is now (replaced as a whole when the file
 * changes): the police notices of a closure (numbered in the transition's transaction, carrying
 * the issuing instance's epoch), the duty officers' messages, and whether a silence covers it.
 */
import type { AlertEvent } from '../contracts/index.ts';
import type { Registry, RegistryIndex } from '../config/registry.ts';
import type { Clock } from '../lib/clock.ts';
import type { Logger } from '../lib/logger.ts';
import { isoWithOffset } from '../lib/time.ts';
import type { AlertTx, NewNotice } from './store.ts';
import { silenceFor } from './transitions.ts';
import { dutyMessages, placeOf, policeNotices, type DutyState, type Place } from './addressing.ts';

/** The registry as it is now (replaced as a whole when the file changes) and who is addressed by it. */
export interface Addressing {
  place(subjectId: string): Place;
  /** The silence covering an alert now, if any (silenced alerts page nobody and never escalate). */
  silenced(db: AlertTx, a: Pick<AlertEvent, 'ruleId' | 'subjectId' | 'sensorId'>, place?: Place): Promise<boolean>;
  /** The police notices of a transition (none, logged, when the registry cannot address them), numbered in `db`'s transaction. */
  police(db: AlertTx, event: AlertEvent, action: 'close' | 'reopen' | null): Promise<NewNotice[]>;
  /** Duty-channel messages (none for a silenced alert). Inside a transaction `db` is its operations: the store itself would wait for it to end. */
  duty(db: AlertTx, event: AlertEvent, state: DutyState, place?: Place): Promise<NewNotice[]>;
}

export function addressing(o: { capSender: string; clock: Clock; epoch: () => number; log: Logger; current: () => { registry: Registry; index: RegistryIndex } }): Addressing {
  const { clock, log, current } = o;
  const place = (subjectId: string) => placeOf(current().index, subjectId);
  const silenced = async (db: AlertTx, a: Pick<AlertEvent, 'ruleId' | 'subjectId' | 'sensorId'>, p = place(a.subjectId)) => {
    const now = clock.now();
    return silenceFor({ ...a, site: p.site ?? null, district: p.district ?? null }, await db.activeSilences(now), now) !== undefined;
  };
  return {
    place,
    silenced,
    async police(db, event, action) {
      if (!action) return [];
      const { registry, index } = current();
      const site = index.site(event.subjectId);
      // What the pure addressing needs from the store, read in the caller's transaction first.
      const sequence = site ? await db.nextNoticeSequence(site.id) : 0;
      const sent = action === 'reopen' ? await db.noticesOfAlert(event.alertId) : [];
      const ctx = { index, capSender: o.capSender, city: registry.city, issuedAt: isoWithOffset(clock.now()), closeSentTo: (id: string, r: string) => sent.find((n) => n.noticeId === id && n.recipient === r), nextSequence: () => sequence, epoch: o.epoch() };
      const notices = policeNotices(event, action, ctx);
      if (notices === null) log.error({ alertId: event.alertId, underpassId: event.subjectId }, 'no underpass/district in the registry: cannot address a notice');
      return notices ?? [];
    },
    async duty(db, event, state, p = place(event.subjectId)) {
      const channels = current().registry.dutyChannels ?? [];
      if (channels.length === 0 || (await silenced(db, event, p))) return [];
      return dutyMessages(event, state, p, channels);
    },
  };
}

