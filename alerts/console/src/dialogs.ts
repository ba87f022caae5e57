/**
 * The officer's actions as modal dialogs (<dialog>: focus stays inside, Esc cancels): acknowledge
 * one alert or a group with one note, silence with presets, resolve with a required reason, trust
 * a suspect sensor's readings with a required note.
 * Nothing in a dialog is touched by live updates: what is typed is what is saved.
 */
import { h } from './dom.ts';
import { api } from './api.ts';
import type { Ctx } from './context.ts';
import type { Alert } from './model.ts';
import type { UiKey } from './i18n.ts';

export function createDialogs(dialog: HTMLDialogElement, ctx: Ctx, toast: (msg: string) => void) {
  /** Show a form; resolves with its fields on submit, undefined on cancel. */
  function ask(title: string, fields: HTMLElement[], submit: string): Promise<FormData | undefined> {
    return new Promise((resolve) => {
      const error = h('p', { class: 'error', role: 'alert' });
      const form = h(
        'form',
        { method: 'dialog' },
        h('h2', {}, title),
        ...fields,
        error,
        h('p', { class: 'actions' }, h('button', { type: 'button', value: 'cancel', class: 'cancel', onclick: () => dialog.close('cancel') }, ctx.i18n.t('cancel')), h('button', { type: 'submit', value: 'ok', class: 'primary' }, submit)),
      );
      dialog.replaceChildren(form);
      dialog.onclose = () => resolve(dialog.returnValue === 'ok' ? new FormData(form) : undefined);
      dialog.returnValue = '';
      dialog.showModal();
      (form.querySelector('textarea, input:not([type=radio])') as HTMLElement | null)?.focus();
    });
  }

  async function run(what: () => Promise<unknown>): Promise<void> {
    try {
      await what();
      toast(ctx.i18n.t('saved'));
    } catch (err) {
      toast(ctx.i18n.t('error', { msg: (err as Error).message }));
    }
  }

  /** One required text in a dialog, then `POST /api/alerts/:id/<action>` with it. */
  async function requiredText(alert: Alert, o: { field: 'note' | 'reason'; max: number; title: UiKey; label: UiKey; submit: UiKey; action: 'trust' | 'resolve' }): Promise<void> {
    const { i18n } = ctx;
    const box = h('textarea', { name: o.field, required: true, maxLength: o.max, rows: 3, placeholder: i18n.t(o.label) });
    const form = await ask(i18n.t(o.title), [h('label', {}, i18n.t(o.label), box)], i18n.t(o.submit));
    if (!form) return;
    await run(() => api('POST', `/api/alerts/${encodeURIComponent(alert.alertId)}/${o.action}`, { [o.field]: String(form.get(o.field)).trim() }));
  }

  return {
    async ack(alerts: Alert[]): Promise<void> {
      const { i18n } = ctx;
      if (alerts.length === 0) return;
      const note = h('textarea', { name: 'note', maxLength: 1000, rows: 3, placeholder: i18n.t('notePlaceholder') });
      const form = await ask(alerts.length === 1 ? i18n.t('ackTitle') : i18n.t('ackGroupTitle', { n: alerts.length }), [h('label', {}, i18n.t('note'), note)], i18n.t('confirm'));
      if (!form) return;
      const text = String(form.get('note') ?? '').trim();
      await run(() =>
        alerts.length === 1
          ? api('POST', `/api/alerts/${encodeURIComponent(alerts[0]!.alertId)}/ack`, text ? { note: text } : {})
          : api('POST', '/api/alerts/ack', { ids: alerts.map((a) => a.alertId), ...(text ? { note: text } : {}) }),
      );
    },

    async silence(alerts: Alert[]): Promise<void> {
      const { i18n } = ctx;
      if (alerts.length === 0) return;
      // "Until resolved" for one alert: it ends with the alert (7 days at the longest).
      const presets: Array<[number | 'resolved', string]> = [[30, i18n.t('min30')], [120, i18n.t('h2')], [720, i18n.t('h12')], ...(alerts.length === 1 ? [['resolved', i18n.t('untilResolved')] as [string, string]] : [])] as Array<[number | 'resolved', string]>;
      const reason = h('input', { name: 'reason', required: true, maxLength: 500, placeholder: i18n.t('silenceReason') });
      const choices = h('fieldset', { class: 'presets' }, h('legend', {}, i18n.t('silenceFor')), ...presets.map(([min, label], i) => h('label', {}, h('input', { type: 'radio', name: 'minutes', value: String(min), checked: i === 1 }), ` ${label}`)));
      const form = await ask(`${i18n.t('silenceTitle')} · ${alerts.length}`, [choices, h('label', {}, i18n.t('silenceReason'), reason)], i18n.t('silence'));
      if (!form) return;
      const choice = String(form.get('minutes'));
      const untilResolved = choice === 'resolved';
      const minutes = untilResolved ? 7 * 24 * 60 : Number(choice);
      const why = String(form.get('reason') ?? '').trim();
      // One alert: its rule at its sensor. A group: its rule in each of its districts.
      const scopes = alerts.length === 1 ? [{ ruleId: alerts[0]!.ruleId, sensor: alerts[0]!.sensorId || alerts[0]!.subjectId }] : [...new Set(alerts.map((a) => a.district ?? ''))].filter(Boolean).map((district) => ({ ruleId: alerts[0]!.ruleId, district }));
      // One request, one transaction: the group is silenced whole or not at all.
      await run(() => api('POST', '/api/silences/bulk', { silences: scopes.map((s) => ({ ...s, minutes, reason: why, ...(untilResolved ? { alertId: alerts[0]!.alertId } : {}) })) }));
    },

    /** Trust a suspect sensor's readings, saying why (required). */
    trust: (alert: Alert) => requiredText(alert, { field: 'note', max: 500, title: 'trustTitle', label: 'trustNote', submit: 'trust', action: 'trust' }),

    /** Resolve by hand, saying why (required). */
    resolve: (alert: Alert) => requiredText(alert, { field: 'reason', max: 1000, title: 'resolveTitle', label: 'resolveReason', submit: 'resolve', action: 'resolve' }),
  };
}
