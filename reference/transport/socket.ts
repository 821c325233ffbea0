/**
 * A {@link FrameConnection} over a Node byte-stream socket, shared by the TCP binding (§11.1) and
 * the local channel (§11.3): frames back to back, split by the codec's {@link FrameReader}.
 *
 * Receiving: every chunk goes to a {@link FrameSplitter} (the codec's checks, fewer copies than
 * `FrameReader`, see splitter.ts); the frames it completes are queued and delivered as
 * `'frame'` events unless the connection is paused (then the socket is paused too, so TCP's flow
 * control slows the sender down). A decoding error (§3.4) delivers the frames completed before the
 * bad one, then fails the connection with the codec's error. An EOF inside a frame is
 * `FRAME_TRUNCATED` (§11.1); a reset or write failure is `TRANSPORT_FAILED`.
 *
 * Sending: `send` encodes with the codec and writes one buffer; `sendData` builds DATA headers
 * itself and writes large payloads as views (no copy), corked with their header so that Node hands
 * both to the kernel in one writev.
 *
 * @module
 */
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { RebindError } from '../errors.js';
import {
  FrameType,
  HEADER_SIZE,
  MAX_PAYLOAD_CEILING,
  MAX_PAYLOAD_DEFAULT,
  PROTOCOL_VERSION,
  encodeFrame,
  type Message,
} from '../wire/index.js';
import { FrameSplitter } from './splitter.js';
import { checkDataArguments, type FrameConnection, type FrameConnectionEvents } from './transport.js';

/** Header + offset of a DATA frame (§4.2). */
const DATA_PREFIX = HEADER_SIZE + 8;
/**
 * DATA payloads up to this size are copied into one buffer with their header (the buffer then comes
 * from Node's 8 KiB pool, and a copy this small is cheaper than a second write); larger ones are
 * written as views, corked with their header into one writev.
 */
const COPY_LIMIT = 4 * 1024 - DATA_PREFIX - 1;
/** The smallest maxPayload a HELLO may announce (§4.1, spec/tables/messages.json). */
const MIN_PEER_MAX_PAYLOAD = 1024;

/** Options of {@link SocketFrameConnection}. */
export interface SocketConnectionOptions {
  /** Binding name (`'tcp'`, `'local'`). */
  readonly transport: string;
  /** Frame class the decoder accepts: a frame of the other class is `FRAME_UNKNOWN_TYPE` (§3.1). */
  readonly channel: 'wire' | 'local';
  /** Spec section of the binding, cited by `TRANSPORT_FAILED` (e.g. "11.1"). */
  readonly section: string;
  readonly localAddress: string;
  readonly remoteAddress: string;
  /** This end's receive limit (§3.3); default 1 MiB. */
  readonly maxPayload?: number;
  /** Deliver DATA frames that span reads in slices, without copying (see {@link FrameSplitter}). */
  readonly sliceData?: boolean;
  /**
   * Sees each frame before it is delivered; returns false to swallow it (the local channel uses
   * this to take JOIN, §5.1). It may destroy the connection.
   */
  readonly intercept?: (message: Message) => boolean;
}

/** Throws `INVALID_ARGUMENT` unless `bytes` is a payload limit a HELLO may announce (§3.3, §4.1). */
export function checkMaxPayload(bytes: unknown, name = 'maxPayload'): number {
  if (typeof bytes !== 'number' || !Number.isInteger(bytes) || bytes < MIN_PEER_MAX_PAYLOAD || bytes > MAX_PAYLOAD_CEILING) {
    throw new RebindError('INVALID_ARGUMENT', `${name} must be an integer ${MIN_PEER_MAX_PAYLOAD}..${MAX_PAYLOAD_CEILING}`, {
      section: '3.3',
      detail: { [name]: bytes },
    });
  }
  return bytes;
}

/** See the module comment. Construct it on a connected socket; it takes the socket over. */
export class SocketFrameConnection extends EventEmitter<FrameConnectionEvents> implements FrameConnection {
  readonly transport: string;
  readonly localAddress: string;
  readonly remoteAddress: string;

  readonly #socket: Socket;
  readonly #reader: FrameSplitter;
  readonly #section: string;
  readonly #intercept: ((message: Message) => boolean) | undefined;
  readonly #channel: 'wire' | 'local';
  #peerMaxPayload = MAX_PAYLOAD_DEFAULT;

  /** Received frames not yet delivered; `#pending[#head]` is next. */
  #pending: Message[] = [];
  #head = 0;
  #paused = false;
  #delivering = false;

  /** `end()` or `destroy()` was called. */
  #userClosed = false;
  /** `destroy()` was called: undelivered frames are dropped. */
  #discard = false;
  #socketClosed = false;
  #closeEmitted = false;
  #closeError: RebindError | undefined;
  #endWaiters: (() => void)[] = [];

  constructor(socket: Socket, options: SocketConnectionOptions) {
    super();
    this.transport = options.transport;
    this.localAddress = options.localAddress;
    this.remoteAddress = options.remoteAddress;
    this.#socket = socket;
    this.#section = options.section;
    this.#intercept = options.intercept;
    this.#channel = options.channel;
    this.#reader = new FrameSplitter({
      maxPayload: options.maxPayload ?? MAX_PAYLOAD_DEFAULT,
      channel: options.channel,
      sliceData: options.sliceData === true,
    });
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('end', () => this.#onEnd());
    socket.on('error', (error: NodeJS.ErrnoException) => this.#onError(error));
    socket.on('close', () => this.#onSocketClose());
    socket.on('drain', () => this.emit('drain'));
  }

  get closed(): boolean {
    return this.#userClosed || this.#socketClosed || this.#closeEmitted;
  }

  get bufferedAmount(): number {
    return this.#socket.writableLength;
  }

  get peerMaxPayload(): number {
    return this.#peerMaxPayload;
  }

  setPeerMaxPayload(bytes: number): void {
    this.#peerMaxPayload = checkMaxPayload(bytes, 'peerMaxPayload');
  }

  // -------------------------------------------------------------------------------------------
  // Sending.

  send(message: Message): boolean {
    this.#checkOpen();
    const frame = encodeFrame(message, { maxPayload: this.#peerMaxPayload });
    if (!this.#socket.writable) return false; // lost; 'close' is on its way
    return this.#socket.write(frame);
  }

  sendData(offset: bigint, data: Uint8Array): boolean {
    this.#checkOpen();
    checkDataArguments(offset, data);
    const socket = this.#socket;
    if (!socket.writable) return false;
    const piece = this.#peerMaxPayload - 8; // data bytes per frame (§3.3: the limit counts the offset too)
    const cork = data.length > COPY_LIMIT;
    if (cork) socket.cork();
    let ok = true;
    try {
      for (let pos = 0; pos < data.length; pos += piece) {
        const n = Math.min(piece, data.length - pos);
        const bytes = n === data.length ? data : data.subarray(pos, pos + n);
        const copy = n <= COPY_LIMIT;
        const frame = Buffer.allocUnsafe(copy ? DATA_PREFIX + n : DATA_PREFIX);
        // §3.1 header, then §4.2 offset.
        frame[0] = PROTOCOL_VERSION;
        frame[1] = FrameType.DATA;
        frame.writeUInt16BE(0, 2);
        frame.writeUInt32BE(8 + n, 4);
        frame.writeBigUInt64BE(offset + BigInt(pos), HEADER_SIZE);
        if (copy) {
          frame.set(bytes, DATA_PREFIX);
          ok = socket.write(frame);
        } else {
          socket.write(frame);
          ok = socket.write(bytes);
        }
      }
    } finally {
      if (cork) socket.uncork();
    }
    return ok;
  }

  cork(): void {
    this.#socket.cork();
  }

  uncork(): void {
    this.#socket.uncork();
  }

  /** `CLOSED` once the caller has ended or destroyed the connection, or seen its 'close'. */
  #checkOpen(): void {
    if (this.#userClosed || this.#closeEmitted) {
      throw new RebindError('CLOSED', `the ${this.transport} connection is closed`, { section: this.#section });
    }
  }

  // -------------------------------------------------------------------------------------------
  // Receiving.

  pause(): void {
    this.#paused = true;
    this.#socket.pause();
  }

  resume(): void {
    this.#paused = false;
    this.#deliver();
    if (!this.#paused && !this.#socketClosed) this.#socket.resume();
  }

  #onData(chunk: Buffer): void {
    if (this.#closeError !== undefined) return; // failed: what follows a bad frame is not read (§3.4)
    let messages: Message[];
    try {
      messages = this.#reader.push(chunk);
    } catch (error) {
      // §3.4: the frames completed before the bad one are delivered, then the connection fails.
      const failure = error as RebindError;
      this.#enqueue((failure.detail.decodedBefore as Message[] | undefined) ?? []);
      this.#failDecoding(failure);
      return;
    }
    if (messages.length > 0) this.#enqueue(messages);
  }

  #enqueue(messages: readonly Message[]): void {
    for (const message of messages) this.#pending.push(message);
    this.#deliver();
  }

  /** Delivers queued frames until paused; emits 'close' once the socket is gone and the queue is empty. */
  #deliver(): void {
    if (this.#delivering) return; // resume() from inside a 'frame' listener: the running loop continues
    this.#delivering = true;
    try {
      while (!this.#paused && !this.#discard && this.#head < this.#pending.length) {
        const message = this.#pending[this.#head++] as Message;
        if (this.#intercept === undefined || this.#intercept(message)) this.emit('frame', message);
      }
    } finally {
      this.#delivering = false;
      if (this.#head === this.#pending.length) {
        this.#pending = [];
        this.#head = 0;
      }
    }
    if (this.#socketClosed && this.#pending.length === 0) this.#emitClose();
  }

  #onEnd(): void {
    try {
      this.#reader.end();
    } catch (error) {
      this.#failDecoding(error as RebindError); // §11.1: EOF inside a frame is FRAME_TRUNCATED
    }
    // A clean EOF: the socket (allowHalfOpen false) ends its side too and then closes.
  }

  #onError(error: NodeJS.ErrnoException): void {
    this.#fail(
      new RebindError('TRANSPORT_FAILED', `the ${this.transport} connection failed: ${error.message}`, {
        section: this.#section,
        detail: { code: error.code, bufferedBytes: this.#reader.bufferedBytes },
        cause: error,
      }),
    );
  }

  /** Records the first error and closes the socket. */
  #fail(error: RebindError): void {
    this.#closeError ??= error;
    this.#socket.destroy();
  }

  /**
   * §3.4: the other end sent bytes that do not decode. On a wire channel the receiver sends ERROR
   * with the error's code (best effort) before it closes; on L it only closes (ERROR never crosses
   * L, §4.12). The connection's 'close' carries the error, so the role fails with it.
   */
  #failDecoding(error: RebindError): void {
    if (this.#channel !== 'wire' || this.#userClosed || this.#closeError !== undefined || !this.#socket.writable) {
      this.#fail(error);
      return;
    }
    this.#closeError = error;
    const frame = encodeFrame({ type: 'ERROR', code: error.wireCode, reason: error.message.slice(0, 200) });
    this.#socket.end(frame, () => this.#socket.destroy()); // flushed (and FIN sent): close now
    setTimeout(() => this.#socket.destroy(), 2000).unref(); // the write never completes: close anyway
  }

  #onSocketClose(): void {
    this.#socketClosed = true;
    if (this.#discard || this.#pending.length === 0) this.#emitClose();
    // Otherwise 'close' follows the last queued frame (#deliver).
  }

  #emitClose(): void {
    if (this.#closeEmitted) return;
    this.#closeEmitted = true;
    this.#pending = [];
    this.#head = 0;
    const error = this.#closeError;
    if (error === undefined) this.emit('close');
    else this.emit('close', error);
    for (const resolve of this.#endWaiters.splice(0)) resolve();
  }

  /** Whether this connection keeps the Node process alive (like `net.Socket.ref/unref`). */
  setKeepAlive(keep: boolean): void {
    if (keep) this.#socket.ref();
    else this.#socket.unref();
  }

  // -------------------------------------------------------------------------------------------
  // Closing.

  end(): Promise<void> {
    if (this.#closeEmitted) return Promise.resolve();
    this.#userClosed = true;
    return new Promise((resolve) => {
      this.#endWaiters.push(resolve);
      // Graceful: queued frames are written, then FIN; 'close' comes when the other end has closed too.
      this.#socket.end();
    });
  }

  destroy(error?: RebindError): void {
    if (this.#closeEmitted) return;
    this.#userClosed = true;
    this.#discard = true;
    if (error !== undefined) this.#closeError ??= error;
    this.#socket.destroy();
    if (this.#socketClosed) this.#emitClose(); // the socket was gone already, its frames were held by pause()
  }
}
