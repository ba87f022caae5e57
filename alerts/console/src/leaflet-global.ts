/**
 * leaflet.markercluster extends the global `L` (its UMD wrapper never imports leaflet): leaflet is
 * put on window before that plugin's module runs (imports run in order).
 */
import L from 'leaflet';

(window as unknown as { L: typeof L }).L = L;
export default L;
