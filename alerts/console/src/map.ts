/**
 * The city map (leaflet, bundled from npm): district outlines, every site at its lat/lon coloured
 * by its worst current state, clustered when zoomed out (the cluster takes its worst member's
 * colour), closed underpasses and rivers above danger never hidden in a cluster. No tiles unless
 * FLOODGATE_MAP_TILES names some: the map works with no internet.
 */
import L from './leaflet-global.ts';
import 'leaflet.markercluster';
import 'leaflet/dist/leaflet.css';
import 'leaflet.markercluster/dist/MarkerCluster.css';
import { h, slicer } from './dom.ts';
import type { Ctx } from './context.ts';
import { siteStates, SITE_STATES, type SiteState } from './model.ts';

/** States that stay on top of the map, never folded into a cluster. */
const ALWAYS_SHOWN = new Set<SiteState>(['closed', 'danger']);

interface SiteMarker extends L.CircleMarker {
  siteState: SiteState;
}

export function createMap(root: HTMLElement, ctx: Ctx, opts: { districts: GeoJSON.FeatureCollection; tiles: string | null }) {
  const holder = h('div', { class: 'map-canvas', 'aria-label': ctx.i18n.t('map') });
  const clusterBox = h('input', { type: 'checkbox', checked: true, name: 'cluster' });
  const clusterLabel = h('span', {});
  const legend = h('ul', { class: 'legend' });
  root.replaceChildren(h('div', { class: 'map-tools' }, h('label', {}, clusterBox, clusterLabel), legend), holder);

  const renderer = L.svg({ padding: 0.2 });
  const map = L.map(holder, { minZoom: 7, maxZoom: 18, zoomSnap: 0.25, zoomControl: true, attributionControl: Boolean(opts.tiles), preferCanvas: false, renderer });
  if (opts.tiles) L.tileLayer(opts.tiles, { maxZoom: 18 }).addTo(map);
  const outlines = L.geoJSON(opts.districts, { style: { color: '#5c6b7a', weight: 1.2, fillColor: '#dfe7ee', fillOpacity: 0.25 }, interactive: false }).addTo(map);
  const worstOf = (markers: L.Marker[]) => {
    let best = SITE_STATES.length - 1;
    for (const m of markers as unknown as SiteMarker[]) best = Math.min(best, SITE_STATES.indexOf(m.siteState));
    return SITE_STATES[best]!;
  };
  const clusters = L.markerClusterGroup({
    disableClusteringAtZoom: 13,
    maxClusterRadius: 40,
    showCoverageOnHover: false,
    chunkedLoading: true,
    iconCreateFunction: (c) => L.divIcon({ html: `<span>${c.getChildCount()}</span>`, className: `cluster st-${worstOf(c.getAllChildMarkers())}`, iconSize: L.point(34, 34) }),
  });
  const plain = L.layerGroup();
  const top = L.layerGroup().addTo(map);
  let clustered = true;
  const base = () => (clustered ? clusters : plain);
  base().addTo(map);

  const markers = new Map<string, SiteMarker>();
  for (const s of ctx.city.sites) {
    const m = L.circleMarker([s.lat, s.lon], { radius: s.kind === 'underpass' ? 5 : 4, weight: 1, fillOpacity: 0.9, className: `site kind-${s.kind} st-normal` }) as SiteMarker;
    m.siteState = 'normal';
    m.on('click', () => ctx.openSite(s.id));
    m.bindTooltip(() => `${s.name} · ${ctx.i18n.t(`kind_${s.kind}` as never)} · ${ctx.i18n.t(`st_${m.siteState}` as never)}`);
    markers.set(s.id, m);
    base().addLayer(m as unknown as L.Marker);
  }
  const outlineBounds = outlines.getBounds();
  const bounds = outlineBounds.isValid() ? outlineBounds : L.latLngBounds(ctx.city.sites.map((s) => [s.lat, s.lon]));
  map.fitBounds(bounds);
  // Until the officer moves the map, a new layout (phone turned, wall) fits the city again.
  let moved = false;
  map.on('dragstart zoomstart', (e) => {
    if ((e as L.LeafletEvent & { hard?: boolean }).type === 'dragstart') moved = true;
  });
  holder.addEventListener('wheel', () => (moved = true), { passive: true });

  /** Put a marker in its layer: on top when it must not hide in a cluster. */
  function place(m: SiteMarker, st: SiteState): boolean {
    if (m.siteState === st) return false;
    const wasTop = ALWAYS_SHOWN.has(m.siteState);
    const nowTop = ALWAYS_SHOWN.has(st);
    {
      // className is fixed at creation by leaflet: the state class is swapped on the element.
      const el = m.getElement();
      if (el) el.setAttribute('class', (el.getAttribute('class') ?? '').replace(/\bst-\w+/, `st-${st}`));
      (m.options as L.PathOptions).className = (m.options.className ?? '').replace(/\bst-\w+/, `st-${st}`);
    }
    if (wasTop !== nowTop) {
      if (wasTop) top.removeLayer(m);
      else base().removeLayer(m as unknown as L.Marker);
      m.siteState = st;
      if (nowTop) top.addLayer(m);
      else base().addLayer(m as unknown as L.Marker);
    }
    m.siteState = st;
    return true;
  }

  function setClustered(on: boolean): void {
    if (on === clustered) return;
    const from = base();
    clustered = on;
    const to = base();
    const moving = [...markers.values()].filter((m) => !ALWAYS_SHOWN.has(m.siteState));
    if (from === clusters) clusters.clearLayers();
    else plain.clearLayers();
    map.removeLayer(from);
    to.addTo(map);
    if (to === clusters) clusters.addLayers(moving as unknown as L.Marker[]); // chunkedLoading: spread over frames
    else for (let i = 0; i < moving.length; i += 100) slicer.add(`plain:${i}`, () => moving.slice(i, i + 100).forEach((m) => plain.addLayer(m)));
  }
  clusterBox.addEventListener('change', () => setClustered(clusterBox.checked));

  let lastLang = '';
  function render(): void {
    const states = siteStates(ctx.model.firing.values());
    const changed: SiteMarker[] = [];
    for (const [id, m] of markers) if (place(m, states.get(id) ?? 'normal')) changed.push(m);
    // Only the clusters holding a changed marker take a new colour.
    if (changed.length && clustered) clusters.refreshClusters(changed.filter((m) => !ALWAYS_SHOWN.has(m.siteState)) as unknown as L.Marker[]);
    if (lastLang !== ctx.i18n.lang) {
      lastLang = ctx.i18n.lang;
      clusterLabel.textContent = ` ${ctx.i18n.t('cluster')}`;
      legend.replaceChildren(...SITE_STATES.map((st) => h('li', { class: `st-${st}` }, ctx.i18n.t(`st_${st}` as never))));
    }
  }
  return {
    render,
    /** The map's container changed size (layout switch). */
    resize() {
      map.invalidateSize();
      if (!moved) map.fitBounds(bounds);
    },
    focusSite(id: string) {
      const m = markers.get(id);
      if (m) map.setView(m.getLatLng(), Math.max(map.getZoom(), 13));
    },
  };
}
