/**
 * A sensor's readings over 6 h – 7 d as a chart (uPlot, bundled from npm): the water level or the
 * ponding depth against the levels the rules use, or the rain of each bucket with the 1 h and 6 h
 * totals. Times on the axis in the site's own offset, as every time on the page.
 */
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { h, setText } from './dom.ts';
import { api } from './api.ts';
import type { Ctx } from './context.ts';

interface ReadingsView {
  sensor: { id: string; kind: 'ponding' | 'water-level' | 'rain'; unit: string };
  from: string;
  to: string;
  stepS: number;
  points: Array<[number, number]>;
  totals?: { h1: number; h6: number };
  thresholds: Array<{ name: string; value: number }>;
}

const RANGES = ['6h', '24h', '3d', '7d'] as const;
const COLORS: Record<string, string> = { close: '#e5484d', warn: '#f5a524', reopen: '#30a46c', warning: '#f5a524', danger: '#e5484d', 'blue-1h': '#3e9ded', 'yellow-1h': '#f5a524', 'orange-1h': '#e5484d' };

/** The offset of an ISO time in minutes (+08:00 → 480). */
const offsetOf = (iso: string) => {
  const m = /([+-])(\d\d):(\d\d)$/.exec(iso);
  return m ? (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3])) : 0;
};

/** HH:MM in the site's offset, with MM-DD when the day differs from the previous tick's. */
function axisTime(sec: number, tzSec: number, prevSec: number | undefined): string {
  const d = new Date((sec + tzSec) * 1000).toISOString();
  const day = d.slice(5, 10);
  const prevDay = prevSec === undefined ? undefined : new Date((prevSec + tzSec) * 1000).toISOString().slice(5, 10);
  return prevDay === day ? d.slice(11, 16) : `${day} ${d.slice(11, 16)}`;
}

export function sensorChart(ctx: Ctx, sensorId: string): HTMLElement {
  const { i18n } = ctx;
  const title = h('span', { class: 'chart-title' });
  const totals = h('span', { class: 'chart-totals' });
  const holder = h('div', { class: 'chart' });
  const buttons = RANGES.map((r) => h('button', { type: 'button', class: 'range', dataset: { range: r }, onclick: () => void load(r) }, r));
  const root = h('figure', { class: 'sensor-chart', dataset: { sensorId } }, h('figcaption', {}, title, ' ', ...buttons, ' ', totals), holder);
  let plot: uPlot | undefined;

  async function load(range: (typeof RANGES)[number]): Promise<void> {
    buttons.forEach((b) => b.classList.toggle('on', b.dataset['range'] === range));
    const v = await api<ReadingsView>('GET', `/api/sensors/${encodeURIComponent(sensorId)}/readings?range=${range}`);
    setText(title, `${sensorId} · ${v.sensor.unit}`);
    setText(totals, v.totals ? `1h ${v.totals.h1} mm · 6h ${v.totals.h6} mm` : '');
    const tz = offsetOf(v.to) * 60;
    const xs = v.points.map(([t]) => t / 1000);
    const ys = v.points.map(([, y]) => y);
    const lines = v.sensor.kind === 'rain' ? [] : v.thresholds;
    const data: uPlot.AlignedData = [xs, ys, ...lines.map((t) => xs.map(() => t.value))];
    plot?.destroy();
    root.dataset['points'] = String(xs.length);
    if (xs.length === 0) {
      holder.replaceChildren(h('p', { class: 'quiet' }, '–'));
      return;
    }
    holder.replaceChildren();
    const width = Math.max(260, Math.min(480, root.clientWidth || 460));
    plot = new uPlot(
      {
        width,
        height: 180,
        // The axis shows the site's own clock (the ISO offset the API gives), not the browser's.
        tzDate: (ts) => uPlot.tzDate(new Date((ts + tz) * 1000), 'Etc/UTC'),
        legend: { show: false },
        scales: { x: { time: true } },
        // 24-hour times of the site's clock; the date where it changes (every time on the page carries its date).
        axes: [{ stroke: '#8b98a5', grid: { stroke: '#243240' }, values: (_u, splits) => splits.map((s, i) => axisTime(s, tz, i === 0 ? undefined : splits[i - 1])) }, { stroke: '#8b98a5', grid: { stroke: '#243240' }, size: 44 }],
        series: [
          {},
          v.sensor.kind === 'rain' ? { label: sensorId, stroke: '#3e9ded', fill: '#3e9ded88', paths: uPlot.paths.bars!({ size: [0.9, 8] }) } : { label: sensorId, stroke: '#3e9ded', width: 1.5, spanGaps: false },
          ...lines.map((t) => ({ label: t.name, stroke: COLORS[t.name] ?? '#8b98a5', dash: [6, 4], width: 1, points: { show: false } })),
        ],
      },
      data,
      holder,
    );
    root.setAttribute('aria-label', `${sensorId} ${i18n.time(v.from)} – ${i18n.time(v.to)}`);
  }
  void load('6h');
  return root;
}
