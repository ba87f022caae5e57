/** What every view of the console shares: the state, the city, the words, and the actions. */
import type { CityView } from '../../city.ts';
import type { I18n } from './i18n.ts';
import type { Alert, Model, Site } from './model.ts';

export interface Ctx {
  model: Model;
  city: CityView;
  sites: Map<string, Site>;
  districtNames: Map<string, string>;
  districtOrder: string[];
  i18n: I18n;
  me: { name: string; role: string };
  /** Officers and admins act; viewers look. */
  canAct: boolean;
  openAlert(alertId: string): void;
  openSite(siteId: string): void;
  ack(alerts: Alert[]): void;
  silence(alerts: Alert[]): void;
  resolve(alert: Alert): void;
  /** An officer trusts a suspect ponding sensor's readings (issue 22): the rules take them for water. */
  trust(alert: Alert): void;
}

/** The place of an alert for people: the site's name, else the subject id. */
export function placeOf(ctx: Ctx, a: Pick<Alert, 'site' | 'subjectId' | 'district'>): { name: string; road: string; district: string } {
  const site = ctx.sites.get(a.site ?? a.subjectId);
  if (site) return { name: site.name, road: site.road, district: ctx.i18n.district(site.district) };
  if (ctx.districtNames.has(a.subjectId)) return { name: ctx.i18n.district(a.subjectId), road: '', district: ctx.i18n.district(a.subjectId) };
  return { name: a.subjectId, road: '', district: a.district ? ctx.i18n.district(a.district) : '' };
}
