/**
 * A hydrological RTU's side of an SL 651 link: a TCP client that sends frames and reads the
 * centre's replies, as a station's GPRS/4G modem does. Used by `floodgate sim --protocol sl651`
 * and by the tests.
 */
import { connect, type Socket } from 'node:net';
import type { Frame } from '../contracts/sl651-frame.ts';
import { readAnyFrame } from '../contracts/sl651-ascii.ts';

export interface RtuLink {
  send(frame: Buffer): void;
  /** The next frame the centre sends; rejects when the link closes first or after `timeoutMs`. */
  reply(timeoutMs?: number): Promise<Frame>;
  /** Frames received and not yet taken by reply(). */
  pending(): number;
  /** Resolves when the centre (or the network) closed the link. */
  closed: Promise<void>;
  isClosed(): boolean;
  close(): void;
  socket: Socket;
}

export function openRtuLink(host: string, port: number): Promise<RtuLink> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, noDelay: true });
    let buf: Buffer = Buffer.alloc(0);
    const frames: Frame[] = [];
    const waiters: Array<{ resolve(f: Frame): void; reject(e: Error): void }> = [];
    let isClosed = false;
    const closed = new Promise<void>((res) => socket.once('close', () => res()));
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        const r = readAnyFrame(buf);
        if ('need' in r) break;
        buf = buf.subarray(r.skipped + r.consumed);
        if (!('frame' in r)) continue;
        const w = waiters.shift();
        if (w) w.resolve(r.frame);
        else frames.push(r.frame);
      }
    });
    socket.on('close', () => {
      isClosed = true;
      for (const w of waiters.splice(0)) w.reject(new Error('the centre closed the link'));
    });
    socket.on('error', (err) => {
      if (!isClosed && waiters.length === 0) reject(err);
    });
    socket.once('connect', () =>
      resolve({
        socket,
        send: (frame) => socket.write(frame),
        reply(timeoutMs = 30_000) {
          const ready = frames.shift();
          if (ready) return Promise.resolve(ready);
          if (isClosed) return Promise.reject(new Error('the centre closed the link'));
          return new Promise<Frame>((res, rej) => {
            const timer = setTimeout(() => {
              const i = waiters.indexOf(entry);
              if (i >= 0) waiters.splice(i, 1);
              rej(new Error(`no reply from the centre within ${timeoutMs} ms`));
            }, timeoutMs);
            const entry = {
              resolve: (f: Frame) => {
                clearTimeout(timer);
                res(f);
              },
              reject: (e: Error) => {
                clearTimeout(timer);
                rej(e);
              },
            };
            waiters.push(entry);
          });
        },
        pending: () => frames.length,
        closed,
        isClosed: () => isClosed,
        close: () => socket.destroy(),
      }),
    );
  });
}
