/**
 * The side panel: an alert (its reason, audit trail, notes, and every notice with each delivery
 * attempt and the recipient's answer) or a site (its sensors, latest values and the last 6 hours,
 * its alerts, the notices of an underpass). Opened by a click or Enter; its forms are built once
 * and never replaced by a live update, so a note being typed stays.
 */
import { h, kids, setText } from './dom.ts';
import { api } from './api.ts';
import { placeOf, type Ctx } from './context.ts';
import type { Alert, Notice } from './model.ts';
import { sensorChart } from './chart.ts';

interface AuditEntry {
  at: string;
  who: string;
  action: string;
  note: string | null;
}
interface Attempt {
  attempt: number;
  at: string;
  outcome: string;
  httpStatus: number | null;
  latencyMs: number;
  error: string | null;
}
interface SensorRow {
  id: string;
  kind: string;
  value: number | null;
  unit: string;
  lastSeen: string | null;
  spark: Array<number | null>;
}

/** An SL 651 station's latest image reports (the API answers 404 for a sensor of no station: nothing shown). */
async function stationImages(ctx: Ctx, sensorId: string): Promise<HTMLElement | null> {
  const { i18n } = ctx;
  const path = `/api/sensors/${encodeURIComponent(sensorId)}/images`;
  const r = await api<{ images: Array<{ file: string; observed: string; serial: number }> }>('GET', path).catch(() => null);
  if (!r || r.images.length === 0) return null;
  return h(
    'section',
    { class: 'station-images', dataset: { sensorId } },
    h('h3', {}, i18n.t('images')),
    ...r.images.slice(0, 3).map((img) => {
      const time = img.observed.replace('T', ' ');
      return h('figure', {}, h('img', { src: `${path}/${encodeURIComponent(img.file)}`, alt: i18n.t('imageOf', { sensor: sensorId, time }), loading: 'lazy' }), h('figcaption', {}, `${time} · #${img.serial}`));
    }),
  );
}

const SVG = 'http://www.w3.org/2000/svg';
/** The last 6 hours as a small line (gaps where nothing was heard), with its range written beside. */
function sparkline(values: Array<number | null>): SVGSVGElement {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', '0 0 144 28');
  svg.setAttribute('class', 'spark');
  const known = values.filter((v): v is number => v !== null);
  if (known.length === 0) return svg;
  const lo = Math.min(...known);
  const hi = Math.max(...known);
  const y = (v: number) => 26 - ((v - lo) / (hi - lo || 1)) * 24;
  let points: string[] = [];
  const flush = () => {
    if (points.length === 0) return;
    const line = document.createElementNS(SVG, 'polyline');
    line.setAttribute('points', points.join(' '));
    svg.appendChild(line);
    points = [];
  };
  values.forEach((v, i) => (v === null ? flush() : points.push(`${i * 2},${y(v).toFixed(1)}`)));
  flush();
  return svg;
}

export function createPanel(root: HTMLElement, ctx: Ctx) {
  let current: { kind: 'alert' | 'site'; id: string } | undefined;
  const head = h('h2', {});
  const status = h('div', { class: 'panel-status' });
  const content = h('div', { class: 'panel-body' });
  const close = h('button', { type: 'button', class: 'close', 'aria-label': 'close', onclick: () => hide() }, '×');
  root.replaceChildren(h('header', {}, head, close), status, content);
  root.addEventListener('keydown', (e) => e.key === 'Escape' && hide());

  function hide(): void {
    current = undefined;
    root.hidden = true;
  }

  const find = (id: string): Alert | undefined => ctx.model.firing.get(id) ?? ctx.model.recent.find((a) => a.alertId === id);

  function alertStatus(a: Alert): void {
    const { i18n } = ctx;
    status.replaceChildren(
      ...kids(
      h('p', { class: `sev ${a.severity}` }, i18n.word('rule', a.ruleId), ' · ', a.level ? i18n.word('level', a.level) : i18n.word('severity', a.severity), ' · ', i18n.word('state', a.state)),
      h('p', { class: 'reason' }, i18n.reason(a)),
      h('p', {}, `${i18n.time(a.firedAt)}${a.resolvedAt ? ` → ${i18n.time(a.resolvedAt)}` : ''}`),
      a.ackedAt ? h('p', { class: 'badge acked' }, `${i18n.t('ackedBy', { who: a.ackedBy ?? '' })} ${i18n.time(a.ackedAt)}${a.ackNote ? ` — ${a.ackNote}` : ''}`) : null,
      ctx.canAct && a.state === 'firing'
        ? h(
            'p',
            { class: 'actions' },
            !a.ackedAt ? h('button', { type: 'button', class: 'primary', onclick: () => ctx.ack([a]) }, i18n.t('ack')) : null,
            h('button', { type: 'button', onclick: () => ctx.silence([a]) }, i18n.t('silence')),
            h('button', { type: 'button', onclick: () => ctx.resolve(a) }, i18n.t('resolve')),
            // A suspect ponding sensor: an officer who knows the water is real overrides the suspicion.
            a.ruleId === 'sensor-data-quality' && ctx.city.sensors.some((s) => s.id === a.sensorId && s.kind === 'ponding') ? h('button', { type: 'button', class: 'act-trust', onclick: () => ctx.trust(a) }, i18n.t('trust')) : null,
          )
        : null,
      ),
    );
  }

  async function noticeList(notices: Notice[]): Promise<HTMLElement> {
    const { i18n } = ctx;
    const list = h('ol', { class: 'notices' });
    for (const n of notices) {
      const item = h('li', { class: `nstat ${n.status}` }, `${i18n.time(n.createdAt)} · ${n.recipient} · ${i18n.word('action', n.action)} · ${i18n.word('status', n.status)}${n.attempts > 1 ? ` (${n.attempts})` : ''}`);
      const attempts = h('ol', { class: 'attempts' });
      item.append(attempts);
      list.append(item);
      void api<{ attempts: Attempt[] }>('GET', `/api/notices/${n.seq}`).then((r) => {
        attempts.replaceChildren(...r.attempts.map((x) => h('li', {}, `${i18n.t('attempt', { n: x.attempt })} · ${i18n.time(x.at)} · ${x.outcome}${x.httpStatus !== null ? ` · HTTP ${x.httpStatus}` : ''} · ${x.latencyMs} ms${x.error ? ` · ${x.error}` : ''}`)));
      });
    }
    return list;
  }

  async function showAlert(id: string): Promise<void> {
    const { i18n } = ctx;
    const a = find(id);
    const r = await api<{ alert: Alert & { reason: string }; audit: AuditEntry[] }>('GET', `/api/alerts/${encodeURIComponent(id)}`);
    const alert = a ?? (r.alert as Alert);
    setText(head, `${placeOf(ctx, alert).name} · ${alert.subjectId}`);
    alertStatus(alert);
    const audit = h('ol', { class: 'audit' }, ...r.audit.map((e) => h('li', {}, `${i18n.time(e.at)} · ${e.who} · ${i18n.t(e.action as never)}${e.note ? ` — ${e.note}` : ''}`)));
    const { notices } = await api<{ notices: Notice[] }>('GET', `/api/notices?alert=${encodeURIComponent(id)}&limit=100`);
    const noteBox = h('textarea', { name: 'note', maxLength: 1000, rows: 2, placeholder: i18n.t('notePlaceholder') });
    const noteForm = h('form', { class: 'note-form', onsubmit: async (e: Event) => {
      e.preventDefault();
      if (!noteBox.value.trim()) return;
      const res = await api<{ audit: AuditEntry[] }>('POST', `/api/alerts/${encodeURIComponent(id)}/notes`, { note: noteBox.value.trim() });
      noteBox.value = '';
      audit.replaceChildren(...res.audit.map((x) => h('li', {}, `${i18n.time(x.at)} · ${x.who} · ${i18n.t(x.action as never)}${x.note ? ` — ${x.note}` : ''}`)));
    } }, noteBox, h('button', { type: 'submit' }, i18n.t('addNote')));
    content.replaceChildren(...kids(h('h3', {}, i18n.t('audit')), audit, ctx.canAct ? noteForm : null, h('h3', {}, i18n.t('noticesOf')), await noticeList(notices.sort((x, y) => x.seq - y.seq))));
  }

  async function showSite(id: string): Promise<void> {
    const { i18n } = ctx;
    const site = ctx.sites.get(id);
    setText(head, site ? `${site.name} · ${id}` : id);
    status.replaceChildren(h('p', {}, site ? `${i18n.t(`kind_${site.kind}` as never)} · ${site.road ? `${site.road} · ` : ''}${i18n.district(site.district)} · ${site.lat}, ${site.lon}` : ''));
    const sensorIds = ctx.city.sensors.filter((s) => s.site === id).map((s) => s.id);
    const rows = (await Promise.all(sensorIds.map((s) => api<{ sensors: SensorRow[] }>('GET', `/api/sensors?q=${encodeURIComponent(s)}&limit=5`)))).flatMap((r) => r.sensors.filter((s) => sensorIds.includes(s.id)));
    const sensors = h('table', { class: 'sensors' }, h('thead', {}, h('tr', {}, h('th', {}, i18n.t('sensors')), h('th', {}, i18n.t('value')), h('th', {}, i18n.t('lastSeen')), h('th', {}, i18n.t('spark')))), h('tbody', {}, ...rows.map((s) => h('tr', { dataset: { sensorId: s.id } }, h('td', {}, s.id), h('td', {}, s.value === null ? '–' : `${s.value} ${s.unit}`), h('td', {}, i18n.time(s.lastSeen)), h('td', {}, sparkline(s.spark))))));
    const alerts = [...ctx.model.firing.values()].filter((a) => a.site === id || a.subjectId === id);
    const alertList = h('ul', { class: 'site-alerts' }, ...alerts.map((a) => h('li', { tabIndex: 0, onclick: () => ctx.openAlert(a.alertId) }, `${i18n.word('rule', a.ruleId)} · ${i18n.reason(a)}`)));
    const { notices } = site?.kind === 'underpass' ? await api<{ notices: Notice[] }>('GET', `/api/notices?subject=${encodeURIComponent(id)}&limit=50`) : { notices: [] as Notice[] };
    const images = site?.kind === 'underpass' ? [] : await Promise.all(sensorIds.map((s) => stationImages(ctx, s)));
    content.replaceChildren(...kids(sensors, ...sensorIds.map((s) => sensorChart(ctx, s)), ...images, h('h3', {}, i18n.t('alerts')), alertList, notices.length ? h('h3', {}, i18n.t('noticesOf')) : null, notices.length ? await noticeList(notices) : null));
  }

  async function open(kind: 'alert' | 'site', id: string): Promise<void> {
    current = { kind, id };
    root.hidden = false;
    content.replaceChildren();
    try {
      if (kind === 'alert') await showAlert(id);
      else await showSite(id);
    } catch (err) {
      content.replaceChildren(h('p', { class: 'error' }, ctx.i18n.t('error', { msg: (err as Error).message })));
    }
    close.focus();
  }

  return {
    openAlert: (id: string) => open('alert', id),
    openSite: (id: string) => open('site', id),
    /** A live update: the open alert's status line follows; its forms stay as they are. */
    render(changedAlerts: Set<string> | 'all') {
      if (current?.kind !== 'alert') return;
      if (changedAlerts !== 'all' && !changedAlerts.has(current.id)) return;
      const a = find(current.id);
      if (a) alertStatus(a);
    },
  };
}
