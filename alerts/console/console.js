// The duty officers' console: no framework, no CDN. Data comes from the alerts API with the
// session cookie set by /api/login; live updates arrive as server-sent events (/api/stream).
'use strict';

const I18N = {
  zh: {
    title: '防汛值班台', offline: '未连接', online: '实时', logout: '退出', token: '访问令牌', login: '登录',
    closed: '封闭下立交', rivers: '超警戒水位', rain: '暴雨预警区', offlineSensors: '离线传感器', failedNotices: '通知失败',
    open: '当前告警', none: '无告警', notices: '通知投递', time: '时间', rule: '类别', subject: '对象', value: '数值',
    reason: '原因', ack: '确认', recipient: '接收方', action: '动作', status: '状态', note: '备注', doAck: '确认',
    ackedBy: '已确认', badToken: '令牌无效', silenced: '已静默', escalated: '已升级', resolve: '解除', resolveReason: '解除原因（必填）', silences: '静默', tooMany: '尝试过多，请稍候', viewer: '只读', officer: '值班员', admin: '管理员',
    pending: '待发', delivered: '已送达', failed: '失败',
    district: '区', silenceTarget: '编号', silenceReason: '原因（必填）', addSilence: '静默', until: '至', end: '结束', noSilences: '无静默',
    sensors: '传感器', search: '编号或名称', sensor: '传感器', site: '位置', lastSeen: '最后上报', spark: '近6小时',
  },
  en: {
    title: 'Flood duty console', offline: 'offline', online: 'live', logout: 'Log out', token: 'Access token', login: 'Log in',
    closed: 'Underpasses closed', rivers: 'Rivers above warning', rain: 'Districts in rainstorm', offlineSensors: 'Sensors offline', failedNotices: 'Notices failed',
    open: 'Open alerts', none: 'No alerts', notices: 'Notice delivery', time: 'Time', rule: 'Rule', subject: 'Subject', value: 'Value',
    reason: 'Reason', ack: 'Acknowledge', recipient: 'Recipient', action: 'Action', status: 'Status', note: 'note', doAck: 'Ack',
    ackedBy: 'acknowledged by', badToken: 'Unknown token', silenced: 'silenced', escalated: 'escalated', resolve: 'Resolve', resolveReason: 'Why resolve by hand? (required)', silences: 'Silences', tooMany: 'Too many attempts; wait a minute', viewer: 'viewer', officer: 'officer', admin: 'admin',
    pending: 'pending', delivered: 'delivered', failed: 'failed',
    district: 'District', silenceTarget: 'id', silenceReason: 'reason (required)', addSilence: 'Silence', until: 'until', end: 'End', noSilences: 'No silences',
    sensors: 'Sensors', search: 'id or name', sensor: 'Sensor', site: 'Site', lastSeen: 'Last seen', spark: 'Last 6 h',
  },
};
let lang = localStorage.getItem('fg-lang') === 'en' ? 'en' : 'zh';
let me = null;
let last = null;
let stream = null;
const $ = (id) => document.getElementById(id);
const t = (k) => I18N[lang][k] ?? k;

function translate() {
  document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
  for (const el of document.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of document.querySelectorAll('[data-i18n-placeholder]')) el.placeholder = t(el.dataset.i18nPlaceholder);
  $('lang').textContent = lang === 'zh' ? 'EN' : '中文';
  if (me) $('me').textContent = `${me.name} · ${t(me.role)}`;
  if (last) render(last);
}

function cell(tr, text, cls) {
  const td = document.createElement('td');
  if (cls) td.className = cls;
  td.textContent = text;
  tr.appendChild(td);
  return td;
}
const hhmm = (iso) => (iso ? iso.slice(11, 16) : '');

function render(s) {
  last = s;
  const o = s.overview;
  $('t-closed').textContent = o.underpassesClosed;
  $('t-rivers').textContent = o.riversAboveWarning;
  $('t-rain').textContent = o.districtsInRainstorm;
  $('t-offline').textContent = o.sensorsOffline;
  $('t-failed').textContent = o.noticesFailed;

  const body = $('alerts').tBodies[0];
  body.replaceChildren();
  const canAck = me && me.role !== 'viewer';
  for (const a of s.firing) {
    const tr = document.createElement('tr');
    tr.className = a.severity;
    tr.dataset.alertId = a.alertId;
    cell(tr, hhmm(a.firedAt));
    const rule = cell(tr, a.ruleId + ' ');
    const sev = document.createElement('span');
    sev.className = `sev ${a.severity}`;
    sev.textContent = a.level ?? a.severity;
    rule.appendChild(sev);
    for (const [flag, on] of [['silenced', a.silenced], ['escalated', a.escalatedAt]]) {
      if (!on) continue;
      const b = document.createElement('span');
      b.className = `badge ${flag}`;
      b.textContent = t(flag);
      rule.append(' ', b);
    }
    cell(tr, a.subjectId);
    cell(tr, `${a.value} ${a.unit}`);
    cell(tr, a.reason);
    const ack = cell(tr, '', 'ack');
    if (a.ackedAt) {
      ack.textContent = `${t('ackedBy')} ${a.ackedBy}${a.ackNote ? ` — ${a.ackNote}` : ''}`;
      ack.classList.add('acked');
    } else if (canAck) {
      const form = document.createElement('form');
      const note = document.createElement('input');
      note.name = 'note';
      note.placeholder = t('note');
      note.maxLength = 1000;
      const btn = document.createElement('button');
      btn.type = 'submit';
      btn.className = 'primary';
      btn.textContent = t('doAck');
      form.append(note, btn);
      form.addEventListener('submit', (e) => {
        e.preventDefault();
        btn.disabled = true;
        fetch(`/api/alerts/${encodeURIComponent(a.alertId)}/ack`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ note: note.value || undefined }) })
          .then((r) => (r.ok ? r.json() : Promise.reject(r.status)))
          .then(() => refresh())
          .catch(() => (btn.disabled = false));
      });
      ack.appendChild(form);
    }
    if (canAck) {
      const resolve = document.createElement('button');
      resolve.type = 'button';
      resolve.className = 'resolve';
      resolve.textContent = t('resolve');
      resolve.addEventListener('click', () => {
        const reason = window.prompt(t('resolveReason'));
        if (!reason) return;
        fetch(`/api/alerts/${encodeURIComponent(a.alertId)}/resolve`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ reason }) });
      });
      ack.appendChild(resolve);
    }
    body.appendChild(tr);
  }
  $('no-alerts').hidden = s.firing.length > 0;

  const sl = $('silence-list');
  sl.replaceChildren();
  $('silence-form').hidden = !canAck;
  for (const x of s.silences ?? []) {
    const li = document.createElement('li');
    const what = [x.ruleId, x.sensor, x.site, x.district].filter(Boolean).join(' · ');
    li.textContent = `${what} — ${x.reason} (${t('until')} ${x.until.slice(11, 16)}, ${x.createdBy}) `;
    if (canAck) {
      const end = document.createElement('button');
      end.type = 'button';
      end.textContent = t('end');
      end.addEventListener('click', () => fetch(`/api/silences/${x.id}`, { method: 'DELETE' }));
      li.appendChild(end);
    }
    sl.appendChild(li);
  }
  if ((s.silences ?? []).length === 0) {
    const li = document.createElement('li');
    li.className = 'quiet';
    li.textContent = t('noSilences');
    sl.appendChild(li);
  }

  const nb = $('notices').tBodies[0];
  nb.replaceChildren();
  for (const n of s.notices) {
    const tr = document.createElement('tr');
    cell(tr, hhmm(n.createdAt));
    cell(tr, n.subjectId);
    cell(tr, n.recipient);
    cell(tr, n.action);
    cell(tr, `${t(n.status)}${n.attempts > 1 ? ` (${n.attempts})` : ''}${n.lastError && n.status !== 'delivered' ? ` — ${n.lastError}` : ''}`, `status-${n.status}`);
    nb.appendChild(tr);
  }
}

const SVG = 'http://www.w3.org/2000/svg';
/** A sparkline as an inline SVG polyline (no library): gaps where nothing was heard. */
function sparkline(values) {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', '0 0 144 28');
  svg.setAttribute('class', 'spark');
  const known = values.filter((v) => v !== null);
  if (known.length === 0) return svg;
  const lo = Math.min(...known);
  const hi = Math.max(...known);
  const y = (v) => 26 - ((v - lo) / (hi - lo || 1)) * 24;
  let points = [];
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

let sensorTimer;
async function loadSensors() {
  const q = $('sensor-q').value.trim();
  const r = await fetch(`/api/sensors?limit=50${q ? `&q=${encodeURIComponent(q)}` : ''}`);
  if (!r.ok) return;
  const { sensors } = await r.json();
  const body = $('sensors').tBodies[0];
  body.replaceChildren();
  for (const s of sensors) {
    const tr = document.createElement('tr');
    tr.dataset.sensorId = s.id;
    cell(tr, s.id);
    cell(tr, s.name || s.site);
    cell(tr, s.value === null ? '–' : `${s.value} ${s.unit}`);
    cell(tr, s.lastSeen ? s.lastSeen.slice(11, 19) : '–');
    cell(tr, '').appendChild(sparkline(s.spark));
    body.appendChild(tr);
  }
}

async function refresh() {
  const r = await fetch('/api/overview');
  if (r.status === 401) return showLogin();
}

function connect() {
  stream?.close();
  stream = new EventSource('/api/stream');
  stream.addEventListener('snapshot', (e) => {
    $('live').className = 'live on';
    $('live').dataset.i18n = 'online';
    $('live').textContent = t('online');
    render(JSON.parse(e.data));
    clearTimeout(sensorTimer);
    sensorTimer = setTimeout(loadSensors, 300);
  });
  stream.onerror = () => {
    $('live').className = 'live off';
    $('live').dataset.i18n = 'offline';
    $('live').textContent = t('offline');
    fetch('/api/me').then((r) => r.status === 401 && showLogin());
  };
}

function showLogin() {
  stream?.close();
  me = null;
  $('app').hidden = true;
  $('logout').hidden = true;
  $('me').textContent = '';
  $('login').hidden = false;
  $('token').focus();
}

async function start() {
  const r = await fetch('/api/me');
  if (!r.ok) return showLogin();
  me = await r.json();
  $('login').hidden = true;
  $('app').hidden = false;
  $('logout').hidden = false;
  translate();
  connect();
}

$('login-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const r = await fetch('/api/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: $('token').value }) });
  $('login-error').textContent = r.ok ? '' : t(r.status === 429 ? 'tooMany' : 'badToken');
  if (r.ok) {
    $('token').value = '';
    start();
  }
});
$('logout').addEventListener('click', () => fetch('/api/logout', { method: 'POST' }).then(showLogin));
$('silence-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const body = { [$('silence-scope').value]: $('silence-target').value.trim(), minutes: Number($('silence-minutes').value), reason: $('silence-reason').value.trim() };
  fetch('/api/silences', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }).then((r) => {
    if (r.ok) {
      $('silence-target').value = '';
      $('silence-reason').value = '';
    }
  });
});
$('sensor-q').addEventListener('input', () => {
  clearTimeout(sensorTimer);
  sensorTimer = setTimeout(loadSensors, 200);
});
$('lang').addEventListener('click', () => {
  lang = lang === 'zh' ? 'en' : 'zh';
  localStorage.setItem('fg-lang', lang);
  translate();
});
translate();
start();
