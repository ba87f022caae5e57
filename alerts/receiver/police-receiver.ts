/**
 * `floodgate police-receiver`: what a traffic police system must do with our notices, as a small
 * HTTP server for engineers integrating one. It verifies signature and timestamp over the raw
 * body, answers 2xx, and prints one JSON line per notice; a bad signature gets 401 and a log line.
 * What it accepted is remembered (in a file for the CLI): a notice replayed later, or one from a
 * leader that was replaced, is refused with 409 (./order.ts).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ClosureNotice, NOTICE_HEADERS, verifyNotice } from '../../contracts/index.ts';
import type { Clock } from '../../lib/clock.ts';
import type { Logger } from '../../lib/logger.ts';
import { describeIssues } from '../../lib/zod-issues.ts';
import { judgeNotice } from './order.ts';
import { openAcceptedStore } from './accepted-store.ts';

export interface ReceiverConfig {
  host: string;
  port: number;
  secret: string;
  toleranceS: number;
  /** Path notices are POSTed to. */
  path: string;
  /** Where accepted notices are remembered across restarts (SQLite); default ':memory:' (forgotten on close). */
  stateFile?: string;
}

export interface ReceivedNotice {
  receivedAt: string;
  duplicate: boolean;
  headers: { idempotencyKey: string | undefined; timestamp: string | undefined; signature: string | undefined };
  /** The raw body as received (what the signature covers). */
  body: string;
  notice: ClosureNotice;
}

export interface ReceiverHandle {
  port: number;
  url: string;
  /** Every verified notice, in arrival order (duplicates included, flagged). */
  received: ReceivedNotice[];
  /** Requests refused, with the reason. */
  refused: Array<{ status: number; reason: string }>;
  /** Answer the next n requests with this status (tests of retry behaviour). */
  failNext(n: number, status: number, retryAfter?: string): void;
  close(): Promise<void>;
}

const MAX_BODY = 64 * 1024;

export async function createPoliceReceiver(
  config: ReceiverConfig,
  deps: { clock: Clock; logger: Logger; print: (line: string) => void },
): Promise<ReceiverHandle> {
  const received: ReceivedNotice[] = [];
  const refused: Array<{ status: number; reason: string }> = [];
  const accepted = openAcceptedStore(config.stateFile ?? ':memory:');
  let failures: { n: number; status: number; retryAfter: string | undefined } = { n: 0, status: 503, retryAfter: undefined };

  function reply(res: ServerResponse, status: number, body: object, reason?: string) {
    if (reason) {
      refused.push({ status, reason });
      deps.logger.warn({ status, reason }, 'notice refused');
    }
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  }

  async function handle(req: IncomingMessage, res: ServerResponse) {
    if (req.method === 'GET' && req.url === '/healthz') return reply(res, 200, { status: 'ok' });
    if (req.method !== 'POST' || (req.url ?? '').split('?')[0] !== config.path) return reply(res, 404, { error: 'not found' });
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of req) {
      size += (c as Buffer).length;
      if (size > MAX_BODY) return reply(res, 413, { error: 'body too large' }, 'body too large');
      chunks.push(c as Buffer);
    }
    if (failures.n > 0) {
      failures.n--;
      if (failures.retryAfter) res.setHeader('retry-after', failures.retryAfter);
      return reply(res, failures.status, { error: 'simulated failure' });
    }
    const body = Buffer.concat(chunks).toString('utf8');
    const h = (name: string) => {
      const v = req.headers[name];
      return Array.isArray(v) ? v[0] : v;
    };
    const headers = {
      idempotencyKey: h(NOTICE_HEADERS.idempotencyKey),
      timestamp: h(NOTICE_HEADERS.timestamp),
      signature: h(NOTICE_HEADERS.signature),
    };
    const v = verifyNotice({ secret: config.secret, timestampHeader: headers.timestamp, signatureHeader: headers.signature, body, nowMs: deps.clock.now(), toleranceS: config.toleranceS });
    if (!v.ok) return reply(res, 401, { error: v.reason }, v.reason);
    let json: unknown;
    try {
      json = JSON.parse(body);
    } catch {
      return reply(res, 400, { error: 'body is not JSON' }, 'body is not JSON');
    }
    const parsed = ClosureNotice.safeParse(json);
    if (!parsed.success) {
      const reason = `not a closure notice: ${describeIssues(parsed.error.issues)}`;
      return reply(res, 400, { error: reason }, reason);
    }
    if (headers.idempotencyKey !== parsed.data.noticeId) return reply(res, 400, { error: 'Idempotency-Key must equal noticeId' }, 'Idempotency-Key mismatch');
    const n = parsed.data;
    const verdict = judgeNotice(accepted.before(n.noticeId, n.underpass.id), { underpassId: n.underpass.id, epoch: n.epoch, sequence: n.sequence });
    if (verdict.kind === 'stale') return reply(res, 409, { error: verdict.reason }, verdict.reason);
    const duplicate = verdict.kind === 'duplicate';
    const receivedAt = new Date(deps.clock.now()).toISOString();
    if (!duplicate) accepted.record({ noticeId: n.noticeId, underpassId: n.underpass.id, epoch: n.epoch, sequence: n.sequence, receivedAt });
    const entry: ReceivedNotice = { receivedAt, duplicate, headers, body, notice: parsed.data };
    received.push(entry);
    if (duplicate) deps.logger.info({ noticeId: parsed.data.noticeId }, 'duplicate notice (already printed); answered 200');
    else deps.print(JSON.stringify({ receivedAt: entry.receivedAt, signature: 'valid', ...parsed.data }));
    return reply(res, 200, { received: parsed.data.noticeId, duplicate });
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      deps.logger.error({ err }, 'receiver error');
      if (!res.headersSent) reply(res, 500, { error: 'internal' });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}${config.path}`,
    received,
    refused,
    failNext(n, status, retryAfter) {
      failures = { n, status, retryAfter };
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          accepted.close();
          resolve();
        });
        server.closeAllConnections();
      }),
  };
}
