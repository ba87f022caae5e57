/** The SL 651 centre's counters and gauges on /metrics. */
import { counter, gauge, type Registry as Metrics } from '../lib/metrics.ts';

export function sl651Metrics(metrics: Metrics) {
  return {
    links: gauge(metrics, 'floodgate_sl651_links', 'Open SL 651 TCP links'),
    stations: gauge(metrics, 'floodgate_sl651_stations_online', 'SL 651 stations with a link open'),
    frames: counter(metrics, 'floodgate_sl651_frames_total', 'Valid SL 651 frames received, by function code', ['func']),
    badFrames: counter(metrics, 'floodgate_sl651_bad_frames_total', 'SL 651 frames refused (bad CRC, header, length or body), by error code', ['code']),
    refused: counter(metrics, 'floodgate_sl651_refused_total', 'SL 651 links closed: unknown station, wrong password, network not allowed, a frame for another station, no password set', ['reason']),
    limits: counter(metrics, 'floodgate_sl651_limit_hits_total', 'SL 651 limits hit: connections, rate (frame dropped), idle (link closed), garbage (link closed), packet (NAK)', ['limit']),
    readings: counter(metrics, 'floodgate_sl651_readings_total', 'Readings published from SL 651 reports', ['kind']),
    duplicates: counter(metrics, 'floodgate_sl651_duplicates_total', 'Reports and readings dropped as copies (retries, overlapping reports)', ['what']),
    unmapped: counter(metrics, 'floodgate_sl651_unmapped_values_total', 'Values refused by the reading contract (invalid) or with no floodgate field (unmapped)', ['why']),
    replies: counter(metrics, 'floodgate_sl651_replies_total', 'Frames sent to stations, by end character', ['end']),
    images: counter(metrics, 'floodgate_sl651_images_total', 'Image reports (36) written to files'),
    faults: counter(metrics, 'floodgate_sl651_faults_total', 'Background faults, logged: publishing readings (publish), writing an image (image)', ['where']),
  };
}
export type Sl651Metrics = ReturnType<typeof sl651Metrics>;
