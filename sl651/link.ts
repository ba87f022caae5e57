/**
 * One station's TCP link: bytes in, frames out of them, each admitted (station, password, source
 * network), rate-limited, reassembled when it is a packet of a multi-packet report, and answered
 * as a real centre answers (issue 23 §1, §2, §6). Frames are handled one at a time, in order: the
 * socket is paused while a report is stored, so a station's reports reach the pipeline in the
 * order it sent them, and the reply goes out only once they are stored.
 */
import type { Socket } from 'node:net';
import { encodeReply, wallTimeOf, type Frame } from '../contracts/sl651-frame.ts';
import { encodeAsciiReply, readAnyFrame } from '../contracts/sl651-ascii.ts';
import type { Logger } from '../lib/logger.ts';
import type { Clock } from '../lib/clock.ts';
import { addPacket, type Assembly } from './reassembly.ts';
import { isRefusal, type Station, type StationCheck, type RefusalReason } from './stations.ts';
import type { Sl651Config } from './config.ts';

/** Bad frames in a row (CRC, header) after which a link is taken for noise and closed. */
export const MAX_BAD_IN_A_ROW = 16;
/** Bytes that are no frame at all, in a row, after which the same. */
export const MAX_GARBAGE_BYTES = 64 * 1024;

export type LinkEnd = 'offline' | 'lost';
export interface Closable {
  close(): void;
}
export type ReportOutcome = { reply: boolean } | { refuse: { reason: RefusalReason; message: string } };

export interface LinkHooks {
  check: StationCheck;
  /** A frame this station may send now (the per-station rate), or false. */
  takeToken(station: string): boolean;
  /**
   * A complete report from `station`: resolves once it is stored, to whether to answer it; or to
   * a refusal (the report speaks for another station), which closes the link.
   */
  report(station: Station, func: number, body: Buffer, log: Logger, mode: 'hex' | 'ascii'): Promise<ReportOutcome>;
  /** The link first spoke for `station` (an older link of the same station is closed: a modem that redialled), and when it ended. */
  online(station: Station, link: Closable): void;
  offline(station: Station, link: Closable, how: LinkEnd): void;
  count: {
    badFrame(code: string): void;
    refused(reason: RefusalReason): void;
    limit(which: 'rate' | 'idle' | 'garbage' | 'packet'): void;
    /** Every valid frame, by function code (2 hex digits). */
    frame(func: string): void;
    reply(end: string): void;
  };
}

/** The centre's wall time in the stations' zone, for replies. */
function wallNow(clock: Clock, config: Sl651Config) {
  const now = clock.now();
  return wallTimeOf(now + config.zone.offsetAt(now) * 60_000);
}

/** A body's serial: 2 bytes in HEX mode, 4 hex characters in ASCII mode; 0 where there is none. */
function serialOf(frame: Frame, body: Buffer): number {
  if (frame.mode === 'ascii') return parseInt(body.subarray(0, 4).toString('latin1'), 16) || 0;
  return body.length >= 2 ? body.readUInt16BE(0) : 0;
}

export function serveLink(socket: Socket, config: Sl651Config, clock: Clock, hooks: LinkHooks, logger: Logger): void {
  new StationLink(socket, config, clock, hooks, logger);
}

class StationLink {
  private log: Logger;
  private readonly remote: string;
  private buf: Buffer = Buffer.alloc(0);
  private station: Station | undefined;
  private assembly: Assembly | undefined;
  private busy = false;
  private closed = false;
  private badInARow = 0;
  private garbage = 0;

  constructor(
    private readonly socket: Socket,
    private readonly config: Sl651Config,
    private readonly clock: Clock,
    private readonly hooks: LinkHooks,
    logger: Logger,
  ) {
    this.remote = socket.remoteAddress ?? '';
    this.log = logger.child({ remote: this.remote });
    socket.setTimeout(config.idleMs, () => {
      hooks.count.limit('idle');
      this.log.info('SL 651 link idle: closing it');
      socket.destroy();
    });
    socket.on('data', (chunk: Buffer) => {
      this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
      if (!this.busy) void this.drain();
    });
    let ended = false;
    socket.on('end', () => {
      ended = true;
      socket.end();
    });
    socket.on('error', (err) => this.log.debug({ err: err.message }, 'SL 651 link error'));
    socket.on('close', () => {
      this.closed = true;
      if (this.station) hooks.offline(this.station, this, ended ? 'offline' : 'lost');
    });
  }

  private reply(frame: Frame, func: number, serial: number, end: 'ESC' | 'EOT' | 'ACK' | 'NAK'): void {
    if (this.closed) return;
    this.hooks.count.reply(end);
    const reply = { station: frame.station, centre: frame.centre, password: frame.password, func, serial, time: wallNow(this.clock, this.config), end };
    this.socket.write(frame.mode === 'ascii' ? encodeAsciiReply(reply) : encodeReply(reply));
  }

  private refuse(reason: RefusalReason, message: string): void {
    this.hooks.count.refused(reason);
    this.log.warn({ reason }, `SL 651 station refused: ${message}; closing the link`);
    this.close();
  }

  close(): void {
    this.closed = true;
    this.socket.destroy();
  }

  /** Admit the frame's station, password and source (every frame: a password changed meanwhile counts); false if refused. */
  private async admit(frame: Frame): Promise<boolean> {
    if (this.station && this.station.address !== frame.station) {
      this.refuse('other_station', `link of station ${this.station.address} sent a frame for ${frame.station}`);
      return false;
    }
    const admitted = await this.hooks.check.admit(frame.station, frame.password, this.remote);
    if (this.closed) return false;
    if (isRefusal(admitted)) {
      this.refuse(admitted.reason, admitted.message);
      return false;
    }
    if (!this.station) {
      this.log = this.log.child({ station: admitted.address });
      this.hooks.online(admitted, this);
    }
    this.station = admitted;
    return true;
  }

  private async handle(frame: Frame): Promise<void> {
    if (frame.direction !== 'up') {
      this.hooks.count.badFrame('SL651_BAD_HEADER');
      this.log.warn({ station: frame.station }, 'SL 651: a downlink frame from a station; ignored');
      return;
    }
    if (!(await this.admit(frame))) return;
    if (!this.hooks.takeToken(frame.station)) {
      this.hooks.count.limit('rate');
      this.log.warn({ func: frame.func }, 'SL 651 station over its frame rate: frame dropped, not answered (it will send it again)');
      return;
    }
    if (frame.func === 0x2f) return; // a keep-alive gets no reply, as from the real centre (../shared/sl651)
    if (frame.packet) return this.handlePacket(frame);
    await this.answer(frame, frame.body, serialOf(frame, frame.body));
  }

  private async handlePacket(frame: Frame): Promise<void> {
    const { total, seq } = frame.packet!;
    const outcome = addPacket(this.assembly, { func: frame.func, total, seq, body: frame.body, nowMs: this.clock.now(), timeoutMs: this.config.reassemblyMs, maxBytes: this.config.maxReportBytes });
    this.assembly = outcome.state;
    // The first packet carries the serial; the ACK / NAK of the others answers with the first's.
    const first = this.assembly?.parts.get(1) ?? (outcome.kind === 'complete' ? outcome.body : frame.body);
    const serial = serialOf(frame, first);
    if (outcome.kind === 'nak') {
      this.hooks.count.limit('packet');
      this.log.warn({ seq, total }, `SL 651 packet refused: ${outcome.reason}`);
      return this.reply(frame, frame.func, serial, 'NAK');
    }
    if (outcome.kind === 'ack') return this.reply(frame, frame.func, serial, 'ACK');
    await this.answer(frame, outcome.body, serial);
  }

  private async answer(frame: Frame, body: Buffer, serial: number): Promise<void> {
    const outcome = await this.hooks.report(this.station!, frame.func, body, this.log, frame.mode ?? 'hex');
    if ('refuse' in outcome) return this.refuse(outcome.refuse.reason, outcome.refuse.message);
    if (outcome.reply) this.reply(frame, frame.func, serial, this.config.link === 'keep' ? 'ESC' : 'EOT');
  }

  /** The next frame in the buffer, or none yet; a bad one is counted (and, many in a row, closes the link). */
  private async next(): Promise<boolean> {
    const r = readAnyFrame(this.buf, this.config.maxBody);
    this.garbage += r.skipped;
    if ('need' in r) {
      this.buf = this.buf.subarray(r.skipped);
      return false;
    }
    this.buf = this.buf.subarray(r.skipped + r.consumed);
    if ('problem' in r) {
      this.hooks.count.badFrame(r.problem.code);
      this.log.warn({ code: r.problem.code }, `SL 651 frame refused: ${r.problem.message}`);
      this.badInARow++;
    } else {
      this.badInARow = 0;
      this.garbage = 0;
      this.hooks.count.frame(r.frame.func.toString(16).toUpperCase().padStart(2, '0'));
      await this.handle(r.frame);
    }
    if (this.badInARow >= MAX_BAD_IN_A_ROW || this.garbage > MAX_GARBAGE_BYTES) {
      this.hooks.count.limit('garbage');
      this.log.warn({ badInARow: this.badInARow, garbage: this.garbage }, 'SL 651 link sends no valid frames: closing it');
      this.close();
    }
    return true;
  }

  private async drain(): Promise<void> {
    this.busy = true;
    this.socket.pause();
    try {
      while (!this.closed && (await this.next()));
    } catch (err) {
      this.log.error({ err }, 'SL 651 link failed; closing it');
      this.close();
    } finally {
      this.busy = false;
      if (!this.closed) this.socket.resume();
    }
  }
}
