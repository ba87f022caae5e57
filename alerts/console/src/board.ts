/**
 * The situation board: every closed underpass, grouped by district — name, road, since when,
 * depth now and its trend, each recipient's notice status. Rows are keyed by alert and patched
 * in place: an update never rebuilds the board, never moves focus.
 */
import { dropUnseen, h, placeAfter, setText, slicer } from './dom.ts';
import { placeOf, type Ctx } from './context.ts';
import { closureBoard, type ClosureRow } from './model.ts';

const arrow = (trend: number | null | undefined) => (trend === null || trend === undefined ? '' : trend > 0.5 ? `▲ +${trend}` : trend < -0.5 ? `▼ ${trend}` : `▶ ${trend}`);

function signature(ctx: Ctx, r: ClosureRow): string {
  return [ctx.i18n.lang, r.alert.updatedAt, r.alert.ackedAt ?? '', r.alert.silenced ?? '', r.level?.join(',') ?? '', r.notices.map((n) => `${n.recipient}:${n.status}:${n.attempts}`).join('|')].join('/');
}

function rowContent(ctx: Ctx, row: HTMLElement, r: ClosureRow): void {
  const { i18n } = ctx;
  const p = placeOf(ctx, r.alert);
  const depth = r.level ? r.level[0] : r.alert.value;
  row.replaceChildren(
    h('span', { class: 'b-name' }, p.name, h('small', {}, ` ${r.alert.subjectId}`)),
    h('span', { class: 'b-road' }, p.road),
    h('span', { class: 'b-since', title: `${i18n.t('since')} ${i18n.time(r.alert.firedAt)}` }, i18n.time(r.alert.firedAt).replace(/ \(.*\)$/, ''), h('small', { class: 'tzo' }, / (\(.*\))$/.exec(i18n.time(r.alert.firedAt))?.[0] ?? '')),
    h('span', { class: 'b-depth' }, `${depth} cm`, h('small', { class: 'trend' }, ` ${arrow(r.level?.[1])}`)),
    h(
      'span',
      { class: 'b-notices' },
      ...r.notices.map((n) => h('span', { class: `nstat ${n.status}`, title: `${n.recipient} · ${i18n.word('action', n.action)} · ${i18n.word('status', n.status)}${n.lastError ? ` — ${n.lastError}` : ''}` }, `${n.recipient} ${i18n.word('status', n.status)}`)),
    ),
    h('span', { class: 'b-ack' }, r.alert.ackedAt ? i18n.t('ackedBy', { who: r.alert.ackedBy ?? '' }) : ''),
  );
}

export function createBoard(root: HTMLElement, ctx: Ctx) {
  const title = h('h2', {}, '');
  const count = h('b', { class: 'count' }, '0');
  const empty = h('p', { class: 'quiet' }, '');
  const body = h('div', { class: 'board-body' });
  root.replaceChildren(h('header', {}, title, count), empty, body);
  const rows = new Map<string, { el: HTMLElement; sig: string }>();
  const sections = new Map<string, { el: HTMLElement; head: HTMLElement; list: HTMLElement }>();

  function render(): void {
    const { i18n } = ctx;
    setText(title, i18n.t('board'));
    const board = closureBoard(ctx.model, ctx.sites, ctx.districtOrder);
    const total = board.reduce((n, d) => n + d.rows.length, 0);
    setText(count, String(total));
    setText(empty, total === 0 ? i18n.t('boardEmpty') : '');
    const seenRows = new Set<string>();
    const seenSections = new Set<string>();
    let prevSection: Element | null = null;
    for (const d of board) {
      seenSections.add(d.district);
      let sec = sections.get(d.district);
      if (!sec) {
        const head = h('h3', {});
        const list = h('ol', { class: 'board-rows' });
        sec = { el: h('section', { class: 'board-district', dataset: { district: d.district } }, head, list), head, list };
        sections.set(d.district, sec);
      }
      setText(sec.head, `${i18n.district(d.district)} · ${d.rows.length}`);
      placeAfter(body, prevSection, sec.el);
      prevSection = sec.el;
      let prevRow: Element | null = null;
      for (const r of d.rows) {
        seenRows.add(r.alert.alertId);
        let entry = rows.get(r.alert.alertId);
        if (!entry) {
          const el = h('li', { class: 'board-row', tabIndex: 0, dataset: { alertId: r.alert.alertId, site: r.alert.subjectId }, onclick: () => ctx.openAlert(r.alert.alertId), onkeydown: (e: KeyboardEvent) => e.key === 'Enter' && ctx.openAlert(r.alert.alertId) });
          entry = { el, sig: '' };
          rows.set(r.alert.alertId, entry);
        }
        const sig = signature(ctx, r);
        if (sig !== entry.sig) {
          const el = entry.el;
          slicer.add(el, () => rowContent(ctx, el, r)); // placed now, filled within the next frames
          entry.sig = sig;
        }
        entry.el.classList.toggle('acked', Boolean(r.alert.ackedAt));
        placeAfter(sec.list, prevRow, entry.el);
        prevRow = entry.el;
      }
    }
    dropUnseen(rows, seenRows);
    dropUnseen(sections, seenSections);
  }
  return { render };
}
