import net from 'node:net';
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { IsolaError, isIsolaError } from '../../core/errors.js';

/** How long one connection waits for the guest's handshake before a fresh one is tried. */
const ATTEMPT_MS = 2500;

/**
 * The host side of the guest agent's framing (see src/guest/init.c): 1 byte type, 4 bytes
 * big-endian length, payload. One connection is one session: QEMU's socket chardev serves one
 * client at a time, and a second client's connect fails (EAGAIN) once its listen queue is full;
 * exec sessions therefore take a port of their own (agent-ports.ts).
 */
export interface Frame {
  type: string;
  payload: Buffer;
}

export function encodeFrame(type: string, payload: Buffer | string = Buffer.alloc(0)): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const head = Buffer.alloc(5);
  head.write(type, 0, 'latin1');
  head.writeUInt32BE(body.length, 1);
  return Buffer.concat([head, body]);
}

/** Splits a byte stream into frames; keeps the incomplete tail for the next chunk. */
export class FrameReader {
  private buf: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Frame[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const out: Frame[] = [];
    while (this.buf.length >= 5) {
      const len = this.buf.readUInt32BE(1);
      if (this.buf.length < 5 + len) break;
      out.push({ type: String.fromCharCode(this.buf[0] ?? 0), payload: this.buf.subarray(5, 5 + len) });
      this.buf = this.buf.subarray(5 + len);
    }
    return out;
  }
}

export class AgentConnection {
  private reader = new FrameReader();
  private queue: Frame[] = [];
  private waiters: ((f: Frame | null) => void)[] = [];
  private closed = false;
  onFrame: ((f: Frame) => boolean) | null = null;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      for (const f of this.reader.push(d)) {
        if (this.onFrame?.(f)) continue;
        const w = this.waiters.shift();
        if (w) w(f);
        else this.queue.push(f);
      }
    });
    const end = (): void => {
      this.closed = true;
      for (const w of this.waiters.splice(0)) w(null);
      this.onFrame = null;
    };
    socket.on('close', end);
    socket.on('error', end);
  }

  /**
   * Connects and opens a session within `timeoutMs`. A handshake that gets no answer is tried
   * again on a new connection: a client that connects in the instant the guest sees the last
   * one go can be taken for that one's hang-up and never read, and a new connection is a new
   * port-open event the guest cannot miss.
   */
  static async connect(socketPath: string, timeoutMs = 5000): Promise<AgentConnection> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const left = deadline - Date.now();
      try {
        return await AgentConnection.connectOnce(socketPath, Math.min(left, ATTEMPT_MS));
      } catch (e) {
        if (!isIsolaError(e, 'TIMEOUT') || deadline - Date.now() < 50) {
          if (isIsolaError(e, 'TIMEOUT')) throw new IsolaError('TIMEOUT', `the VM's agent (${socketPath}) did not accept a connection within ${timeoutMs} ms`, 'check the VM is running (isola ps) and see isola console');
          throw e;
        }
      }
    }
  }

  private static connectOnce(socketPath: string, timeoutMs: number): Promise<AgentConnection> {
    return new Promise((resolve, reject) => {
      const s = net.connect(socketPath);
      const timer = setTimeout(() => {
        s.destroy();
        reject(new IsolaError('TIMEOUT', `the VM's agent (${socketPath}) did not accept a connection within ${timeoutMs} ms`, 'check the VM is running (isola ps) and see isola console'));
      }, timeoutMs);
      s.once('connect', () => {
        s.removeAllListeners('error');
        const c = new AgentConnection(s);
        c.handshake(timer).then(() => resolve(c), (e: unknown) => {
          c.close();
          reject(e);
        });
      });
      s.once('error', (e) => {
        clearTimeout(timer);
        reject(connectError(socketPath, e as NodeJS.ErrnoException));
      });
    });
  }

  /**
   * Opens a session: QEMU's socket may have had another client a moment ago whose exec is
   * still writing, so the guest ends it and acknowledges our nonce; frames before the ack
   * belong to that earlier session and are dropped.
   */
  private async handshake(timer: NodeJS.Timeout): Promise<void> {
    const nonce = randomBytes(8).toString('hex');
    this.send('N', nonce);
    try {
      for (;;) {
        const f = await this.next();
        if (!f) throw new IsolaError('UNAVAILABLE', 'the VM\'s agent closed the connection', 'the VM may be shutting down; see isola console');
        if (f.type === 'n' && f.payload.toString() === nonce) return;
      }
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Hands every frame from now on to `listener`, those already queued first (a stream session:
   * output frames, not replies).
   */
  stream(listener: (f: Frame) => void): void {
    for (const f of this.queue.splice(0)) listener(f);
    this.onFrame = (f) => {
      listener(f);
      return true;
    };
  }

  /**
   * Sends a client's input as `I` frames of 64 KiB. Back-pressure: when the socket's buffer is
   * full, `from` pauses until it drains, so a large copy or a paste waits instead of queueing.
   */
  sendInput(d: Buffer | string, from: Readable): void {
    const b = typeof d === 'string' ? Buffer.from(d) : d;
    let room = true;
    for (let i = 0; i < b.length; i += 65536) room = this.send('I', b.subarray(i, i + 65536)) && room;
    if (!room) {
      from.pause();
      this.socket.once('drain', () => from.resume());
    }
  }

  /** False when the socket's buffer is full (wait for its 'drain'). */
  send(type: string, payload?: Buffer | string): boolean {
    return this.closed ? true : this.socket.write(encodeFrame(type, payload));
  }

  /** The next frame not taken by onFrame, or null when the connection ends first. */
  next(timeoutMs?: number): Promise<Frame | null> {
    const f = this.queue.shift();
    if (f) return Promise.resolve(f);
    if (this.closed) return Promise.resolve(null);
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const w = (fr: Frame | null): void => {
        if (timer) clearTimeout(timer);
        resolve(fr);
      };
      this.waiters.push(w);
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          this.waiters = this.waiters.filter((x) => x !== w);
          resolve(null);
        }, timeoutMs);
      }
    });
  }

  close(): void {
    this.socket.destroy();
  }
}

/**
 * What a failed connect to an agent socket means. EAGAIN: QEMU has a client on this port and its
 * listen queue is full (it serves one client at a time): busy, not down. ECONNREFUSED: the
 * socket file is there but QEMU no longer listens (it is ending, or was killed). ENOENT: the
 * socket is gone, so is the VM.
 */
export function connectError(socketPath: string, e: NodeJS.ErrnoException): IsolaError {
  if (e.code === 'EAGAIN') return new IsolaError('UNAVAILABLE', `the VM's agent port ${socketPath} is busy with another client (connect EAGAIN)`, 'wait for the other exec session into this VM to end, then try again');
  if (e.code === 'ECONNREFUSED') return new IsolaError('UNAVAILABLE', `the VM's agent socket ${socketPath} refused the connection (ECONNREFUSED): its QEMU is not listening`, 'check the VM with isola ps and isola console; it may be shutting down');
  if (e.code === 'ENOENT') return new IsolaError('FAILED_PRECONDITION', `cannot reach the VM's agent: ${socketPath} is gone`, 'the VM is not running; start it first');
  return new IsolaError('UNAVAILABLE', `cannot reach the VM's agent at ${socketPath}: ${e.message}`, 'check the VM with isola ps and isola console');
}

/** One request, one reply (stats, signal, shutdown, ping) on the ctl channel. */
export async function request(socketPath: string, type: string, payload: string | Buffer = '', timeoutMs = 10_000): Promise<Frame> {
  const c = await AgentConnection.connect(socketPath, timeoutMs);
  try {
    c.send(type, payload);
    const f = await c.next(timeoutMs);
    if (!f) throw new IsolaError('TIMEOUT', `the VM's agent did not answer within ${timeoutMs} ms`, 'see isola console for what the guest is doing');
    return f;
  } finally {
    c.close();
  }
}
