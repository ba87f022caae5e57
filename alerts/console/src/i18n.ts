/**
 * The console's words, Chinese first. Rule, severity, level, state and action names and the
 * reason templates come from contracts/reasons.ts (one vocabulary with the server); a reason is
 * rendered from its key and parameters, never shown as the stored English sentence in Chinese.
 */
import { renderReason, VOCABULARY, type Lang, type Why } from '../../../contracts/reasons.ts';

export type { Lang };

const UI = {
  zh: {
    title: '防汛值班台', offline: '未连接', online: '实时', logout: '退出', token: '访问令牌', login: '登录', badToken: '令牌无效', tooMany: '尝试过多，请稍候',
    closed: '封闭下立交', rivers: '超警戒水位', rain: '暴雨预警区', offlineSensors: '离线传感器', failedNotices: '通知失败',
    board: '封闭中的下立交', boardEmpty: '目前没有封闭的下立交', since: '封闭于', depth: '当前积水', trend: '10分钟变化', notices: '通知',
    alerts: '告警', map: '全市地图', cluster: '聚合', legend: '图例',
    rule: '类别', district: '区', severity: '级别', state: '状态', acked: '确认', search: '搜索编号、名称、道路', sort: '排序', all: '全部',
    newest: '最新', oldest: '最早', bySeverity: '按级别', byDistrict: '按区', byRule: '按类别', yes: '已确认', no: '未确认',
    showing: '显示 {n} / {m} 条', filtered: '（筛选前共 {total} 条）', more: '再显示 {n} 条', none: '无告警',
    group: '{rule} × {n}', groupDistricts: '{n} 个区', unacked: '{n} 条未确认', expand: '展开', collapse: '收起',
    ack: '确认', ackAll: '全部确认', silence: '静默', resolve: '解除', details: '详情', note: '备注', addNote: '添加备注', save: '保存', cancel: '取消',
    ackTitle: '确认告警', ackGroupTitle: '确认 {n} 条告警', notePlaceholder: '备注（可选），如：已电话通知交警', confirm: '确认',
    resolveTitle: '手动解除', resolveReason: '解除原因（必填）', trust: '确认读数可信', trustTitle: '确认读数可信：按积水处理，直至读数回落', trustNote: '依据（必填），如：现场确认水管爆裂', silenceTitle: '静默', silenceFor: '静默时长', min30: '30 分钟', h2: '2 小时', h12: '12 小时', untilResolved: '直至解除', silenceReason: '原因（必填）',
    silences: '静默中', noSilences: '无静默', end: '结束', until: '至',
    ackedBy: '{who} 已确认', silenced: '已静默', escalated: '已升级',
    audit: '处理记录', attempts: '投递记录', recipient: '接收方', status: '状态', attempt: '第 {n} 次', noticesOf: '通知投递', images: '图片报', imageOf: '{sensor} 图片 {time}',
    noticeSearch: '按下立交查通知', site: '位置', road: '道路', sensors: '传感器', value: '数值', lastSeen: '最后上报', spark: '近6小时',
    viewer: '只读', officer: '值班员', admin: '管理员', timezone: '时间为 {tz}', failed: '失败', saved: '已保存', error: '出错：{msg}',
    kind_underpass: '下立交', 'kind_water-level-station': '水位站', 'kind_rain-station': '雨量站',
    st_closed: '封闭', st_danger: '超保证', st_warning: '警戒/积水', st_rainstorm: '暴雨/大风', st_suspect: '数据可疑', st_offline: '离线', st_normal: '正常',
    fired: '告警', changed: '变更', acknowledged: '确认', resolved: '解除', 'fired again': '再次告警',
  },
  en: {
    title: 'Flood duty console', offline: 'offline', online: 'live', logout: 'Log out', token: 'Access token', login: 'Log in', badToken: 'Unknown token', tooMany: 'Too many attempts; wait a minute',
    closed: 'Underpasses closed', rivers: 'Rivers above warning', rain: 'Districts in rainstorm', offlineSensors: 'Sensors offline', failedNotices: 'Notices failed',
    board: 'Closed underpasses', boardEmpty: 'No underpass is closed', since: 'closed since', depth: 'depth now', trend: '10-min change', notices: 'notices',
    alerts: 'Alerts', map: 'City map', cluster: 'Cluster', legend: 'Legend',
    rule: 'Rule', district: 'District', severity: 'Severity', state: 'State', acked: 'Acknowledged', search: 'Search id, name, road', sort: 'Sort', all: 'all',
    newest: 'newest', oldest: 'oldest', bySeverity: 'severity', byDistrict: 'district', byRule: 'rule', yes: 'acknowledged', no: 'not acknowledged',
    showing: 'showing {n} of {m}', filtered: ' ({total} before filters)', more: 'show {n} more', none: 'No alerts',
    group: '{rule} × {n}', groupDistricts: '{n} districts', unacked: '{n} not acknowledged', expand: 'Expand', collapse: 'Collapse',
    ack: 'Ack', ackAll: 'Ack all', silence: 'Silence', resolve: 'Resolve', details: 'Details', note: 'Note', addNote: 'Add note', save: 'Save', cancel: 'Cancel',
    ackTitle: 'Acknowledge alert', ackGroupTitle: 'Acknowledge {n} alerts', notePlaceholder: 'Note (optional), e.g. police informed by phone', confirm: 'Confirm',
    resolveTitle: 'Resolve by hand', resolveReason: 'Reason (required)', trust: 'Trust readings', trustTitle: 'Trust the readings: water, until the sensor reads dry again', trustNote: 'Why (required), e.g. burst main seen on site', silenceTitle: 'Silence', silenceFor: 'For', min30: '30 min', h2: '2 h', h12: '12 h', untilResolved: 'until resolved', silenceReason: 'Reason (required)',
    silences: 'Silences', noSilences: 'No silences', end: 'End', until: 'until',
    ackedBy: 'acknowledged by {who}', silenced: 'silenced', escalated: 'escalated',
    audit: 'Audit trail', attempts: 'Delivery attempts', recipient: 'Recipient', status: 'Status', attempt: 'attempt {n}', noticesOf: 'Notice delivery', images: 'Station images', imageOf: '{sensor} image {time}',
    noticeSearch: 'Notices of an underpass', site: 'Site', road: 'Road', sensors: 'Sensors', value: 'Value', lastSeen: 'Last seen', spark: 'Last 6 h',
    viewer: 'viewer', officer: 'officer', admin: 'admin', timezone: 'times in {tz}', failed: 'failed', saved: 'saved', error: 'error: {msg}',
    kind_underpass: 'underpass', 'kind_water-level-station': 'water-level station', 'kind_rain-station': 'rain gauge',
    st_closed: 'closed', st_danger: 'above danger', st_warning: 'warning / ponding', st_rainstorm: 'rainstorm / gale', st_suspect: 'data suspect', st_offline: 'offline', st_normal: 'normal',
    fired: 'fired', changed: 'changed', acknowledged: 'acknowledged', resolved: 'resolved', 'fired again': 'fired again',
  },
} as const;

export type UiKey = keyof (typeof UI)['zh'];

export interface I18n {
  lang: Lang;
  t(key: UiKey, params?: Record<string, string | number>): string;
  /** A vocabulary word (rule, severity, level, state, action, status); the id itself if unknown. */
  word(kind: 'rule' | 'severity' | 'level' | 'state' | 'action' | 'status', id: string): string;
  district(id: string): string;
  /** An alert's reason in this language. */
  reason(a: { why?: Why | null; reason?: string; ruleId: string; value: number; threshold: number; unit: string }): string;
  /** A time with its date and offset: 07-01 18:03 (+08:00). */
  time(iso: string | undefined | null): string;
}

const fill = (s: string, params?: Record<string, string | number>) => s.replace(/\{(\w+)\}/g, (_m, k: string) => String(params?.[k] ?? `{${k}}`));

export function makeI18n(lang: Lang, districtNames: Map<string, string>): I18n {
  const ui = UI[lang] as Record<UiKey, string>;
  const word: I18n['word'] = (kind, id) => VOCABULARY[lang][kind]?.[id] ?? id;
  const district = (id: string) => {
    const name = districtNames.get(id);
    if (lang === 'zh') return name ?? id;
    return id ? id[0]!.toUpperCase() + id.slice(1) : id;
  };
  // Parameters that are ids become names: a level colour, a district, a rule's notice action.
  const param = (name: string, v: string | number) => {
    if (typeof v === 'number') return String(v);
    if (name === 'level' || name === 'was') return word('level', v);
    if (name === 'district') return district(v);
    if (name === 'action') return word('action', v);
    return v;
  };
  return {
    lang,
    t: (key, params) => fill(ui[key] ?? key, params),
    word,
    district,
    reason(a) {
      if (a.why) return renderReason(lang, a.why, param);
      // Recorded before reasons carried their parameters: in Chinese, the rule and its numbers, never the English sentence.
      if (lang === 'en' && a.reason) return a.reason;
      return `${word('rule', a.ruleId)}：${a.value} ${a.unit}（阈值 ${a.threshold} ${a.unit}）`;
    },
    time(iso) {
      if (!iso) return '';
      const m = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d)(?::\d\d(?:\.\d+)?)?(Z|[+-]\d\d:\d\d)$/.exec(iso);
      if (!m) return iso;
      return `${m[2]}-${m[3]} ${m[4]}:${m[5]} (${m[6] === 'Z' ? 'UTC' : m[6]})`;
    },
  };
}
