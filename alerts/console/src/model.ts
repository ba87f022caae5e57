/**
 * The console's state and the pure decisions over it: applying the stream's reset and batches,
 * each site's worst state (the map's colour), the closure board, and the alert list's filters,
 * sort and groups. No DOM here, so it is tested in Node (model.test.ts) like any other pure module.
 */
import type { AlertWire, NoticeWire } from '../../views.ts';
import type { CityView } from '../../city.ts';
import type { Level } from '../../live.ts';

export type Alert = AlertWire;
export type Notice = NoticeWire;
export type Site = CityView['sites'][number];
export interface SilenceView {
  id: number;
  ruleId: string | null;
  sensor: string | null;
  site: string | null;
  district: string | null;
  until: string;
  reason: string;
  createdBy: string;
  /** "Until resolved": ends with this alert. */
  alertId?: string | null;
}
export type Overview = Record<'underpassesClosed' | 'riversAboveWarning' | 'riversAboveDanger' | 'districtsInRainstorm' | 'sensorsOffline' | 'noticesFailed', number>;

export interface ResetData {
  at: string;
  overview: Overview;
  alerts: Alert[];
  recent: Alert[];
  silences: SilenceView[];
  notices: Notice[];
  levels: Record<string, Level>;
}
export interface BatchData {
  at: string;
  alerts?: Alert[];
  notices?: Notice[];
  silences?: SilenceView[];
  overview?: Overview;
  levels?: Record<string, Level>;
}

/** What a batch touched, so the views patch only that. */
export interface Changes {
  alerts: Set<string>;
  notices: Set<number>;
  silences: boolean;
  overview: boolean;
  levels: Set<string>;
  all: boolean;
}

export interface Model {
  at: string;
  overview: Overview;
  /** Firing alerts by id. */
  firing: Map<string, Alert>;
  /** Recently resolved, newest first (bounded). */
  recent: Alert[];
  notices: Map<number, Notice>;
  silences: SilenceView[];
  levels: Map<string, Level>;
}

const RECENT_MAX = 200;

export function emptyModel(): Model {
  return { at: '', overview: { underpassesClosed: 0, riversAboveWarning: 0, riversAboveDanger: 0, districtsInRainstorm: 0, sensorsOffline: 0, noticesFailed: 0 }, firing: new Map(), recent: [], notices: new Map(), silences: [], levels: new Map() };
}

export function applyReset(r: ResetData): { model: Model; changes: Changes } {
  const model: Model = {
    at: r.at,
    overview: r.overview,
    firing: new Map(r.alerts.map((a) => [a.alertId, a])),
    recent: r.recent.slice(0, RECENT_MAX),
    notices: new Map(r.notices.map((n) => [n.seq, n])),
    silences: r.silences,
    levels: new Map(Object.entries(r.levels)),
  };
  return { model, changes: { alerts: new Set(), notices: new Set(), silences: true, overview: true, levels: new Set(), all: true } };
}

/** Apply a batch in place; returns what changed. */
export function applyBatch(model: Model, b: BatchData): Changes {
  const c: Changes = { alerts: new Set(), notices: new Set(), silences: false, overview: false, levels: new Set(), all: false };
  model.at = b.at;
  for (const a of b.alerts ?? []) {
    c.alerts.add(a.alertId);
    if (a.state === 'firing') model.firing.set(a.alertId, a);
    else {
      model.firing.delete(a.alertId);
      model.recent = [a, ...model.recent.filter((x) => x.alertId !== a.alertId)].slice(0, RECENT_MAX);
    }
  }
  for (const n of b.notices ?? []) {
    model.notices.set(n.seq, n);
    c.notices.add(n.seq);
  }
  if (b.silences) {
    model.silences = b.silences;
    c.silences = true;
  }
  if (b.overview) {
    model.overview = b.overview;
    c.overview = true;
  }
  for (const [id, lv] of Object.entries(b.levels ?? {})) {
    model.levels.set(id, lv);
    c.levels.add(id);
  }
  return c;
}

// ---------------------------------------------------------------------------------------------
// The map: each site's worst state.

export const SITE_STATES = ['closed', 'danger', 'warning', 'rainstorm', 'suspect', 'offline', 'normal'] as const;
export type SiteState = (typeof SITE_STATES)[number];

/** The state an alert gives its site; undefined: it does not colour the map. */
export function stateOfAlert(a: Pick<Alert, 'ruleId' | 'severity'>): SiteState | undefined {
  switch (a.ruleId) {
    case 'underpass-closure':
      return 'closed';
    case 'water-level-danger':
      return 'danger';
    case 'underpass-warning':
    case 'water-level-warning':
    case 'water-level-rise':
    case 'pump-advisory':
      return 'warning';
    case 'rainstorm':
    case 'gale':
      return 'rainstorm';
    case 'sensor-data-quality':
      return 'suspect';
    case 'sensor-offline':
      return 'offline';
    default:
      return undefined;
  }
}

/** site id → its worst state (sites without a firing alert are absent: normal). */
export function siteStates(firing: Iterable<Alert>): Map<string, SiteState> {
  const out = new Map<string, SiteState>();
  for (const a of firing) {
    const site = a.site;
    const st = stateOfAlert(a);
    if (!site || !st) continue;
    const was = out.get(site);
    if (!was || SITE_STATES.indexOf(st) < SITE_STATES.indexOf(was)) out.set(site, st);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The closure board: every closed underpass, grouped by district.

export interface ClosureRow {
  alert: Alert;
  site: Site | undefined;
  /** Notices of the closure, by recipient: the latest of each. */
  notices: Notice[];
  level: Level | undefined;
}
export interface DistrictClosures {
  district: string;
  rows: ClosureRow[];
}

export function closureBoard(model: Model, sites: Map<string, Site>, districtOrder: string[]): DistrictClosures[] {
  const byAlert = new Map<string, Notice[]>();
  for (const n of model.notices.values()) {
    const list = byAlert.get(n.alertId) ?? [];
    list.push(n);
    byAlert.set(n.alertId, list);
  }
  const groups = new Map<string, ClosureRow[]>();
  for (const a of model.firing.values()) {
    if (a.ruleId !== 'underpass-closure') continue;
    const site = sites.get(a.subjectId);
    const district = a.district ?? site?.district ?? '';
    const latest = new Map<string, Notice>();
    for (const n of (byAlert.get(a.alertId) ?? []).sort((x, y) => x.seq - y.seq)) latest.set(n.recipient, n);
    const rows = groups.get(district) ?? [];
    rows.push({ alert: a, site, notices: [...latest.values()], level: a.sensorId ? model.levels.get(a.sensorId) : undefined });
    groups.set(district, rows);
  }
  const rank = (d: string) => {
    const i = districtOrder.indexOf(d);
    return i < 0 ? districtOrder.length : i;
  };
  return [...groups.entries()]
    .sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b))
    .map(([district, rows]) => ({ district, rows: rows.sort((x, y) => x.alert.firedAt.localeCompare(y.alert.firedAt) || x.alert.subjectId.localeCompare(y.alert.subjectId)) }));
}

// ---------------------------------------------------------------------------------------------
// The alert list: filters, sort, groups.

export interface ListFilter {
  rule?: string;
  district?: string;
  severity?: string;
  state: 'firing' | 'resolved';
  acked?: 'yes' | 'no';
  /** Matched against the subject id, the site's name and road, and the district's name. */
  q?: string;
  sort: 'newest' | 'oldest' | 'severity' | 'district' | 'rule';
}

const SEVERITY_RANK: Record<string, number> = { critical: 0, warning: 1, info: 2 };

export function filterAlerts(alerts: Iterable<Alert>, f: ListFilter, sites: Map<string, Site>, districtNames: Map<string, string>): Alert[] {
  const q = f.q?.trim().toLowerCase();
  const out: Alert[] = [];
  for (const a of alerts) {
    if (a.state !== f.state) continue;
    if (f.rule && a.ruleId !== f.rule) continue;
    if (f.district && a.district !== f.district) continue;
    if (f.severity && a.severity !== f.severity) continue;
    if (f.acked === 'yes' && !a.ackedAt) continue;
    if (f.acked === 'no' && a.ackedAt) continue;
    if (q) {
      const site = sites.get(a.site ?? a.subjectId);
      const hay = [a.subjectId, a.sensorId ?? '', site?.name ?? '', site?.road ?? '', a.district ?? '', districtNames.get(a.district ?? '') ?? ''].join(' ').toLowerCase();
      if (!hay.includes(q)) continue;
    }
    out.push(a);
  }
  const by: Record<ListFilter['sort'], (x: Alert, y: Alert) => number> = {
    newest: (x, y) => y.firedAt.localeCompare(x.firedAt),
    oldest: (x, y) => x.firedAt.localeCompare(y.firedAt),
    severity: (x, y) => (SEVERITY_RANK[x.severity] ?? 9) - (SEVERITY_RANK[y.severity] ?? 9) || y.firedAt.localeCompare(x.firedAt),
    district: (x, y) => (x.district ?? '').localeCompare(y.district ?? '') || y.firedAt.localeCompare(x.firedAt),
    rule: (x, y) => x.ruleId.localeCompare(y.ruleId) || y.firedAt.localeCompare(x.firedAt),
  };
  return out.sort((x, y) => by[f.sort](x, y) || x.alertId.localeCompare(y.alertId));
}

/** Rules whose bursts span the city (a network outage silences sensors everywhere): one group for the city, not one per district. */
const CITYWIDE = new Set(['sensor-offline', 'sensor-battery', 'sensor-data-quality']);
/** This many alike alerts make a group row. */
export const GROUP_MIN = 3;

export interface AlertGroup {
  key: string;
  ruleId: string;
  /** Undefined for a city-wide group. */
  district: string | undefined;
  members: Alert[];
  unacked: number;
  districts: string[];
}
export type ListEntry = { kind: 'alert'; alert: Alert } | { kind: 'group'; group: AlertGroup };

export function groupKey(a: Pick<Alert, 'ruleId' | 'district'>): string {
  return CITYWIDE.has(a.ruleId) ? a.ruleId : `${a.ruleId}|${a.district ?? ''}`;
}

/**
 * Alike alerts (same rule; same district unless the rule's bursts are city-wide) become one group
 * row at the place of their first member; fewer than GROUP_MIN stay single rows.
 */
export function groupAlerts(sorted: Alert[]): ListEntry[] {
  const byKey = new Map<string, Alert[]>();
  for (const a of sorted) {
    const k = groupKey(a);
    const list = byKey.get(k) ?? [];
    list.push(a);
    byKey.set(k, list);
  }
  const out: ListEntry[] = [];
  const placed = new Set<string>();
  for (const a of sorted) {
    const k = groupKey(a);
    const members = byKey.get(k)!;
    if (members.length < GROUP_MIN) {
      out.push({ kind: 'alert', alert: a });
      continue;
    }
    if (placed.has(k)) continue;
    placed.add(k);
    out.push({
      kind: 'group',
      group: {
        key: k,
        ruleId: a.ruleId,
        district: CITYWIDE.has(a.ruleId) ? undefined : (a.district ?? undefined),
        members,
        unacked: members.filter((m) => !m.ackedAt).length,
        districts: [...new Set(members.map((m) => m.district ?? ''))].filter(Boolean).sort(),
      },
    });
  }
  return out;
}
