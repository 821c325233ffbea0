/**
 * The transport interface (spec §11): what the protocol engine needs from C1, C2 and L, whatever
 * carries them. A {@link FrameConnection} is a reliable, ordered, process-local connection that
 * carries whole frames (§3) — the TCP binding (§11.1) and the local channel (§11.3) put them back
 * to back on a byte stream, the RDMA binding (§11.2, later) one per SEND.
 *
 * Events are those of a typed `EventEmitter` ({@link FrameConnectionEvents}). A connection never
 * emits `'error'`: every failure ends it with one `'close'` carrying a {@link RebindError}.
 *
 * @module
 */
import { RebindError } from '../errors.js';
import type { Message } from '../wire/index.js';

/** The events of a {@link FrameConnection}, as `EventEmitter` argument lists. */
export interface FrameConnectionEvents {
  /** One decoded frame, in arrival order. Not emitted while the connection is paused. */
  frame: [message: Message];
  /** The send queue fell below the high-water mark after a `send`/`sendData` returned false. */
  drain: [];
  /**
   * The connection is over; emitted exactly once, after every frame received before the end was
   * delivered (unless `destroy()` was called, which discards them). No error: the other end closed
   * at a frame boundary, or `end()` completed. With an error: `TRANSPORT_FAILED` (reset, write
   * failure), a frame error of §3.4 (`FRAME_TRUNCATED` for an EOF inside a frame, or what the
   * other end sent), or the error given to `destroy()`.
   */
  close: [error?: RebindError];
}

/** The event names of a {@link FrameConnection}. */
export type FrameConnectionEvent = keyof FrameConnectionEvents;

/**
 * A message-oriented, reliable, ordered connection carrying frames (§11). Encoding and decoding are
 * the codec's (reference/wire); a frame the other side sends that does not decode fails the
 * connection with the codec's error (§3.4).
 */
export interface FrameConnection {
  /** The binding's name: `'tcp'`, `'local'` (later `'rdma'`). */
  readonly transport: string;
  /** This end, in URI form: `tcp://127.0.0.1:40123`, `tcp://[::1]:40123`, `unix:/tmp/…/L.sock`. */
  readonly localAddress: string;
  /** The other end, in the same form. */
  readonly remoteAddress: string;
  /** Whether `'close'` has been emitted or `end()`/`destroy()` was called. */
  readonly closed: boolean;
  /** Bytes queued for sending and not yet handed to the operating system. */
  readonly bufferedAmount: number;
  /** The payload limit of the other end (§3.3) that `send` and `sendData` respect. */
  readonly peerMaxPayload: number;
  /**
   * The `credits` this binding writes into the first frames it sends (HELLO, ATTACH, ATTACHED),
   * when it replaces the engine's 0 (RDMA, §11.2); absent when the frames go as the engine made
   * them (TCP, §11.1). Traces show what went on the wire (§13.1).
   */
  readonly firstFrameCredits?: number;

  /**
   * Queues one frame. Returns false when the send queue is over its high-water mark: the frame is
   * queued all the same, but the caller should wait for `'drain'`. Returns false (and drops the
   * frame) if the connection was lost and its `'close'` is pending.
   *
   * @throws RebindError `INVALID_ARGUMENT`/`FRAME_BAD_FIELD` for a message the codec refuses,
   *   `FRAME_TOO_LARGE` above {@link peerMaxPayload}, `CLOSED` after `end()` or `destroy()`.
   */
  send(message: Message): boolean;
  /**
   * The DATA fast path (§4.2): sends `data` as DATA frames starting at stream offset `offset`, split
   * so that no payload exceeds {@link peerMaxPayload}. Large pieces are written as views of `data`,
   * not copied: do not modify `data` afterwards. Returns like {@link send}.
   *
   * @throws RebindError `INVALID_ARGUMENT` for an empty `data` or an offset outside u64; `CLOSED`.
   */
  sendData(offset: bigint, data: Uint8Array): boolean;
  /** Holds frames in the send queue until {@link uncork} (batching). Calls nest. */
  cork(): void;
  /** Releases frames held by {@link cork}. */
  uncork(): void;
  /** Stops delivering `'frame'` events; the transport stops reading, so the sender is slowed down. */
  pause(): void;
  /** Delivers held frames, then resumes reading. */
  resume(): void;
  /** Sets the other end's payload limit (from its HELLO, §3.3, §4.1): 1024..16777216. */
  setPeerMaxPayload(bytes: number): void;
  /**
   * Whether this connection keeps the process alive (default true). A successor's L and rebind
   * listener do not: a process whose dormant handles are never used may exit (§2.3).
   */
  setKeepAlive?(keep: boolean): void;
  /** Sends everything queued, then closes gracefully; resolves after `'close'`. */
  end(): Promise<void>;
  /** Aborts at once: queued frames in both directions are discarded; `'close'` carries `error`. */
  destroy(error?: RebindError): void;

  on<E extends FrameConnectionEvent>(event: E, listener: (...args: FrameConnectionEvents[E]) => void): this;
  once<E extends FrameConnectionEvent>(event: E, listener: (...args: FrameConnectionEvents[E]) => void): this;
  off<E extends FrameConnectionEvent>(event: E, listener: (...args: FrameConnectionEvents[E]) => void): this;
}

/** A listening endpoint (a rebind listener, §2.1, or the origin's C1 listener). */
export interface FrameListener {
  /** The address it listens on, in URI form, with the real port when 0 was asked for. */
  readonly address: string;
  /** Stops accepting. Connections already accepted are not touched. */
  close(): Promise<void>;
  /** Whether the listener keeps the process alive (default true). */
  setKeepAlive?(keep: boolean): void;
}

/** Options of {@link Transport.listen}. */
export interface ListenOptions {
  /** The payload limit this end receives (its HELLO.maxPayload, §3.3); default 1 MiB. */
  maxPayload?: number;
  /**
   * Deliver a DATA frame that spans several reads as it arrives, as several DATA messages with
   * contiguous offsets, each a view of received bytes (no copy). Default false: one message per
   * frame. With it, a stream that ends inside a DATA frame delivers the bytes that arrived, then
   * closes with `FRAME_TRUNCATED`. For the byte-stream emulation, which only needs the offsets.
   */
  sliceData?: boolean;
}

/** Options of {@link Transport.connect}. */
export interface ConnectOptions extends ListenOptions {
  /** Give up after this many milliseconds (`UNREACHABLE` with `detail.timedOut`). */
  timeoutMs?: number;
  /** Give up when aborted (`UNREACHABLE` with `detail.aborted`). */
  signal?: AbortSignal;
}

/** A binding of §11: makes {@link FrameConnection}s. */
export interface Transport {
  /** The binding's name and the scheme of its addresses: `'tcp'`, later `'rdma'`. */
  readonly name: string;
  /**
   * Listens on `address` (e.g. `tcp://127.0.0.1:0`) and calls `onConnection` for each accepted
   * connection.
   *
   * @throws RebindError (rejects) `INVALID_ARGUMENT` for a bad address, `UNREACHABLE` if it cannot listen.
   */
  listen(address: string, onConnection: (connection: FrameConnection) => void, options?: ListenOptions): Promise<FrameListener>;
  /**
   * Connects to `address`.
   *
   * @throws RebindError (rejects) `INVALID_ARGUMENT` for a bad address, `UNREACHABLE` if the connect fails.
   */
  connect(address: string, options?: ConnectOptions): Promise<FrameConnection>;
}

/**
 * The argument checks of {@link FrameConnection.sendData}, shared by every binding: a non-empty
 * `Uint8Array` whose last byte's offset stays within u64 (§4.2, §6.4).
 *
 * @throws RebindError `INVALID_ARGUMENT`.
 */
export function checkDataArguments(offset: bigint, data: Uint8Array): void {
  if (!(data instanceof Uint8Array) || data.length === 0) {
    throw new RebindError('INVALID_ARGUMENT', 'sendData needs a non-empty Uint8Array', { section: '4.2' });
  }
  if (typeof offset !== 'bigint' || offset < 0n || offset + BigInt(data.length) > 1n << 64n) {
    throw new RebindError('INVALID_ARGUMENT', 'sendData offset must be a bigint with offset + length ≤ 2^64', {
      section: '6.4',
      detail: { offset: String(offset), length: data.length },
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Addresses (§3.2, §11.1, §11.2): SCHEME://HOST:PORT.

/** A parsed transport address. */
export interface TransportAddress {
  /** `tcp` or `rdma`. */
  readonly scheme: string;
  /** IPv4 address, IPv6 address (without brackets) or DNS name. */
  readonly host: string;
  /** 0..65535; 0 only where {@link parseAddress} was told to allow it (listening). */
  readonly port: number;
}

// HOST: bracketed IPv6, or a run of characters without brackets, colons, slashes or spaces.
const ADDRESS = /^([a-z][a-z0-9+.-]*):\/\/(?:\[([0-9A-Fa-f:.]+(?:%[A-Za-z0-9_.-]+)?)\]|([^[\]:/\s@?#]+)):([0-9]{1,5})$/;

/**
 * Parses `SCHEME://HOST:PORT` (§3.2): an IPv4 address, a bracketed IPv6 address or a DNS name, and a
 * decimal port 1–65535 (0 too if `allowPortZero`, to listen on an ephemeral port).
 *
 * @throws RebindError `INVALID_ARGUMENT` for anything else.
 */
export function parseAddress(address: string, options: { allowPortZero?: boolean } = {}): TransportAddress {
  const match = typeof address === 'string' ? ADDRESS.exec(address) : null;
  if (match === null) {
    throw new RebindError('INVALID_ARGUMENT', `not a transport address (SCHEME://HOST:PORT): ${JSON.stringify(address)}`, {
      section: '3.2',
      detail: { address },
    });
  }
  const [, scheme, ipv6, host, portText] = match as unknown as [string, string, string | undefined, string | undefined, string];
  const port = Number(portText);
  if (port > 65535 || (port === 0 && options.allowPortZero !== true) || (portText.length > 1 && portText.startsWith('0'))) {
    throw new RebindError('INVALID_ARGUMENT', `port ${portText} of ${address} is not 1..65535`, { section: '3.2', detail: { address } });
  }
  return { scheme, host: (ipv6 ?? host) as string, port };
}

/** Formats an address as `SCHEME://HOST:PORT`, bracketing an IPv6 host. */
export function formatAddress(scheme: string, host: string, port: number): string {
  return `${scheme}://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/**
 * A message as the connection puts it on the wire: first frames carry the binding's own
 * `credits` where it has them (RDMA, §11.2), so traces show what was sent (§13.1).
 */
export function asSent(connection: Pick<FrameConnection, 'firstFrameCredits'>, message: Message): Message {
  const credits = connection.firstFrameCredits;
  return credits !== undefined && 'credits' in message && message.type !== 'CREDIT' ? ({ ...message, credits } as Message) : message;
}
