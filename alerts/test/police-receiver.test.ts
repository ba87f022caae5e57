/**
 * The reference police receiver over real HTTP, its memory in a real SQLite file: a duplicate is
 * known after a restart, an older notice (a captured close replayed after its reopen) and a
 * replaced leader's notice are refused with 409 and the reason, and nothing refused is printed.
 */
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createPoliceReceiver, type ReceiverHandle } from '../receiver/police-receiver.ts';
import { NOTICE_HEADERS, signNotice, type ClosureNotice } from '../../contracts/index.ts';
import { systemClock } from '../../lib/clock.ts';
import { silentLogger } from '../../lib/logger.ts';
import { tempDir } from '../../test/helpers/servers.ts';

const SECRET = 'receiver-test-secret-0123456789';
const notice = (action: 'close' | 'reopen', sequence: number, epoch = 0, episode = 1): ClosureNotice => ({
  noticeId: `underpass-closure:UP-335:${episode}:${action}`,
  action,
  underpass: { id: 'UP-335', name: '龙阳路下立交', road: '龙阳路', district: 'pudong', lat: 31.2, lon: 121.55 },
  depthCm: action === 'close' ? 31 : 8,
  thresholdCm: 25,
  observedAt: '2026-07-01T18:03:00+08:00',
  issuedAt: '2026-07-01T18:03:01+08:00',
  alertId: `underpass-closure:UP-335:${episode}`,
  reason: 'ponding',
  sequence,
  epoch,
});

async function post(r: ReceiverHandle, n: ClosureNotice): Promise<{ status: number; body: { error?: string; duplicate?: boolean } }> {
  const body = JSON.stringify(n);
  const ts = Math.floor(Date.now() / 1000);
  const res = await fetch(r.url, { method: 'POST', body, headers: { 'content-type': 'application/json', [NOTICE_HEADERS.idempotencyKey]: n.noticeId, [NOTICE_HEADERS.timestamp]: String(ts), [NOTICE_HEADERS.signature]: signNotice(SECRET, ts, body) } });
  return { status: res.status, body: (await res.json()) as { error?: string; duplicate?: boolean } };
}

describe('police-receiver: order and memory', () => {
  const dir = tempDir('receiver');
  const printed: string[] = [];
  let r: ReceiverHandle | undefined;
  const start = async () => (r = await createPoliceReceiver({ host: '127.0.0.1', port: 0, secret: SECRET, toleranceS: 300, path: '/notices', stateFile: join(dir.path, 'police-receiver.db') }, { clock: systemClock, logger: silentLogger, print: (l) => printed.push(l) }));
  afterEach(async () => {
    await r?.close();
    r = undefined;
  });
  afterAll(() => dir.remove());

  it('remembers across a restart: a replayed close is a duplicate, an older notice and a replaced leader are refused', async () => {
    let rx = await start();
    expect((await post(rx, notice('close', 1))).status).toBe(200);
    expect((await post(rx, notice('reopen', 2))).status).toBe(200);
    await rx.close();
    rx = await start();
    // The close captured earlier, replayed unchanged to the restarted receiver: known, not acted on again.
    expect(await post(rx, notice('close', 1))).toEqual({ status: 200, body: { received: 'underpass-closure:UP-335:1:close', duplicate: true } });
    // The same close under another id with its old sequence: refused, with the reason.
    const old = await post(rx, { ...notice('close', 1), noticeId: 'forged-close' });
    expect(old.status).toBe(409);
    expect(old.body.error).toMatch(/stale sequence: 1 for UP-335, which has had sequence 2/);
    // A new leader (epoch 1) closes the road again; the replaced one (epoch 0) then tries to reopen it.
    expect((await post(rx, notice('close', 3, 1, 2))).status).toBe(200);
    const stale = await post(rx, notice('reopen', 4, 0, 2));
    expect(stale.status).toBe(409);
    expect(stale.body.error).toMatch(/stale epoch: 0 for UP-335/);
    expect((await post(rx, notice('reopen', 4, 1, 2))).status).toBe(200);
    expect(printed.map((l) => (JSON.parse(l) as ClosureNotice).noticeId)).toEqual([
      'underpass-closure:UP-335:1:close',
      'underpass-closure:UP-335:1:reopen',
      'underpass-closure:UP-335:2:close',
      'underpass-closure:UP-335:2:reopen',
    ]);
    expect(rx.refused.map((x) => x.status)).toEqual([409, 409]);
  });
});
