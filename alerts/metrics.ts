/**
 * What operators graph (issue 19 §8), read from the store when Prometheus scrapes: firing alerts
 * by rule and district, closed underpasses, the outbox backlog and the age of its oldest notice.
 * The two latency histograms are observed where the events happen (outbox.ts, alerts.ts).
 */
import { gauge, histogram, type Registry as Metrics } from '../lib/metrics.ts';
import type { Clock } from '../lib/clock.ts';
import type { AlertStore } from './store.ts';

/** Seconds: a notice's delivery (queued → recipient's 2xx) and a reading's way to an alert. */
export const LATENCY_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 1800];

export function alertMetrics(metrics: Metrics, store: AlertStore, clock: Clock) {
  // prom-client awaits an asynchronous collect at scrape time.
  gauge(metrics, 'floodgate_alerts_firing', 'Firing alerts, by rule and district', ['rule', 'district'], async function () {
    const rows = await store.firingByRuleDistrict();
    this.reset(); // a rule or district with nothing firing any more drops out
    for (const r of rows) this.set({ rule: r.ruleId, district: r.district }, r.n);
  });
  gauge(metrics, 'floodgate_underpasses_closed', 'Underpasses closed now (firing underpass-closure alerts)', [], async function () {
    this.set((await store.firingByRule())['underpass-closure'] ?? 0);
  });
  gauge(metrics, 'floodgate_outbox_backlog', 'Notices waiting for delivery', [], async function () {
    this.set((await store.backlog()).n);
  });
  gauge(metrics, 'floodgate_outbox_oldest_age_seconds', 'Age of the oldest notice waiting for delivery (0: none waiting)', [], async function () {
    const b = await store.backlog();
    this.set(b.oldest === null ? 0 : Math.max(0, (clock.now() - b.oldest) / 1000));
  });
  return {
    delivery: deliveryHistogram(metrics),
    readingToAlert: histogram(metrics, 'floodgate_reading_to_alert_seconds', "Sensor time of the reading that changed an alert → the alert recorded here, by rule (includes the device's own delay)", LATENCY_BUCKETS, ['rule']),
  };
}

export const deliveryHistogram = (metrics: Metrics) => histogram(metrics, 'floodgate_notice_delivery_seconds', 'Notice queued → delivered (the recipient answered 2xx), by recipient', LATENCY_BUCKETS, ['recipient']);
