/**
 * The duty console: log in, load the city once, then follow the live stream (`reset` once, then
 * numbered `batch` events; EventSource resumes with Last-Event-ID by itself after a drop) and
 * patch the views — counts, closure board, map, alert list, open panel — with what changed.
 */
import { $, setText } from './dom.ts';
import { api, ApiError } from './api.ts';
import { makeI18n, type Lang } from './i18n.ts';
import { applyBatch, applyReset, emptyModel, type BatchData, type Changes, type ResetData } from './model.ts';
import type { Ctx } from './context.ts';
import type { CityView } from '../../city.ts';
import { createBoard } from './board.ts';
import { createList } from './list.ts';
import { createMap } from './map.ts';
import { createPanel } from './panel.ts';
import { createDialogs } from './dialogs.ts';
import { createSilences } from './silences.ts';
import './console.css';

let lang: Lang = localStorage.getItem('fg-lang') === 'en' ? 'en' : 'zh';

function toast(msg: string): void {
  const el = $('toast');
  el.textContent = msg;
  el.hidden = false;
  clearTimeout((toast as unknown as { timer?: number }).timer);
  (toast as unknown as { timer?: number }).timer = window.setTimeout(() => (el.hidden = true), 4000);
}

/** Wall: a screen at least 2000 px wide, or ?view=wall. */
function layout(): void {
  const wall = new URLSearchParams(location.search).get('view') === 'wall' || window.innerWidth >= 2000;
  document.body.classList.toggle('wall', wall);
}

async function start(): Promise<void> {
  let me: { name: string; role: string };
  try {
    me = await api('GET', '/api/me');
  } catch {
    return showLogin();
  }
  const [city, districts] = await Promise.all([api<CityView & { mapTiles: string | null }>('GET', '/api/sites'), api<GeoJSON.FeatureCollection>('GET', '/api/districts.geojson')]);
  $('login').hidden = true;
  $('app').hidden = false;
  $('logout').hidden = false;
  const districtNames = new Map(city.districts.map((d) => [d.id, d.name]));
  const ctx: Ctx = {
    model: emptyModel(),
    city,
    sites: new Map(city.sites.map((s) => [s.id, s])),
    districtNames,
    districtOrder: city.districts.map((d) => d.id),
    i18n: makeI18n(lang, districtNames),
    me,
    canAct: me.role !== 'viewer',
    openAlert: (id) => void panel.openAlert(id),
    openSite: (id) => void panel.openSite(id),
    ack: (a) => void dialogs.ack(a),
    silence: (a) => void dialogs.silence(a),
    resolve: (a) => void dialogs.resolve(a),
    trust: (a) => void dialogs.trust(a),
  };
  const board = createBoard($('board'), ctx);
  const list = createList($('list'), ctx);
  const panel = createPanel($('panel'), ctx);
  const dialogs = createDialogs($<HTMLDialogElement>('dialog'), ctx, toast);
  const silences = createSilences($('silences'), ctx);
  layout(); // before the map measures its box
  const map = createMap($('map'), ctx, { districts, tiles: city.mapTiles });
  window.addEventListener('resize', () => (layout(), map.resize()));

  // Updates are gathered and drawn once per frame: a burst of batches is one repaint.
  let pending: Changes | undefined;
  function schedule(c: Changes): void {
    if (pending) {
      pending.all ||= c.all;
      c.alerts.forEach((x) => pending!.alerts.add(x));
      pending.silences ||= c.silences;
      pending.overview ||= c.overview;
    } else {
      pending = c;
      requestAnimationFrame(draw);
    }
  }
  function draw(): void {
    const c = pending!;
    pending = undefined;
    const o = ctx.model.overview;
    setText($('t-closed'), String(o.underpassesClosed));
    setText($('t-rivers'), String(o.riversAboveWarning));
    setText($('t-rain'), String(o.districtsInRainstorm));
    setText($('t-offline'), String(o.sensorsOffline));
    setText($('t-failed'), String(o.noticesFailed));
    board.render();
    list.render();
    map.render();
    if (c.silences || c.all) silences.render();
    panel.render(c.all ? 'all' : c.alerts);
  }
  function translate(): void {
    ctx.i18n = makeI18n(lang, districtNames);
    // The language of the text, for screen readers and fonts, on the parts that hold text: on <html>
    // it would restyle the map's hundreds of markers too (a 250 ms task at 4× CPU throttling).
    for (const id of ['top', 'board', 'list', 'side', 'panel', 'dialog', 'tiles']) document.getElementById(id)?.setAttribute('lang', lang === 'zh' ? 'zh-CN' : 'en');
    for (const el of document.querySelectorAll<HTMLElement>('[data-i18n]')) el.textContent = ctx.i18n.t(el.dataset['i18n'] as never);
    setText($('lang'), lang === 'zh' ? 'EN' : '中文');
    setText($('me'), `${me.name} · ${ctx.i18n.t(me.role as never)}`);
    setText($('city'), (lang === 'zh' ? city.city.zh : city.city.en) ?? city.city.id);
    document.title = `${ctx.i18n.t('title')} · ${$('city').textContent}`;
    const tz = /([+-]\d\d:\d\d|Z)$/.exec(ctx.model.at)?.[1] ?? '';
    setText($('tz'), tz ? ctx.i18n.t('timezone', { tz: `UTC${tz}` }) : '');
    schedule({ alerts: new Set(), notices: new Set(), silences: true, overview: true, levels: new Set(), all: true });
  }
  $('lang').onclick = () => {
    lang = lang === 'zh' ? 'en' : 'zh';
    localStorage.setItem('fg-lang', lang);
    translate();
  };
  $('notice-search').onsubmit = (e) => {
    e.preventDefault();
    const q = ($('notice-q') as HTMLInputElement).value.trim();
    const site = ctx.city.sites.find((s) => s.id === q || s.name.includes(q));
    if (site) ctx.openSite(site.id);
  };

  const live = $('live');
  const stream = new EventSource('/api/stream');
  stream.addEventListener('reset', (e) => {
    const r = applyReset(JSON.parse((e as MessageEvent<string>).data) as ResetData);
    ctx.model = r.model;
    live.className = 'live on';
    live.dataset['i18n'] = 'online';
    translate();
  });
  stream.addEventListener('batch', (e) => {
    schedule(applyBatch(ctx.model, JSON.parse((e as MessageEvent<string>).data) as BatchData));
    live.className = 'live on';
  });
  stream.onerror = () => {
    live.className = 'live off';
    live.dataset['i18n'] = 'offline';
    setText(live, ctx.i18n.t('offline'));
    void fetch('/api/me').then((r) => r.status === 401 && (stream.close(), showLogin()));
  };
  $('logout').onclick = () => void fetch('/api/logout', { method: 'POST' }).then(() => (stream.close(), showLogin()));
  translate();
}

function showLogin(): void {
  $('app').hidden = true;
  $('logout').hidden = true;
  $('login').hidden = false;
  $('token').focus();
}

$('login-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const token = ($('token') as HTMLInputElement).value;
  api('POST', '/api/login', { token })
    .then(() => {
      ($('token') as HTMLInputElement).value = '';
      setText($('login-error'), '');
      return start();
    })
    .catch((err: unknown) => {
      if (!(err instanceof ApiError)) console.error(err); // eslint-disable-line no-console -- a console bug shows in the browser's console
      throw err;
    })
    .catch((err: unknown) => setText($('login-error'), makeI18n(lang, new Map()).t(err instanceof ApiError && err.status === 429 ? 'tooMany' : 'badToken')));
});
document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
for (const el of document.querySelectorAll<HTMLElement>('[data-i18n]')) el.textContent = makeI18n(lang, new Map()).t(el.dataset['i18n'] as never);
start().catch((err: unknown) => console.error(err)); // eslint-disable-line no-console -- as above
