/**
 * Why an alert changed, as data: a template key and its parameters, carried by every alert event
 * (`why`) beside the English `reason` sentence (kept for logs, notices and older consumers). The
 * console renders the reason in the reader's language from these templates, so a Chinese page
 * never shows an English sentence (issue 19 §6). Rule, severity, level and state names live here
 * too: one vocabulary for the console, the duty channels and the docs. The console's bundle
 * imports this file, so it imports nothing.
 *
 * Template syntax: `{name}` is a parameter; `[…]` is dropped when a parameter inside it is
 * missing (the "was yellow" tail of a rain level that had no level before).
 */
export const REASON_KEYS = [
  'offline.silent',
  'offline.back',
  'battery.low',
  'battery.ok',
  'quality.out-of-range',
  'quality.spike',
  'quality.flatline',
  'quality.parked-vehicle',
  'quality.baseline-shift',
  'quality.clean',
  'quality.trusted',
  'underpass.warn',
  'underpass.warn-clear',
  'underpass.warn-suspect',
  'closure.early',
  'closure.forecast',
  'closure.confirmed',
  'closure.sustained',
  'closure.reopen',
  'pump.advise',
  'pump.clear',
  'level.warn',
  'level.warn-clear',
  'level.danger',
  'level.danger-clear',
  'rise.fire',
  'rise.clear',
  'rain.level',
  'rain.clear',
  'gale.level',
  'gale.clear',
  'district.level',
  'district.clear',
  'manual.resolve',
  'delivery.failed',
  'delivery.ok',
  'spool.warning',
  'spool.critical',
  'spool.full',
  'spool.ok',
] as const;
export type ReasonKey = (typeof REASON_KEYS)[number];

/** A reason as data (validated by contracts/alerts.ts#Why; this module stays free of zod: the console bundles it). */
export interface Why {
  key: ReasonKey;
  params: Record<string, string | number>;
}

export type Lang = 'zh' | 'en';
type Catalogue = Record<ReasonKey, string>;

export const REASON_TEMPLATES: Record<Lang, Catalogue> = {
  en: {
    'offline.silent': 'nothing for {silentS} s (expected every {everyS} s)',
    'offline.back': 'reporting again',
    'battery.low': 'battery {v} V (low below {min} V)',
    'battery.ok': 'battery {v} V again',
    'quality.out-of-range': 'value {v} outside the plausible range',
    'quality.spike': '{n} single-reading spikes within an hour',
    'quality.flatline': 'the same value {v} for {n} readings',
    'quality.parked-vehicle': 'jumped to {v} cm and holds still: a vehicle or an object under the sensor?',
    'quality.baseline-shift': 'sensor suspect, baseline shift: {v} cm for {min} min while the rain gauges near measured {mm} mm in {dryH} h (a moved baseline, or something under the sensor)',
    'quality.clean': 'clean for {n} readings[ (was: {was})]',
    'quality.trusted': 'readings trusted by {by}: {note}',
    'underpass.warn': 'ponding above {warnCm} cm, now {v} cm',
    'underpass.warn-clear': 'ponding below {clearCm} cm, now {v} cm',
    'underpass.warn-suspect': 'withdrawn: the sensor is suspect (a vehicle, an object or a moved baseline), now {v} cm',
    'closure.early': 'ponding rising {rate} cm/min (early close at {earlyRate}), now {v} cm above {closeCm} cm[; rain {rain} mm/h in {district} ({gauge})][; no rain at {dry} in {dryMin} min][; neighbour {neighbour} at {nv} cm]',
    'closure.forecast': 'forecast to reach {closeCm} cm in {inMin} min, rising {rate} cm/min, now {v} cm[; rain {rain} mm/h in {district} ({gauge})][; no rain at {dry} in {dryMin} min][; neighbour {neighbour} at {nv} cm]',
    'closure.confirmed': 'ponding above {closeCm} cm, now {v} cm, confirmed[; rain {rain} mm/h in {district} ({gauge})][; no rain at {dry} in {dryMin} min][; neighbour {neighbour} at {nv} cm]',
    'closure.sustained': 'ponding above {closeCm} cm for {heldS} s ({n} readings), now {v} cm[; rain {rain} mm/h in {district} ({gauge})][; no rain at {dry} in {dryMin} min][; neighbour {neighbour} at {nv} cm]',
    'closure.reopen': 'ponding below {reopenCm} cm for {heldS} s ({n} readings), now {v} cm',
    'pump.advise': 'pre-position pump trucks: {level} rain in {district} and ponding up {rise} cm within {windowMin} min, now {v} cm',
    'pump.clear': 'rain eased or ponding below {minDepthCm} cm for {clearMin} min',
    'level.warn': 'level {v} m at or above the warning level {level} m',
    'level.warn-clear': 'level {v} m, below {below} m',
    'level.danger': 'level {v} m at or above the danger level {level} m',
    'level.danger-clear': 'level {v} m, below {below} m',
    'rise.fire': 'level rose {rise} m within {windowMin} min, now {v} m',
    'rise.clear': 'rise eased to {rise} m',
    'rain.level': '{level}: {mm} mm in {window} (≥ {threshold} mm)[, was {was}]',
    'rain.clear': 'rain totals below the blue level for {clearMin} min',
    'gale.level': '{level} gale: gusts {gust} m/s, mean {mean} m/s (≥ {gustMs} gust or {meanMs} mean)[, was {was}]',
    'gale.clear': 'wind below the blue gale level for {clearMin} min',
    'district.level': '{n} gauges of {district} at {level} or above[, was {was}]',
    'district.clear': 'fewer than {min} gauges at a rainstorm level',
    'manual.resolve': 'resolved by {by}: {text}',
    'delivery.failed': '{action} notice for {subject} could not be delivered to {recipient}: inform them by phone, then resend it from the console',
    'delivery.ok': 'delivered to {recipient} on attempt {attempt}',
    'spool.warning': 'the reading store is not keeping up: {rows} readings wait in the spool ({pct}%), the oldest for {oldestMin} min',
    'spool.critical': 'the reading store is failing: {rows} readings wait in the spool ({pct}%), the oldest for {oldestMin} min',
    'spool.full': 'the spool is full ({pct}%): devices hold their readings until the store takes them again',
    'spool.ok': 'the store is taking readings again',
  },
  zh: {
    'offline.silent': '{silentS} 秒无数据（应每 {everyS} 秒上报）',
    'offline.back': '已恢复上报',
    'battery.low': '电池电压 {v} V（低于 {min} V）',
    'battery.ok': '电池电压恢复至 {v} V',
    'quality.out-of-range': '数值 {v} 超出合理范围',
    'quality.spike': '一小时内出现 {n} 次单点突跳',
    'quality.flatline': '连续 {n} 个读数均为 {v}',
    'quality.parked-vehicle': '突变为 {v} cm 且不再变化：疑似车辆或物体停在传感器下',
    'quality.baseline-shift': '传感器可疑（基线漂移）：读数 {v} cm 已持续 {min} 分钟，而附近雨量站 {dryH} 小时内仅 {mm} mm（基线偏移或传感器下有遮挡物）',
    'quality.clean': '连续 {n} 个读数正常[（此前：{was}）]',
    'quality.trusted': '{by} 确认读数可信：{note}',
    'underpass.warn': '积水超过 {warnCm} cm，当前 {v} cm',
    'underpass.warn-clear': '积水低于 {clearCm} cm，当前 {v} cm',
    'underpass.warn-suspect': '已撤销：传感器可疑（车辆、遮挡物或基线漂移），当前 {v} cm',
    'closure.early': '积水每分钟上涨 {rate} cm（提前封闭阈值 {earlyRate}），当前 {v} cm，超过 {closeCm} cm[；{district}降雨 {rain} mm/h（{gauge}）][；{dry} {dryMin} 分钟内无降雨][；邻近 {neighbour} 积水 {nv} cm]',
    'closure.forecast': '预计 {inMin} 分钟后达到 {closeCm} cm，每分钟上涨 {rate} cm，当前 {v} cm[；{district}降雨 {rain} mm/h（{gauge}）][；{dry} {dryMin} 分钟内无降雨][；邻近 {neighbour} 积水 {nv} cm]',
    'closure.confirmed': '积水超过 {closeCm} cm，当前 {v} cm，已获佐证[；{district}降雨 {rain} mm/h（{gauge}）][；{dry} {dryMin} 分钟内无降雨][；邻近 {neighbour} 积水 {nv} cm]',
    'closure.sustained': '积水超过 {closeCm} cm 已持续 {heldS} 秒（{n} 个读数），当前 {v} cm[；{district}降雨 {rain} mm/h（{gauge}）][；{dry} {dryMin} 分钟内无降雨][；邻近 {neighbour} 积水 {nv} cm]',
    'closure.reopen': '积水低于 {reopenCm} cm 已持续 {heldS} 秒（{n} 个读数），当前 {v} cm',
    'pump.advise': '请预置泵车：{district}出现{level}降雨，积水 {windowMin} 分钟内上涨 {rise} cm，当前 {v} cm',
    'pump.clear': '降雨减弱或积水低于 {minDepthCm} cm 已 {clearMin} 分钟',
    'level.warn': '水位 {v} m，达到或超过警戒水位 {level} m',
    'level.warn-clear': '水位 {v} m，已低于 {below} m',
    'level.danger': '水位 {v} m，达到或超过保证水位 {level} m',
    'level.danger-clear': '水位 {v} m，已低于 {below} m',
    'rise.fire': '水位 {windowMin} 分钟内上涨 {rise} m，当前 {v} m',
    'rise.clear': '涨幅回落至 {rise} m',
    'rain.level': '{level}：{window} 雨量 {mm} mm（≥ {threshold} mm）[，此前{was}]',
    'rain.clear': '雨量低于蓝色等级已 {clearMin} 分钟',
    'gale.level': '{level}大风：阵风 {gust} m/s，平均 {mean} m/s（阵风 ≥ {gustMs} 或平均 ≥ {meanMs}）[，此前{was}]',
    'gale.clear': '风力低于蓝色大风等级已 {clearMin} 分钟',
    'district.level': '{district}有 {n} 个雨量站达到{level}及以上[，此前{was}]',
    'district.clear': '达到暴雨等级的雨量站少于 {min} 个',
    'manual.resolve': '{by} 手动解除：{text}',
    'delivery.failed': '{subject} 的{action}通知未能送达 {recipient}：请电话告知对方，然后在值班台重发',
    'delivery.ok': '第 {attempt} 次尝试已送达 {recipient}',
    'spool.warning': '读数库写入跟不上：缓存中有 {rows} 条读数待写（{pct}%），最早的已等待 {oldestMin} 分钟',
    'spool.critical': '读数库写入故障：缓存中有 {rows} 条读数待写（{pct}%），最早的已等待 {oldestMin} 分钟',
    'spool.full': '缓存已满（{pct}%）：设备暂存读数，待读数库恢复后补传',
    'spool.ok': '读数库已恢复写入',
  },
};

/** Names people read, in both languages: rules, severities, rain levels, states, notice actions. */
export const VOCABULARY: Record<Lang, Record<string, Record<string, string>>> = {
  en: {
    rule: {
      'underpass-closure': 'Underpass closure', 'underpass-warning': 'Underpass ponding', 'water-level-warning': 'River above warning', 'water-level-danger': 'River above danger',
      'water-level-rise': 'River rising fast', rainstorm: 'Rainstorm', 'district-rainstorm': 'District rainstorm', gale: 'Gale', 'sensor-offline': 'Sensor offline',
      'sensor-battery': 'Low battery', 'sensor-data-quality': 'Data suspect', 'pump-advisory': 'Pump trucks advised', 'notice-delivery': 'Notice undelivered', 'ingest-spool': 'Reading store behind',
    },
    severity: { critical: 'critical', warning: 'warning', info: 'info' },
    level: { blue: 'blue', yellow: 'yellow', orange: 'orange', red: 'red' },
    state: { firing: 'firing', resolved: 'resolved' },
    action: { close: 'close', reopen: 'reopen', firing: 'firing', update: 'update', resolved: 'resolved', escalated: 'escalated' },
    status: { pending: 'pending', delivered: 'delivered', failed: 'failed' },
  },
  zh: {
    rule: {
      'underpass-closure': '下立交封闭', 'underpass-warning': '下立交积水', 'water-level-warning': '超警戒水位', 'water-level-danger': '超保证水位',
      'water-level-rise': '水位快速上涨', rainstorm: '暴雨', 'district-rainstorm': '区域暴雨', gale: '大风', 'sensor-offline': '传感器离线',
      'sensor-battery': '电池电量低', 'sensor-data-quality': '数据可疑', 'pump-advisory': '建议预置泵车', 'notice-delivery': '通知未送达', 'ingest-spool': '读数库积压',
    },
    severity: { critical: '严重', warning: '警告', info: '提示' },
    level: { blue: '蓝色', yellow: '黄色', orange: '橙色', red: '红色' },
    state: { firing: '进行中', resolved: '已解除' },
    action: { close: '封闭', reopen: '解封', firing: '告警', update: '更新', resolved: '解除', escalated: '升级' },
    status: { pending: '待发', delivered: '已送达', failed: '失败' },
  },
};

/**
 * Render a reason. `param` formats a parameter for the reader (a level or district id to its
 * name); a template whose required parameter is missing renders the parameter's name in braces,
 * so a gap is visible rather than silently dropped.
 */
export function renderReason(lang: Lang, why: Why, param: (name: string, value: string | number) => string = (_n, v) => String(v)): string {
  const fill = (s: string, optional: boolean): string | null => {
    let missing = false;
    const out = s.replace(/\{(\w+)\}/g, (_m, name: string) => {
      const v = why.params[name];
      if (v === undefined) {
        missing = true;
        return `{${name}}`;
      }
      return param(name, v);
    });
    return optional && missing ? null : out;
  };
  const template = REASON_TEMPLATES[lang][why.key];
  return fill(template.replace(/\[([^\]]*)\]/g, (_m, inner: string) => fill(inner, true) ?? ''), false)!;
}
