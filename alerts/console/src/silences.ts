/** Silences in force: what, why, until when, by whom; an officer ends one early. */
import { h } from './dom.ts';
import { api } from './api.ts';
import type { Ctx } from './context.ts';

export function createSilences(root: HTMLElement, ctx: Ctx) {
  const title = h('h2', {});
  const list = h('ul', { class: 'silences' });
  root.replaceChildren(title, list);
  return {
    render(): void {
      const { i18n } = ctx;
      title.textContent = `${i18n.t('silences')} · ${ctx.model.silences.length}`;
      if (ctx.model.silences.length === 0) {
        list.replaceChildren(h('li', { class: 'quiet' }, i18n.t('noSilences')));
        return;
      }
      list.replaceChildren(
        ...ctx.model.silences.map((s) => {
          const what = [s.ruleId && i18n.word('rule', s.ruleId), s.sensor, s.site && (ctx.sites.get(s.site)?.name ?? s.site), s.district && i18n.district(s.district)].filter(Boolean).join(' · ');
          return h(
            'li',
            { dataset: { silenceId: String(s.id) } },
            `${what} — ${s.reason} (${s.alertId ? i18n.t('untilResolved') : `${i18n.t('until')} ${i18n.time(s.until)}`}, ${s.createdBy}) `,
            ctx.canAct ? h('button', { type: 'button', onclick: () => void api('DELETE', `/api/silences/${s.id}`) }, i18n.t('end')) : null,
          );
        }),
      );
    },
  };
}
