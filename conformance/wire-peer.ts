/**
 * A raw, frame-level peer for the kit's fault cases (spec §3, §4, §11.1, §15.1).
 *
 * The kit's ordinary peer ({@link CaseContext.peer}) is the reference library's client: it always
 * does the right thing, so it cannot send a wrong token, a frame out of order or bytes that are no
 * frame at all. A {@link WirePeer} speaks frames directly over a `node:net` socket with the
 * reference codec: it sends whatever message it is told to (any fields, any order), raw bytes, a
 * half-close or a reset, and it awaits the implementation's frames one by one with a timeout,
 * failing the case with a {@link CaseFailure} that names the section when something else comes.
 *
 * It keeps the byte streams itself: DATA and FIN it receives are checked for contiguous offsets
 * (§6.4) and collected (read them with {@link WirePeer.readData}); they are not returned by
 * {@link WirePeer.next}, which gives the control frames in order. {@link WirePeer.sendData} sends
 * DATA from its own send offset. On C2 both offsets start where the handoff put them.
 *
 * Everything it does is recorded as trace lines of the notation of §13.1 (actor `P`, or `X` for
 * a stranger) in the case's `peerTrace`, so that it ends up in the case's artefact. Bytes that are
 * no frame cannot be written in the notation; they are recorded as a comment line.
 *
 * @module
 */
import { connect as netConnect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { errorByWireCode, RebindError } from '../reference/errors.js';
import { messageFields, type HostTraceEvent } from '../reference/node/index.js';
import { formatEvent } from '../reference/trace/format.js';
import type { ActionName, FieldValue, TraceEvent } from '../reference/trace/events.js';
import { encodeFrame, FrameReader, HEADER_SIZE, MAX_PAYLOAD_DEFAULT, PROTOCOL_VERSION, type Message, type MessageName, type MessageOf } from '../reference/wire/index.js';
import { CaseFailure, type CaseContext } from './run.js';

/** Options of {@link WirePeer.connect}. */
export interface WirePeerOptions {
  /** This end's actor in traces: `P` (the peer, default) or `X` (a stranger, §1.2). */
  readonly actor?: string;
  /** The actor at the other end: `O` (default), or `S<port>` for a successor's rebind listener. */
  readonly remote?: string;
  /** Where the trace lines go (a case's `peerTrace`); default nowhere. */
  readonly trace?: HostTraceEvent[];
  /**
   * Send HELLO at once and wait for the other end's (§6.1); default true. False on C2 (no HELLO,
   * §4.1) and for cases that misbehave before HELLO.
   */
  readonly hello?: boolean;
  /** The connection's cid when known in advance (C2); on C1 the acceptor's HELLO gives it. */
  readonly cid?: Uint8Array;
  /** Where the two streams stand on this connection (C2: the handoff's Yp and Xo, §6.4). */
  readonly offsets?: { readonly send: bigint; readonly recv: bigint };
  /** How long to wait for the connect and the other end's HELLO, ms; default 5000. */
  readonly timeoutMs?: number;
  /** Called with the peer as soon as it exists (before the connect completes): a case registers its cleanup. */
  readonly created?: (peer: WirePeer) => void;
}

/** Milliseconds on the clock the reference's trace hooks use (§13.1), so the lines merge. */
function now(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000) / 1000;
}

/** `tcp://HOST:PORT` → host and port (§3.2, §11.1). */
export function tcpHostPort(addr: string, section = '11.1'): { host: string; port: number } {
  const match = /^tcp:\/\/\[?([^\]]*?)\]?:(\d+)$/.exec(addr);
  if (match === null) throw new CaseFailure(`expected a tcp://HOST:PORT address, got ${JSON.stringify(addr)}`, section);
  return { host: match[1]!, port: Number(match[2]) };
}

/** The actor name the reference gives the successor listening at `addr` (`S<port>`). */
export function successorActor(addr: string): string {
  const port = /:(\d+)$/.exec(addr)?.[1];
  return port === undefined ? 'S' : `S${port}`;
}

/** An error code as its §12 name, for messages and traces (§13.1: codes are written as names). */
export function codeName(code: number): string {
  return errorByWireCode(code)?.name ?? `0x${code.toString(16).padStart(4, '0')}`;
}

/** A short description of a frame for failure messages: `ABORT hid=1 code=TIMEOUT`. */
export function describe(message: Message): string {
  const fields = messageFields(message);
  const parts: string[] = [message.type];
  for (const [key, value] of Object.entries(fields)) {
    if (key === 'data' || key === 'token' || key === 'cid') continue;
    parts.push(`${key}=${key === 'code' && typeof value === 'number' ? codeName(value) : String(value)}`);
  }
  return parts.join(' ');
}

/**
 * Bytes of one frame built by hand (§3.1), for frames the codec refuses to encode: any version,
 * type, flags and payload; `length` defaults to the payload's real length.
 */
export function rawFrame(options: { version?: number; type: number; flags?: number; length?: number; payload?: Uint8Array }): Uint8Array {
  const payload = options.payload ?? new Uint8Array(0);
  const out = Buffer.alloc(HEADER_SIZE + payload.length);
  out.writeUInt8(options.version ?? PROTOCOL_VERSION, 0);
  out.writeUInt8(options.type, 1);
  out.writeUInt16BE(options.flags ?? 0, 2);
  out.writeUInt32BE(options.length ?? payload.length, 4);
  out.set(payload, HEADER_SIZE);
  return out;
}

/** Rejects with `failure()` unless `promise` settles within `ms`. */
export function within<T>(promise: Promise<T>, ms: number, failure: () => CaseFailure): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(failure()), ms);
    timer.unref();
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

/** See the module comment. */
export class WirePeer {
  /** Control frames received and not yet taken by {@link next}, in order. */
  private readonly queue: Message[] = [];
  /** Every frame received, DATA included, in order (for checks after the fact). */
  readonly log: Message[] = [];
  private readonly reader = new FrameReader({ channel: 'wire', maxPayload: MAX_PAYLOAD_DEFAULT });
  private readonly received: Buffer[] = [];
  private receivedBytes = 0;
  private readBytes = 0;
  private wake: Array<() => void> = [];
  /** The implementation broke a rule this peer checks on arrival (a frame that does not decode, a gap in offsets). */
  private violation: CaseFailure | undefined;
  /** The other end closed its sending side (EOF) or the connection is gone. */
  private eof = false;
  private gone = false;
  /** How the connection ended: `end` (EOF), `reset` (an error such as ECONNRESET) or `cut` (by this peer). */
  ending: 'end' | 'reset' | 'cut' | undefined;
  /** The offset of the next byte this peer sends (§6.4). */
  sendOffset: bigint;
  /** Bytes of the other end's stream received so far (§6.4). */
  recvOffset: bigint;
  /** The other end's FIN offset, once received (§4.3). */
  finReceived: bigint | undefined;
  /** The connection's cid (hex); `-` until the acceptor's HELLO fixes it. */
  cidHex = '-';
  cid: Uint8Array | undefined;
  /** The other end's HELLO (C1). */
  hello: MessageOf<'HELLO'> | undefined;

  private constructor(
    private readonly socket: Socket,
    readonly actor: string,
    readonly remote: string,
    private readonly sink: HostTraceEvent[] | undefined,
    options: WirePeerOptions,
  ) {
    this.sendOffset = options.offsets?.send ?? 0n;
    this.recvOffset = options.offsets?.recv ?? 0n;
    if (options.cid !== undefined) this.setCid(options.cid);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => {
      try {
        this.reader.end();
      } catch (error) {
        this.violation ??= new CaseFailure(`the implementation's stream ended inside a frame: ${(error as Error).message}`, '11.1');
      }
      this.eof = true;
      this.ending ??= 'end';
      this.notify();
    });
    socket.on('error', () => {
      this.ending ??= 'reset';
    });
    socket.on('close', () => {
      this.eof = true;
      this.gone = true;
      this.notify();
    });
  }

  /**
   * Connects to `addr` (`tcp://HOST:PORT`) and, unless `hello: false`, exchanges HELLOs as the
   * connector (§6.1): its own HELLO at once, then the acceptor's, which fixes the cid.
   */
  static async connect(addr: string, options: WirePeerOptions = {}): Promise<WirePeer> {
    const { host, port } = tcpHostPort(addr);
    const timeoutMs = options.timeoutMs ?? 5000;
    const socket = netConnect({ host, port, allowHalfOpen: true });
    const peer = new WirePeer(socket, options.actor ?? 'P', options.remote ?? 'O', options.trace, options);
    options.created?.(peer);
    await within(
      new Promise<void>((resolve, reject) => {
        socket.once('connect', () => resolve());
        socket.once('error', (error) => reject(new CaseFailure(`cannot connect to ${addr}: ${error.message}`, '11.1')));
      }),
      timeoutMs,
      () => new CaseFailure(`no TCP connection to ${addr} within ${timeoutMs} ms`, '11.1'),
    );
    peer.action('connect', [peer.remote]);
    if (options.hello !== false) {
      peer.send({ type: 'HELLO', fast: false, acceptor: false, cid: new Uint8Array(16), maxPayload: MAX_PAYLOAD_DEFAULT, credits: 0 });
      const hello = await peer.expect('HELLO', '6.1', { timeoutMs });
      if (!hello.acceptor || hello.cid.every((b) => b === 0)) throw new CaseFailure(`the acceptor's HELLO has acceptor=${String(hello.acceptor)} and a ${hello.cid.every((b) => b === 0) ? 'zero' : 'nonzero'} cid`, '2.2');
      peer.hello = hello;
    }
    return peer;
  }

  private setCid(cid: Uint8Array): void {
    this.cid = cid;
    this.cidHex = Buffer.from(cid).toString('hex');
  }

  // -------------------------------------------------------------------------------------------
  // Receiving.

  private onData(chunk: Buffer): void {
    if (this.violation !== undefined) return;
    let messages: Message[];
    try {
      messages = this.reader.push(chunk);
    } catch (error) {
      const before = ((error as RebindError).detail?.decodedBefore as Message[] | undefined) ?? [];
      for (const m of before) this.take(m);
      this.violation = new CaseFailure(`the implementation sent bytes that are not a valid frame: ${(error as Error).message}`, '3.4');
      this.notify();
      return;
    }
    for (const m of messages) this.take(m);
    this.notify();
  }

  private take(message: Message): void {
    if (message.type === 'HELLO' && message.acceptor && this.cid === undefined) this.setCid(message.cid);
    this.trace('receive', message);
    this.log.push(message);
    if (message.type === 'DATA' || message.type === 'FIN') {
      // §4.2, §6.4: offsets are contiguous across every channel.
      const expected = this.recvOffset;
      if (message.offset !== expected || this.finReceived !== undefined) {
        this.violation ??= new CaseFailure(`${message.type} offset=${message.offset}, expected ${this.finReceived !== undefined ? 'nothing after FIN' : String(expected)}: bytes lost, doubled or reordered`, '6.4');
        return;
      }
      if (message.type === 'FIN') this.finReceived = message.offset;
      else {
        this.received.push(Buffer.from(message.data));
        this.receivedBytes += message.data.length;
        this.recvOffset += BigInt(message.data.length);
      }
      return;
    }
    this.queue.push(message);
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = [];
    for (const w of wake) w();
  }

  private changed(): Promise<void> {
    return new Promise((resolve) => this.wake.push(resolve));
  }

  /** Whether the other end has closed (EOF) or the connection is gone. */
  get closed(): boolean {
    return this.eof;
  }

  /**
   * The next control frame (not DATA/FIN), or `undefined` once the connection has closed and none
   * is left. Fails with `section` after `timeoutMs` (`waitingFor` names what the case expected).
   */
  async next(section: string, options: { timeoutMs?: number; waitingFor?: string } = {}): Promise<Message | undefined> {
    const timeoutMs = options.timeoutMs ?? 5000;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      // Frames that came before a bad one are given first (§3.4), then the violation.
      const message = this.queue.shift();
      if (message !== undefined) return message;
      if (this.violation !== undefined) throw this.violation;
      if (this.eof) return undefined;
      const left = deadline - Date.now();
      if (left <= 0) throw new CaseFailure(`no ${options.waitingFor ?? 'frame'} from ${this.remote} within ${timeoutMs} ms`, section);
      await within(this.changed(), left, () => new CaseFailure(`no ${options.waitingFor ?? 'frame'} from ${this.remote} within ${timeoutMs} ms`, section));
    }
  }

  /** The next control frame must be `type`; anything else (or the close) fails naming `section`. */
  async expect<N extends MessageName>(type: N, section: string, options: { timeoutMs?: number; why?: string } = {}): Promise<MessageOf<N>> {
    const message = await this.next(section, { ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}), waitingFor: type });
    const why = options.why !== undefined ? ` (${options.why})` : '';
    if (message === undefined) throw new CaseFailure(`expected ${type} from ${this.remote}${why}, but the connection closed`, section);
    if (message.type !== type) throw new CaseFailure(`expected ${type} from ${this.remote}${why}, got ${describe(message)}`, section);
    return message as MessageOf<N>;
  }

  /** Waits for the other end to close the connection; returns the control frames that came first. */
  async untilClosed(section: string, options: { timeoutMs?: number; what?: string } = {}): Promise<Message[]> {
    const timeoutMs = options.timeoutMs ?? 5000;
    const deadline = Date.now() + timeoutMs;
    const frames: Message[] = [];
    for (;;) {
      if (this.violation !== undefined) throw this.violation;
      frames.push(...this.queue.splice(0));
      if (this.eof) return frames;
      const left = deadline - Date.now();
      const failure = (): CaseFailure => new CaseFailure(`${options.what ?? `${this.remote} did not close the connection`} within ${timeoutMs} ms${frames.length > 0 ? ` (it sent ${frames.map(describe).join(', ')})` : ''}`, section);
      if (left <= 0) throw failure();
      await within(this.changed(), left, failure);
    }
  }

  /** The next `n` bytes of the other end's stream (DATA, §4.2), waiting up to `timeoutMs`. */
  async readData(n: number, section: string, options: { timeoutMs?: number; what?: string } = {}): Promise<Buffer> {
    const timeoutMs = options.timeoutMs ?? 10_000;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.violation !== undefined) throw this.violation;
      if (this.receivedBytes - this.readBytes >= n) break;
      const what = options.what ?? `${n} bytes from ${this.remote}`;
      if (this.eof) throw new CaseFailure(`${what}: the connection closed after ${this.receivedBytes - this.readBytes} of ${n} bytes`, section);
      const left = deadline - Date.now();
      const failure = (): CaseFailure => new CaseFailure(`${what}: ${this.receivedBytes - this.readBytes} of ${n} bytes within ${timeoutMs} ms`, section);
      if (left <= 0) throw failure();
      await within(this.changed(), left, failure);
    }
    // `received` holds exactly the unread bytes.
    const all = Buffer.concat(this.received);
    const out = Buffer.from(all.subarray(0, n));
    this.received.length = 0;
    if (all.length > n) this.received.push(all.subarray(n));
    this.readBytes += n;
    if (out.length > 0) this.action('recv', [], { len: out.length, data: `0x${out.toString('hex')}` });
    return out;
  }

  /** Bytes of the other end's stream received and not read yet. */
  get unreadBytes(): number {
    return this.receivedBytes - this.readBytes;
  }

  // -------------------------------------------------------------------------------------------
  // Sending.

  /** Sends one frame as given (any fields; the codec checks only what it must to encode it). */
  send(message: Message): void {
    if (this.socket.destroyed || this.socket.writableEnded) return;
    this.trace('send', message);
    this.socket.write(encodeFrame(message));
  }

  /** Application bytes as DATA frames from this peer's send offset (§4.2), at most 64 KiB each. */
  sendData(data: Uint8Array): void {
    this.action('send', [], { len: data.length, data: `0x${Buffer.from(data).toString('hex')}` });
    for (let at = 0; at < data.length; at += 65536) {
      const piece = data.subarray(at, Math.min(data.length, at + 65536));
      this.send({ type: 'DATA', offset: this.sendOffset, data: piece });
      this.sendOffset += BigInt(piece.length);
    }
  }

  /** Writes bytes that are not (all) a valid frame; recorded as a comment line. */
  sendRaw(bytes: Uint8Array, note: string): void {
    if (this.socket.destroyed || this.socket.writableEnded) return;
    this.comment(`${this.actor} sent ${this.remote} ${bytes.length} raw bytes 0x${Buffer.from(bytes).toString('hex').slice(0, 96)}${bytes.length > 48 ? '…' : ''}: ${note}`);
    this.socket.write(bytes);
  }

  /** Ends this side of the TCP connection (EOF, not the protocol's FIN). */
  endWrites(): void {
    this.comment(`${this.actor} half-closes the TCP connection to ${this.remote}`);
    this.socket.end();
  }

  /** Cuts the connection (a reset, §9.6): recorded as `cut`. */
  cut(): void {
    if (this.gone) return;
    this.ending ??= 'cut';
    this.action('cut', [this.remote]);
    this.socket.resetAndDestroy();
  }

  /** Closes quietly (a case's cleanup). */
  destroy(): void {
    this.socket.destroy();
  }

  // -------------------------------------------------------------------------------------------
  // Traces (§13.1).

  private trace(kind: 'send' | 'receive', message: Message): void {
    if (this.sink === undefined) return;
    const fields: Record<string, FieldValue> = { ...messageFields(message) };
    if ('code' in message) fields.code = codeName(message.code);
    this.push({ line: 0, column: 0, time: now(), actor: this.actor, kind, peer: this.remote, name: message.type, args: [], fields });
  }

  /** An action of this peer (§13.1): `connect`, `send`, `recv`, `cut`. */
  action(name: ActionName, args: readonly string[] = [], fields: Record<string, FieldValue> = {}): void {
    if (this.sink === undefined) return;
    this.push({ line: 0, column: 0, time: now(), actor: this.actor, kind: 'action', name, args, fields });
  }

  private push(event: TraceEvent): void {
    this.sink!.push({ ...event, cid: this.cidHex, text: formatEvent(event) });
  }

  /**
   * A comment line (§13.1: `#` to the end of the line) for what the notation cannot express, such
   * as bytes that are no frame. It carries no event: its `name` is `#`, which no filter matches.
   */
  comment(text: string): void {
    if (this.sink === undefined) return;
    const time = now();
    this.sink.push({ line: 0, column: 0, time, actor: this.actor, kind: 'action', name: '#', args: [], fields: {}, cid: this.cidHex, text: `# @${time} ${text.replace(/[\r\n]+/g, ' ')}` });
  }
}

/**
 * A raw peer for a case: connects as {@link WirePeer.connect} does, records into the case's
 * `peerTrace` and is destroyed when the case ends.
 */
export function wirePeer(ctx: CaseContext, addr: string, options: Omit<WirePeerOptions, 'trace' | 'created'> = {}): Promise<WirePeer> {
  return WirePeer.connect(addr, { ...options, trace: ctx.peerTrace, created: (peer) => ctx.onCleanup(() => peer.destroy()) });
}
