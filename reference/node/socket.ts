/**
 * The emulated socket (claim 13 of the seed): a Node `Duplex` that behaves like `net.Socket` where
 * applications rely on it — write/end/destroy, 'data'/'end'/'close'/'error', backpressure, async
 * iteration, half-close, addresses, setNoDelay/setKeepAlive/setTimeout — so code written against
 * Node streams runs on it unchanged, while underneath the connection can move between processes.
 *
 * The mapping to the spec's application calls (§2.4, §9.7):
 * - reading (`_read`) is `recv`: on a dormant handle it is T3, and the read waits for the handoff;
 * - `write` is `send`: on a dormant handle T4, the bytes are held until the successor may send (§6.7);
 * - `end()` is `shutdown(SHUT_WR)`: FIN once everything written is sent;
 * - `destroy()` is `close`: at an origin whose connection a successor holds, T1 (the handoff), else
 *   an ordinary close; on a dormant handle, RELEASE (§5.8). Bytes the application had received but
 *   not consumed go back to the engine first, so the copy carries them (§6.5).
 *
 * Errors are {@link RebindError}s with the spec's stable codes (`err.code === 'ERR_REBOUND'`...).
 *
 * @module
 */
import { Duplex } from 'node:stream';
import { RebindError } from '../errors.js';
import type { ConnectionHost } from './host.js';
import { tracing } from './trace.js';

/** Options of a {@link RebindSocket} (those of `net.Socket` that apply). */
export interface RebindSocketOptions {
  /** Keep the readable side open after the other end's FIN (default false, like `net.Socket`). */
  allowHalfOpen?: boolean;
}

/** `tcp://HOST:PORT` → host and port. */
function splitAddress(address: string | undefined): { host?: string; port?: number; family?: string } {
  const match = address === undefined ? null : /^[a-z]+:\/\/\[?([^\]]*?)\]?:(\d+)$/.exec(address);
  if (match === null) return {};
  const host = match[1]!;
  return { host, port: Number(match[2]), family: host.includes(':') ? 'IPv6' : 'IPv4' };
}

/** See the module comment. Made by `createServer`, `connect`, `inherited()` or a handoff; not by `new`. */
export class RebindSocket extends Duplex {
  /** The connection's host (engine, channels, timers). */
  host: ConnectionHost;
  /** Bytes given to the application. */
  bytesRead = 0;
  /** Bytes the application wrote. */
  bytesWritten = 0;
  /** Like `net.Socket.connecting`: true until the HELLOs are exchanged (client side). */
  connecting = false;
  #timeoutMs = 0;
  #idleTimer: NodeJS.Timeout | undefined;
  #rebound = false;
  #failed = false;
  #connectWaiters: Array<() => void> = [];
  #remote: { host?: string; port?: number; family?: string } = {};
  #local: { host?: string; port?: number; family?: string } = {};

  /** @internal */
  constructor(host: ConnectionHost, options: RebindSocketOptions = {}) {
    super({ allowHalfOpen: options.allowHalfOpen === true, decodeStrings: true, emitClose: true, autoDestroy: true, writableHighWaterMark: 256 * 1024 });
    this.host = host;
    host.socket = this;
    this.addresses();
  }

  /** The connection id (§2.2), hex. */
  get cid(): string {
    return this.host.cidHex;
  }

  /** The role this process plays for the connection: `origin`, `successor` (a dormant or adopted handle) or `peer`. */
  get role(): 'origin' | 'successor' | 'peer' {
    return this.host.startRole;
  }

  /** The protocol state of this end (§7), e.g. `OPEN`, `DORMANT`, `OWNER/OPEN`, `REBOUND`. */
  get protocolState(): string {
    return this.host.engine.state;
  }

  /** Whether the connection moved to another process (§6.6): reads end, writes fail `ERR_REBOUND`. */
  get isRebound(): boolean {
    return this.#rebound;
  }

  get remoteAddress(): string | undefined {
    return this.#remote.host;
  }
  get remotePort(): number | undefined {
    return this.#remote.port;
  }
  get remoteFamily(): string | undefined {
    return this.#remote.family;
  }
  get localAddress(): string | undefined {
    return this.#local.host;
  }
  get localPort(): number | undefined {
    return this.#local.port;
  }
  get readyState(): string {
    if (this.connecting) return 'opening';
    if (this.readable && this.writable) return 'open';
    if (this.readable) return 'readOnly';
    if (this.writable) return 'writeOnly';
    return 'closed';
  }
  get pending(): boolean {
    return this.connecting;
  }

  /** Like `net.Socket.address()`. */
  address(): { address?: string; port?: number; family?: string } {
    return { address: this.#local.host, port: this.#local.port, family: this.#local.family };
  }

  /** Refreshes the addresses from the current C1 (they change after a handoff). */
  addresses(): void {
    const c1 = this.host.connection;
    if (c1 === undefined) return;
    this.#remote = splitAddress(c1.remoteAddress);
    this.#local = splitAddress(c1.localAddress);
  }

  /** @internal A dormant handle's addresses, from its connection record (§2.3). */
  setRecordAddresses(local: string, remote: string): void {
    this.#local = splitAddress(local);
    this.#remote = splitAddress(remote);
  }

  /** Nagle is always off on the TCP binding (§11.1); accepted for compatibility. */
  setNoDelay(_noDelay = true): this {
    return this;
  }

  /** Accepted for compatibility; TCP keep-alive is the transport's. */
  setKeepAlive(_enable = false, _delay = 0): this {
    return this;
  }

  /** Like `net.Socket.setTimeout`: 'timeout' after `ms` without activity (0 turns it off). */
  setTimeout(ms: number, callback?: () => void): this {
    this.#timeoutMs = ms;
    if (callback !== undefined) {
      if (ms === 0) this.removeListener('timeout', callback);
      else this.once('timeout', callback);
    }
    this.#touch();
    return this;
  }

  /** Keeps the process alive while this socket is open (default), like `net.Socket.ref`. */
  ref(): this {
    this.host.connection?.setKeepAlive?.(true);
    return this;
  }

  /** Lets the process exit while this socket is open, like `net.Socket.unref`. */
  unref(): this {
    this.host.connection?.setKeepAlive?.(false);
    return this;
  }

  #touch(): void {
    if (this.#idleTimer !== undefined) clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
    if (this.#timeoutMs > 0 && !this.destroyed) {
      this.#idleTimer = setTimeout(() => this.emit('timeout'), this.#timeoutMs);
      this.#idleTimer.unref();
    }
  }

  // -------------------------------------------------------------------------------------------
  // Duplex implementation.

  /** Every byte reaches the application through a 'data' event (flowing or `read()`): the `recv` of §13.1. */
  override emit(event: string | symbol, ...args: unknown[]): boolean {
    if (event === 'data' && tracing() && args[0] instanceof Uint8Array) this.host.traceRead(args[0]);
    return super.emit(event, ...args);
  }

  /**
   * §6.6: a write on a rebound handle fails with `ERR_REBOUND` — also once the stream has ended
   * its writable side itself (without `allowHalfOpen`, the end of reads at the move ends writes
   * and the stream closes, and Node would answer a generic "write after end").
   */
  override write(chunk: unknown, callback?: (error: Error | null | undefined) => void): boolean;
  override write(chunk: unknown, encoding: BufferEncoding, callback?: (error: Error | null | undefined) => void): boolean;
  override write(chunk: unknown, encoding?: unknown, callback?: unknown): boolean {
    if (this.#rebound && (this.writableEnded || this.destroyed)) {
      const done = typeof encoding === 'function' ? encoding : callback;
      const error = new RebindError('REBOUND', 'write on a rebound handle', { section: '6.6' });
      if (typeof done === 'function') process.nextTick(() => (done as (error: Error) => void)(error));
      return false;
    }
    return super.write(chunk, encoding as BufferEncoding, callback as (error: Error | null | undefined) => void);
  }

  override _read(_size: number): void {
    this.host.read();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#touch();
    if (this.connecting) {
      this.#connectWaiters.push(() => this._write(chunk, _encoding, callback));
      return;
    }
    this.bytesWritten += chunk.length;
    this.host.write(chunk, callback);
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, callback: (error?: Error | null) => void): void {
    const total = chunks.reduce((n, c) => n + c.chunk.length, 0);
    this._write(chunks.length === 1 ? chunks[0]!.chunk : Buffer.concat(chunks.map((c) => c.chunk), total), 'buffer' as BufferEncoding, callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (this.connecting) {
      this.#connectWaiters.push(() => this._final(callback));
      return;
    }
    if (!this.#rebound && !this.#failed) this.host.shutdown();
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (this.#idleTimer !== undefined) clearTimeout(this.#idleTimer);
    if (!this.#rebound && !this.#failed) {
      this.#giveBackUnread();
      this.host.close();
    }
    callback(error);
  }

  /** Bytes pushed to this stream but not consumed by the application go back to the engine (§6.5). */
  #giveBackUnread(): void {
    const chunks = this.takeUnconsumed();
    if (chunks.length > 0) this.host.giveBack(chunks);
  }

  /**
   * @internal Removes and returns the bytes this stream holds for the application but has not
   * handed to it (its read buffer, while paused): for the copy they count as unread (§6.5).
   * Node keeps the buffer private; this reads the two shapes it has had (a linked list up to
   * Node 21, an array with a start index since). With `setEncoding` the buffer holds strings and
   * nothing is taken back.
   */
  takeUnconsumed(): Buffer[] {
    if (this.readableLength === 0 || this.readableFlowing === true) return [];
    const state = (this as unknown as { _readableState?: Record<string, unknown> })._readableState;
    if (state === undefined || state.decoder !== null && state.decoder !== undefined) return [];
    const buffer = state.buffer as { head?: { data: unknown; next: unknown } | null; clear?: () => void } | unknown[] | undefined;
    const chunks: Buffer[] = [];
    if (Array.isArray(buffer)) {
      const start = typeof state.bufferIndex === 'number' ? state.bufferIndex : 0;
      for (const chunk of buffer.slice(start)) if (Buffer.isBuffer(chunk)) chunks.push(chunk);
      buffer.length = 0;
      if (typeof state.bufferIndex === 'number') state.bufferIndex = 0;
    } else if (buffer !== undefined && typeof buffer.clear === 'function') {
      for (let node = buffer.head; node !== undefined && node !== null; node = node.next as typeof node) {
        if (Buffer.isBuffer(node.data)) chunks.push(node.data);
      }
      buffer.clear();
    } else return [];
    state.length = 0;
    this.bytesRead -= chunks.reduce((n, c) => n + c.length, 0);
    return chunks;
  }

  // -------------------------------------------------------------------------------------------
  // From the host.

  /** @internal Bytes for the application; returns whether it wants more now. */
  deliver(data: Uint8Array): boolean {
    this.#touch();
    this.bytesRead += data.length;
    return this.push(Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  }

  /** @internal The other end's FIN (or the handle was rebound). */
  deliverEnd(): void {
    this.push(null);
    this.read(0); // emits 'end' now if nothing is buffered, even when the application is not reading (as net.Socket)
  }

  /** @internal The connection failed on this role with a typed error. */
  fail(error: RebindError): void {
    if (this.#failed || this.destroyed) return;
    this.#failed = true;
    this.destroy(error);
  }

  /**
   * @internal The transport closed after the other end's FIN (§9.7): the engine still delivers the
   * unread bytes and then end-of-stream; the stream destroys itself once both sides are done
   * (autoDestroy), as `net.Socket` does.
   */
  closedByPeer(): void {
    if (this.destroyed) return;
    this.#failed = true; // nothing more to tell the engine
  }

  /** @internal The connection moved to another process (§6.6): reads end, writes fail. */
  rebound(): void {
    if (this.#rebound) return;
    this.#rebound = true;
    this.emit('rebound');
    if (this.destroyed) return;
    this.push(null);
    // A handle the application still holds: it reads EOF; the next write fails with ERR_REBOUND.
  }

  /** @internal The HELLOs were exchanged (client side): 'connect' and 'ready'. */
  connected(): void {
    this.connecting = false;
    this.addresses();
    const waiters = this.#connectWaiters;
    this.#connectWaiters = [];
    for (const w of waiters) w();
    this.emit('connect');
    this.emit('ready');
  }

  /** @internal The client side could not connect. */
  connectFailed(error: RebindError): void {
    this.connecting = false;
    this.#failed = true;
    this.destroy(error);
  }
}

/** Whether `value` is a {@link RebindSocket}. */
export function isRebindSocket(value: unknown): value is RebindSocket {
  return value instanceof RebindSocket;
}

export { RebindError };
