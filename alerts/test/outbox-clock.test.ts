/**
 * The outbox on a clock the test moves (lib/clock.ts manualClock), against a real HTTP receiver
 * and a real SQLite store: a notice the receiver refused is not tried again before its backoff is
 * over, however long the test waits in real time, and is delivered once the clock reaches it.
 * Before the clock had timers, showing "nothing before the due time" took a real sleep.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { manualClock } from '../../lib/clock.ts';
import { createMetricsRegistry } from '../../lib/metrics.ts';
import { openAlertStore } from '../sqlite-store.ts';
import { createOutbox } from '../outbox.ts';
import { createHttpNotifier } from '../police-notifier.ts';
import { tempDir } from '../../test/helpers/servers.ts';
import { eventually, testLogger } from '../../test/helpers/stack.ts';
import type { AlertEvent } from '../../contracts/index.ts';

describe('outbox on a manual clock', () => {
  const cleanup: Array<() => unknown> = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });

  it('waits out its backoff by the clock, not by the wall, then delivers', async () => {
    const answers = [503];
    const got: string[] = [];
    const server: Server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        got.push(String(req.headers['idempotency-key']));
        res.writeHead(answers.shift() ?? 200).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanup.push(() => new Promise((r) => server.close(r)));
    const dir = tempDir('outbox-clock');
    cleanup.push(() => dir.remove());
    const store = openAlertStore(join(dir.path, 'alerts.db'));
    cleanup.push(() => store.close());
    const clock = manualClock(Date.parse('2026-07-01T10:00:00Z'));
    const outbox = createOutbox({
      store,
      notifier: createHttpNotifier({ timeoutMs: 10_000 }),
      resolveTarget: () => ({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/notices`, secret: 's3cret', format: 'json' }),
      logger: testLogger,
      metrics: createMetricsRegistry(),
      clock,
      backoff: { baseMs: 30_000, maxMs: 30_000, minMs: 30_000 }, // every retry 30 s later
      pollMs: 600_000,
      maxAgeMs: 3_600_000,
    });
    cleanup.push(() => outbox.close());

    const event: AlertEvent = { alertId: 'underpass-closure:UP-001:1', ruleId: 'underpass-closure', subjectId: 'UP-001', sensorId: 'PD-001', state: 'firing', severity: 'critical', value: 31, threshold: 25, unit: 'cm', observedAt: '2026-07-01T18:00:00+08:00', changedAt: '2026-07-01T18:00:01+08:00', reason: 'x' };
    (await store.openAlert(event, '2026-07-01T18:00:01+08:00', [{ noticeId: 'underpass-closure:UP-001:1:close', recipient: 'police', format: 'json', alertId: event.alertId, subjectId: 'UP-001', action: 'close', url: '$FLOODGATE_POLICE_URL', secretRef: 'FLOODGATE_POLICE_SECRET', body: '{"action":"close"}' }], clock.now()));
    await outbox.runOnce();
    expect(got).toHaveLength(1); // refused with 503: a retry is due in 30 s by the clock
    expect(await store.getNotice(1)).toMatchObject({ status: 'pending', attempts: 1 });

    clock.advance(29_999); // not yet: no attempt, whatever the wall clock does meanwhile
    await outbox.runOnce();
    expect(got).toHaveLength(1);

    clock.advance(1); // due now: the timer fires and the notice goes
    await eventually(async () => (await store.getNotice(1))?.status === 'delivered', 'delivered once the clock reaches the retry');
    expect(got).toEqual(['underpass-closure:UP-001:1:close', 'underpass-closure:UP-001:1:close']);
  });
});
