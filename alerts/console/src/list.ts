/**
 * The alert list: filters (rule, district, severity, state, acknowledged), sort and search built
 * once (so typing in them survives any update), then the entries — single alerts and groups of
 * alike ones — patched in place by key. It always says how many it shows of how many.
 */
import { dropUnseen, h, placeAfter, setText, slicer } from './dom.ts';
import { placeOf, type Ctx } from './context.ts';
import { filterAlerts, groupAlerts, type Alert, type AlertGroup, type ListEntry, type ListFilter } from './model.ts';
import { VOCABULARY } from '../../../contracts/reasons.ts';

const PAGE = 100;

interface Row {
  key: string;
  sig: string;
  build(el: HTMLElement): void;
}

/** A single alert's row: what it shows, and a signature that changes when that does. */
function alertRow(ctx: Ctx, a: Alert, member: boolean): Row {
  const { i18n } = ctx;
  return {
    key: a.alertId,
    sig: [i18n.lang, a.updatedAt, a.state, a.ackedAt ?? '', a.silenced ?? '', a.escalatedAt ?? '', member].join('/'),
    build(el) {
      const p = placeOf(ctx, a);
      el.className = `alert-row sev-${a.severity}${member ? ' member' : ''}${a.ackedAt ? ' acked' : ''}`;
      el.dataset['alertId'] = a.alertId;
      el.replaceChildren(
        h('span', { class: 'a-time', title: a.firedAt }, i18n.time(a.firedAt)),
        h('span', { class: 'a-rule' }, h('span', { class: `sev ${a.severity}` }, a.level ? i18n.word('level', a.level) : i18n.word('severity', a.severity)), ' ', i18n.word('rule', a.ruleId)),
        h('span', { class: 'a-place' }, p.name, p.road ? h('small', {}, ` ${p.road}`) : null, h('small', { class: 'a-district' }, ` ${p.district}`)),
        h('span', { class: 'a-reason' }, i18n.reason(a)),
        h(
          'span',
          { class: 'a-flags' },
          a.ackedAt ? h('span', { class: 'badge acked' }, i18n.t('ackedBy', { who: a.ackedBy ?? '' })) : null,
          a.silenced ? h('span', { class: 'badge silenced' }, i18n.t('silenced')) : null,
          a.escalatedAt ? h('span', { class: 'badge escalated' }, i18n.t('escalated')) : null,
        ),
        h(
          'span',
          { class: 'a-actions' },
          ctx.canAct && a.state === 'firing' && !a.ackedAt ? h('button', { type: 'button', class: 'primary act-ack', onclick: (e: Event) => (e.stopPropagation(), ctx.ack([a])) }, i18n.t('ack')) : null,
          ctx.canAct && a.state === 'firing' ? h('button', { type: 'button', class: 'act-silence', onclick: (e: Event) => (e.stopPropagation(), ctx.silence([a])) }, i18n.t('silence')) : null,
          ctx.canAct && a.state === 'firing' ? h('button', { type: 'button', class: 'act-resolve', onclick: (e: Event) => (e.stopPropagation(), ctx.resolve(a)) }, i18n.t('resolve')) : null,
        ),
      );
    },
  };
}

/** A group's row: rule × count, where, how many unacknowledged, and the group's actions. */
function groupRow(ctx: Ctx, g: AlertGroup, open: boolean, toggle: () => void): Row {
  const { i18n } = ctx;
  return {
    key: `g:${g.key}`,
    sig: [i18n.lang, g.members.length, g.unacked, g.districts.length, open, g.members.filter((m) => m.silenced).length].join('/'),
    build(el) {
      el.className = `alert-row group sev-${g.members[0]!.severity}`;
      el.dataset['group'] = g.key;
      const unacked = g.members.filter((m) => !m.ackedAt);
      el.replaceChildren(
        h('button', { type: 'button', class: 'expand', 'aria-expanded': String(open), onclick: (e: Event) => (e.stopPropagation(), toggle()) }, open ? '▾' : '▸'),
        h('span', { class: 'a-rule' }, h('span', { class: `sev ${g.members[0]!.severity}` }, i18n.word('severity', g.members[0]!.severity)), ' ', i18n.t('group', { rule: i18n.word('rule', g.ruleId), n: g.members.length })),
        h('span', { class: 'a-place' }, g.district ? i18n.district(g.district) : i18n.t('groupDistricts', { n: g.districts.length })),
        h('span', { class: 'a-reason' }, g.unacked ? i18n.t('unacked', { n: g.unacked }) : i18n.t('yes')),
        h(
          'span',
          { class: 'a-actions' },
          ctx.canAct && unacked.length ? h('button', { type: 'button', class: 'primary act-ack-all', onclick: (e: Event) => (e.stopPropagation(), ctx.ack(unacked)) }, i18n.t('ackAll')) : null,
          ctx.canAct ? h('button', { type: 'button', class: 'act-silence', onclick: (e: Event) => (e.stopPropagation(), ctx.silence(g.members)) }, i18n.t('silence')) : null,
        ),
      );
      el.onclick = toggle;
    },
  };
}



/** Keyboard: Enter opens (or expands a group), a acknowledges, s silences, r resolves, j/k move. */
function onRowKey(ctx: Ctx, e: KeyboardEvent, key: string): void {
  if (e.target !== e.currentTarget) return; // typing in a control inside the row
  const el = e.currentTarget as HTMLElement;
  const a = ctx.model.firing.get(key) ?? ctx.model.recent.find((x) => x.alertId === key);
  const k = e.key;
  if (k === 'j' || k === 'ArrowDown') (el.nextElementSibling as HTMLElement | null)?.focus();
  else if (k === 'k' || k === 'ArrowUp') (el.previousElementSibling as HTMLElement | null)?.focus();
  else if (key.startsWith('g:')) {
    if (k === 'Enter' || k === ' ') el.click();
    else if (k === 'a') el.querySelector<HTMLButtonElement>('.act-ack-all')?.click();
    else if (k === 's') el.querySelector<HTMLButtonElement>('.act-silence')?.click();
    else return;
  } else if (a) {
    if (k === 'Enter') ctx.openAlert(a.alertId);
    else if (k === 'a' && ctx.canAct && !a.ackedAt) ctx.ack([a]);
    else if (k === 's' && ctx.canAct) ctx.silence([a]);
    else if (k === 'r' && ctx.canAct) ctx.resolve(a);
    else return;
  } else return;
  e.preventDefault();
}


/** The filter controls, in the current language (built again only when the language changes). */
function buildControls(ctx: Ctx, controls: HTMLElement, filter: ListFilter, changed: () => void): void {
  const { i18n } = ctx;
  const sel = (name: keyof ListFilter, options: Array<[string, string]>) =>
    h('select', { name, 'aria-label': name, onchange: (e: Event) => {
      const v = (e.target as HTMLSelectElement).value;
      (filter as unknown as Record<string, string | undefined>)[name] = v || undefined;
      if (name === 'state' || name === 'sort') (filter as unknown as Record<string, string>)[name] = v;
      changed();
    } }, ...options.map(([v, label]) => h('option', { value: v }, label)));

  const all = i18n.t('all');
  const search = h('input', { type: 'search', name: 'q', placeholder: i18n.t('search'), 'aria-label': i18n.t('search'), maxLength: 64, value: filter.q ?? '', oninput: (e: Event) => {
    filter.q = (e.target as HTMLInputElement).value;
    changed();
  } });
  const controlsList = [
    sel('state', [['firing', i18n.word('state', 'firing')], ['resolved', i18n.word('state', 'resolved')]]),
    sel('rule', [['', `${i18n.t('rule')}: ${all}`], ...Object.keys(VOCABULARY.en['rule']!).map((r): [string, string] => [r, i18n.word('rule', r)])]),
    sel('district', [['', `${i18n.t('district')}: ${all}`], ...ctx.districtOrder.map((d): [string, string] => [d, i18n.district(d)])]),
    sel('severity', [['', `${i18n.t('severity')}: ${all}`], ...['critical', 'warning', 'info'].map((s): [string, string] => [s, i18n.word('severity', s)])]),
    sel('acked', [['', `${i18n.t('acked')}: ${all}`], ['yes', i18n.t('yes')], ['no', i18n.t('no')]]),
    sel('sort', [['newest', i18n.t('newest')], ['oldest', i18n.t('oldest')], ['severity', i18n.t('bySeverity')], ['district', i18n.t('byDistrict')], ['rule', i18n.t('byRule')]]),
  ];
  for (const c of controlsList) c.value = String((filter as unknown as Record<string, string | undefined>)[c.name] ?? '');
  controls.replaceChildren(search, ...controlsList);
}

export function createList(root: HTMLElement, ctx: Ctx) {
  const filter: ListFilter = { state: 'firing', sort: 'newest' };
  let limit = PAGE;
  const expanded = new Set<string>();
  const rows = new Map<string, { el: HTMLElement; sig: string }>();

  const title = h('h2', {});
  const controls = h('div', { class: 'filters' });
  const counter = h('p', { class: 'counter', role: 'status' });
  const body = h('ol', { class: 'alert-rows' });
  const more = h('button', { type: 'button', class: 'more', onclick: () => ((limit += PAGE), render()) });
  root.replaceChildren(h('header', {}, title), controls, counter, body, more);

  let builtFor = '';

  function toggle(key: string): void {
    if (expanded.has(key)) expanded.delete(key);
    else expanded.add(key);
    render();
  }

  function render(): void {
    const { i18n, model } = ctx;
    if (builtFor !== i18n.lang) {
      buildControls(ctx, controls, filter, () => {
        limit = PAGE;
        render();
      });
      builtFor = i18n.lang;
    }
    setText(title, i18n.t('alerts'));
    const source = filter.state === 'firing' ? model.firing.values() : model.recent;
    const total = filter.state === 'firing' ? model.firing.size : model.recent.length;
    const alerts = filterAlerts(source, filter, ctx.sites, ctx.districtNames);
    const entries: ListEntry[] = groupAlerts(alerts);
    // Rows to show: entries up to the limit, with the members of expanded groups after their group.
    const shown: Row[] = [];
    // The limit counts rows (a group is one row); the counter counts the alerts those rows stand for.
    let alertsShown = 0;
    let entriesShown = 0;
    let truncated = false;
    for (const e of entries) {
      if (shown.length >= limit) break;
      entriesShown++;
      if (e.kind === 'alert') {
        shown.push(alertRow(ctx, e.alert, false));
        alertsShown++;
      } else {
        shown.push(groupRow(ctx, e.group, expanded.has(e.group.key), () => toggle(e.group.key)));
        alertsShown += e.group.members.length;
        // An expanded group's members are rows like any other: the limit and "show more" apply to them.
        if (expanded.has(e.group.key)) {
          const room = Math.max(0, limit - shown.length);
          for (const m of e.group.members.slice(0, room)) shown.push(alertRow(ctx, m, true));
          truncated ||= e.group.members.length > room;
        }
      }
    }
    const n = Math.min(alertsShown, alerts.length);
    setText(counter, i18n.t('showing', { n, m: alerts.length }) + (alerts.length !== total ? i18n.t('filtered', { total }) : '') + (alerts.length === 0 ? ` · ${i18n.t('none')}` : ''));
    more.hidden = entriesShown >= entries.length && !truncated;
    setText(more, i18n.t('more', { n: Math.min(PAGE, entries.length - entriesShown) }));
    const seen = new Set<string>();
    let prev: Element | null = null;
    for (const r of shown) {
      seen.add(r.key);
      let entry = rows.get(r.key);
      if (!entry) {
        const el = h('li', { tabIndex: 0 });
        el.addEventListener('keydown', (e) => onRowKey(ctx, e, r.key));
        entry = { el, sig: '' };
        rows.set(r.key, entry);
      }
      if (entry.sig !== r.sig) {
        const el = entry.el;
        slicer.add(el, () => r.build(el)); // placed now, filled within the next frames
        entry.sig = r.sig;
      }
      placeAfter(body, prev, entry.el);
      prev = entry.el;
    }
    dropUnseen(rows, seen);
  }

  body.addEventListener('click', (e) => {
    const li = (e.target as HTMLElement).closest<HTMLElement>('li.alert-row');
    const id = li?.dataset['alertId'];
    if (id && !li.classList.contains('group')) ctx.openAlert(id);
  });

  return { render, filter };
}
