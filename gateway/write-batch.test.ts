/**
 * batchWrites: one turn's writes leave together, bytes and order unchanged (real loopback TCP).
 * Writes are counted where the socket hands them to the system: its Writable `_write`/`_writev`.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import { batchWrites } from './write-batch.ts';

describe('batchWrites', () => {
  let server: Server | undefined;
  const sockets: Socket[] = [];
  afterEach(async () => {
    sockets.splice(0).forEach((s) => s.destroy());
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  });

  /** Writes `n` packets, each from its own setImmediate (as aedes delivers); counts the socket's writes. */
  async function send(n: number, wrap: boolean): Promise<{ writes: number }> {
    const chunks: Buffer[] = [];
    server = createServer((s) => {
      sockets.push(s);
      s.on('data', (d: Buffer) => chunks.push(d));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const raw = connect((server.address() as { port: number }).port, '127.0.0.1');
    sockets.push(raw);
    await once(raw, 'connect');
    let writes = 0;
    const w = raw as unknown as { _write: (...a: unknown[]) => void; _writev: (...a: unknown[]) => void };
    for (const k of ['_write', '_writev'] as const) {
      const f = w[k].bind(raw);
      w[k] = (...a: unknown[]) => {
        writes++;
        f(...a);
      };
    }
    const conn = wrap ? batchWrites(raw) : raw;
    const expected = Buffer.concat(Array.from({ length: n }, (_, i) => Buffer.from(`packet ${i};`)));
    await new Promise<void>((done) => {
      for (let i = 0; i < n; i++) {
        setImmediate(() => {
          // As mqtt-packet writes a packet: cork, write its parts, uncork on the next tick.
          conn.cork();
          conn.write(`packet `);
          conn.write(`${i};`);
          process.nextTick(() => conn.uncork());
          if (i === n - 1) setImmediate(done);
        });
      }
    });
    const deadline = Date.now() + 5000;
    while (Buffer.concat(chunks).length < expected.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    expect(Buffer.concat(chunks).toString()).toBe(expected.toString());
    return { writes };
  }

  it('sends the packets of one event-loop turn in one write, in order', async () => {
    expect((await send(200, true)).writes).toBe(1);
  });

  it('peer, same run: without it each packet is its own write', async () => {
    expect((await send(200, false)).writes).toBe(200);
  });
});
