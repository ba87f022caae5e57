/**
 * Alerts and notices as the console receives them: the record without what the console does not
 * show (null fields, the notice body, any secret reference), times with offsets. A storm sends
 * thousands of these, so each one is kept small (issue 19: ≤ 20 KB/s per console).
 */
import { isoWithOffset } from '../lib/time.ts';
import type { AlertRecord, NoticeRecord } from './store.ts';

export type AlertWire = Omit<Partial<AlertRecord>, 'openedAt'> & Pick<AlertRecord, 'alertId' | 'ruleId' | 'subjectId' | 'state' | 'severity' | 'value' | 'threshold' | 'unit' | 'firedAt' | 'updatedAt'> & { silenced?: true };

/** The alert without nulls; the English `reason` only where there is no template to render. */
export function alertWire(a: AlertRecord, silenced: boolean): AlertWire {
  const { openedAt: _o, reason, why, ...rest } = a;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(rest)) if (v !== null && v !== '') out[k] = v;
  if (why) out['why'] = why;
  else out['reason'] = reason;
  if (silenced) out['silenced'] = true;
  return out as AlertWire;
}

export interface NoticeWire {
  seq: number;
  alertId: string;
  subjectId: string;
  recipient: string;
  action: NoticeRecord['action'];
  status: NoticeRecord['status'];
  attempts: number;
  lastError?: string;
  createdAt: string;
  deliveredAt?: string;
}

export function noticeWire(n: NoticeRecord): NoticeWire {
  return {
    seq: n.seq,
    alertId: n.alertId,
    subjectId: n.subjectId,
    recipient: n.recipient,
    action: n.action,
    status: n.status,
    attempts: n.attempts,
    ...(n.lastError !== null ? { lastError: n.lastError } : {}),
    createdAt: isoWithOffset(n.createdAt),
    ...(n.deliveredAt !== null ? { deliveredAt: isoWithOffset(n.deliveredAt) } : {}),
  };
}
