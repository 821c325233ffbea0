/**
 * `createServer`/`listen`/`connect` in Node's idiom (claim 13), over the embedded default
 * transport, TCP (§11.1), or another binding of the registry chosen by name — `{ transport:
 * 'rdma' }` on the server or client, or process-wide with `configure({ transport: 'rdma' })`
 * (§11.2; addresses `rdma://IP:PORT`). Every connection opens with the HELLO exchange of §6.1:
 * both ends send HELLO at once; the acceptor's fixes the cid; the fast order is used only if both
 * offered it.
 *
 * @example
 * ```ts
 * import { createServer, connect } from 'rebind';
 * const server = createServer((socket) => socket.pipe(socket)).listen(0, '127.0.0.1', () => {
 *   const client = connect(server.address().port, '127.0.0.1', () => client.end('hello'));
 *   client.on('data', (d) => console.log(String(d)));
 * });
 * ```
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { RebindError } from '../errors.js';
import { OriginEngine } from '../protocol/origin.js';
import { PeerEngine } from '../protocol/peer.js';
import type { EngineConfig } from '../protocol/types.js';
import { getTransport } from '../transport/index.js';
import { asSent, formatAddress } from '../transport/transport.js';
import type { FrameConnection, FrameListener, Transport } from '../transport/transport.js';
import { MAX_PAYLOAD_DEFAULT, type HelloMessage, type Message } from '../wire/index.js';
import { ConnectionHost, cidHex } from './host.js';
import { Runtime } from './runtime.js';
import { RebindSocket, type RebindSocketOptions } from './socket.js';
import { traceAction, traceMessage, tracing } from './trace.js';

/** How long an end waits for the other's HELLO (§6.1 step 3). */
const HELLO_TIMEOUT_MS = 2000;
/** COPY's overhead (cid, hid, offset) bounds the DATA payload an engine makes (§3.3, §5.4). */
const COPY_OVERHEAD = 28;

/** Options of {@link createServer} and {@link connect}. */
export interface RebindOptions extends RebindSocketOptions {
  /** Offer the fast order in HELLO (§6.1). Default: the runtime's setting (true). */
  fast?: boolean;
  /** Timer durations by name (§9.1). */
  timers?: Record<string, number>;
  /** This end's receive limit, announced in HELLO (§3.3). Default 1 MiB. */
  maxPayload?: number;
  /**
   * The binding to listen or connect with, by name (§11): `'tcp'` or `'rdma'`. Default: the
   * runtime's setting (`configure({ transport })`), else `'tcp'`.
   */
  transport?: string;
}

/** The binding `options` (or the process's setting) names: TCP unless told otherwise. */
function transportOf(options: RebindOptions): Transport {
  return getTransport(options.transport ?? Runtime.current().options.transport ?? 'tcp');
}

/**
 * What a transport is told besides `sliceData`: the receive limit this end announces, which sizes
 * the receive buffers over RDMA (§11.2: maxPayload + 8 bytes each). TCP is left as it always was
 * (its default limit).
 */
function limitOf(transport: Transport, maxPayload: number): { maxPayload?: number } {
  return transport.name === 'tcp' || maxPayload === MAX_PAYLOAD_DEFAULT ? {} : { maxPayload };
}

function zeroCid(): Uint8Array {
  return new Uint8Array(16);
}

/** Waits for the other end's HELLO as the first frame (§4.1, §6.1); checks the acceptor flag. */
function awaitHello(connection: FrameConnection, weAccepted: boolean): Promise<HelloMessage> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail(new RebindError('TIMEOUT', `no HELLO within ${HELLO_TIMEOUT_MS} ms`, { section: '6.1' })), HELLO_TIMEOUT_MS);
    const cleanup = (): void => {
      clearTimeout(timer);
      connection.off('frame', onFrame);
      connection.off('close', onClose);
    };
    const fail = (error: RebindError): void => {
      cleanup();
      if (!connection.closed) {
        if (error.errorName !== 'TIMEOUT') connection.send({ type: 'ERROR', code: error.wireCode, reason: error.message.slice(0, 200) }); // §4.12
        connection.destroy(error);
      }
      reject(error);
    };
    const onFrame = (message: Message): void => {
      if (message.type !== 'HELLO') {
        fail(new RebindError('UNEXPECTED_MESSAGE', `${message.type} before HELLO`, { section: '4.1' }));
        return;
      }
      if (message.acceptor === weAccepted) {
        fail(new RebindError('UNEXPECTED_MESSAGE', weAccepted ? 'both HELLOs have the acceptor flag' : 'neither HELLO has the acceptor flag', { section: '4.1' }));
        return;
      }
      cleanup();
      connection.pause(); // frames after HELLO wait for the engine's listener
      resolve(message);
    };
    const onClose = (error?: RebindError): void => {
      cleanup();
      reject(error ?? new RebindError('PEER_LOST', 'the connection closed before HELLO', { section: '6.1' }));
    };
    connection.on('frame', onFrame);
    connection.on('close', onClose);
  });
}

function engineConfig(cid: Uint8Array, offerFast: boolean, hello: HelloMessage, timers: Record<string, number> | undefined): EngineConfig {
  return {
    cid,
    fast: offerFast && hello.fast,
    offerFast,
    maxPayload: Math.min(hello.maxPayload, MAX_PAYLOAD_DEFAULT) - COPY_OVERHEAD,
    ...(timers !== undefined ? { timers } : {}),
  };
}

/** A server of emulated sockets: Node's `net.Server` where it matters. */
export class RebindServer extends EventEmitter {
  #listener: FrameListener | undefined;
  #options: RebindOptions;
  #connections = new Set<RebindSocket>();

  constructor(options: RebindOptions = {}, onConnection?: (socket: RebindSocket) => void) {
    super();
    this.#options = options;
    if (onConnection !== undefined) this.on('connection', onConnection);
  }

  /** Whether the server is listening. */
  get listening(): boolean {
    return this.#listener !== undefined;
  }

  /**
   * Like `net.Server.listen`: `listen(port?, host?, callback?)` or `listen({ port, host }, callback?)`.
   * The default host is 127.0.0.1; port 0 picks a free port. Errors are emitted as 'error'.
   */
  listen(...args: unknown[]): this {
    let port = 0;
    let host = '127.0.0.1';
    let callback: (() => void) | undefined;
    for (const arg of args) {
      if (typeof arg === 'function') callback = arg as () => void;
      else if (typeof arg === 'number' || (typeof arg === 'string' && /^\d+$/.test(arg))) port = Number(arg);
      else if (typeof arg === 'string') host = arg;
      else if (arg !== null && typeof arg === 'object') {
        const o = arg as { port?: number; host?: string };
        if (o.port !== undefined) port = Number(o.port);
        if (o.host !== undefined) host = o.host;
      }
    }
    if (callback !== undefined) this.once('listening', callback);
    let transport: Transport;
    try {
      transport = transportOf(this.#options);
    } catch (error) {
      queueMicrotask(() => this.emit('error', error));
      return this;
    }
    const address = formatAddress(transport.name, host, port);
    const maxPayload = this.#options.maxPayload ?? MAX_PAYLOAD_DEFAULT;
    transport.listen(address, (connection) => this.#accept(connection), { sliceData: true, ...limitOf(transport, maxPayload) }).then(
      (listener) => {
        this.#listener = listener;
        this.emit('listening');
      },
      (error: Error) => this.emit('error', error),
    );
    return this;
  }

  /** Like `net.Server.address()`. */
  address(): { address: string; port: number; family: string } | null {
    if (this.#listener === undefined) return null;
    const match = /^[a-z][a-z0-9+.-]*:\/\/\[?([^\]]*?)\]?:(\d+)$/.exec(this.#listener.address)!;
    return { address: match[1]!, port: Number(match[2]), family: match[1]!.includes(':') ? 'IPv6' : 'IPv4' };
  }

  /** Stops accepting; open connections live on (like `net.Server.close`). */
  close(callback?: (error?: Error) => void): this {
    const listener = this.#listener;
    this.#listener = undefined;
    if (listener === undefined) {
      queueMicrotask(() => callback?.(new RebindError('CLOSED', 'the server is not listening', { section: '11.1' })));
      return this;
    }
    void listener.close().then(() => {
      callback?.();
      this.emit('close');
    });
    return this;
  }

  /** The listening address in URI form (§3.2): `tcp://127.0.0.1:40123`, `rdma://10.77.0.1:40123`. */
  get transportAddress(): string | undefined {
    return this.#listener?.address;
  }

  /** Like `net.Server.getConnections`. */
  getConnections(callback: (error: Error | null, count: number) => void): void {
    queueMicrotask(() => callback(null, [...this.#connections].filter((s) => !s.destroyed).length));
  }

  /** Keeps the process alive while listening (default). */
  ref(): this {
    this.#listener?.setKeepAlive?.(true);
    return this;
  }

  /** Lets the process exit while listening. */
  unref(): this {
    this.#listener?.setKeepAlive?.(false);
    return this;
  }

  /** §6.1 at the acceptor: fresh cid, HELLO at once, the connector's HELLO, then the origin engine. */
  #accept(connection: FrameConnection): void {
    const runtime = Runtime.current();
    const offerFast = this.#options.fast ?? runtime.options.fast ?? true;
    const maxPayload = this.#options.maxPayload ?? MAX_PAYLOAD_DEFAULT;
    const cid = randomBytes(16);
    const hex = cidHex(cid);
    const hello: HelloMessage = { type: 'HELLO', fast: offerFast, acceptor: true, cid, maxPayload, credits: 0 };
    if (tracing()) {
      traceAction(hex, runtime.actor, 'listen');
      traceAction(hex, runtime.actor, 'accept', ['P']);
      traceMessage(hex, 'send', runtime.actor, 'P', asSent(connection, hello));
    }
    connection.send(hello);
    awaitHello(connection, true).then(
      (theirs) => {
        if (tracing()) traceMessage(hex, 'receive', runtime.actor, 'P', theirs);
        connection.setPeerMaxPayload(theirs.maxPayload);
        const timers = this.#options.timers ?? runtime.options.timers;
        const engine = new OriginEngine(engineConfig(cid, offerFast, theirs, timers));
        const host = new ConnectionHost({ engine, runtime, c1: connection, c1Actor: 'P' });
        const socket = new RebindSocket(host, this.#options);
        runtime.addOwned(host);
        this.#connections.add(socket);
        socket.once('close', () => this.#connections.delete(socket));
        connection.resume();
        this.emit('connection', socket);
      },
      (error: Error) => this.emit('clientError', error),
    );
  }
}

/** Like `net.createServer([options][, connectionListener])`. */
export function createServer(options?: RebindOptions | ((socket: RebindSocket) => void), onConnection?: (socket: RebindSocket) => void): RebindServer {
  if (typeof options === 'function') return new RebindServer({}, options);
  return new RebindServer(options ?? {}, onConnection);
}

/** Options of {@link connect}. */
export interface RebindConnectOptions extends RebindOptions {
  port: number;
  host?: string;
  /** Give up connecting after this many ms (`UNREACHABLE`). */
  timeout?: number;
}

/**
 * Like `net.connect`: `connect(port, host?, callback?)` or `connect({ port, host }, callback?)`.
 * Returns the socket at once; 'connect' follows the HELLO exchange (§6.1). Writes made before it
 * wait. A failure is emitted as 'error' (`ERR_UNREACHABLE`...).
 */
export function connect(...args: unknown[]): RebindSocket {
  let options: RebindConnectOptions = { port: 0 };
  let callback: (() => void) | undefined;
  for (const arg of args) {
    if (typeof arg === 'function') callback = arg as () => void;
    else if (typeof arg === 'number' || (typeof arg === 'string' && /^\d+$/.test(arg))) options = { ...options, port: Number(arg) };
    else if (typeof arg === 'string') options = { ...options, host: arg };
    else if (arg !== null && typeof arg === 'object') options = { ...options, ...(arg as RebindConnectOptions) };
  }
  const runtime = Runtime.current();
  const offerFast = options.fast ?? runtime.options.fast ?? true;
  const maxPayload = options.maxPayload ?? MAX_PAYLOAD_DEFAULT;
  const host = new PendingHost();
  const socket = new RebindSocket(host as unknown as ConnectionHost, options);
  socket.connecting = true;
  if (callback !== undefined) socket.once('connect', callback);
  const started = performance.timeOrigin + performance.now();
  Promise.resolve()
    .then(() => {
      const transport = transportOf(options);
      const address = formatAddress(transport.name, options.host ?? '127.0.0.1', options.port);
      return transport.connect(address, { sliceData: true, ...limitOf(transport, maxPayload), ...(options.timeout !== undefined ? { timeoutMs: options.timeout } : {}) });
    })
    .then(async (connection) => {
      const hello: HelloMessage = { type: 'HELLO', fast: offerFast, acceptor: false, cid: zeroCid(), maxPayload, credits: 0 };
      const sentAt = performance.timeOrigin + performance.now();
      connection.send(hello);
      let theirs: HelloMessage;
      try {
        theirs = await awaitHello(connection, false);
      } catch (error) {
        socket.connectFailed(error as RebindError);
        return;
      }
      const cid = theirs.cid;
      const hex = cidHex(cid);
      if (tracing()) {
        traceAction(hex, 'P', 'connect', ['O'], {}, started);
        traceMessage(hex, 'send', 'P', 'O', asSent(connection, hello), sentAt);
        traceMessage(hex, 'receive', 'P', 'O', theirs);
      }
      connection.setPeerMaxPayload(theirs.maxPayload);
      const timers = options.timers ?? runtime.options.timers;
      const engine = new PeerEngine(engineConfig(cid, offerFast, theirs, timers));
      const real = new ConnectionHost({ engine, runtime, c1: connection, c1Actor: 'O' });
      host.bind(real, socket);
      runtime.addPeer(real);
      connection.resume();
      if (socket.destroyed) {
        real.close();
        return;
      }
      socket.connected();
      host.replay();
    })
    .catch((error: Error) => socket.connectFailed(error instanceof RebindError ? error : new RebindError('UNREACHABLE', error.message, { section: '11.1', cause: error })));
  return socket;
}

/**
 * The host of a client socket before the HELLO exchange: it records the application's reads and
 * forwards everything to the real host once the connection is established.
 */
class PendingHost {
  #real: ConnectionHost | undefined;
  #wantsRead = false;
  cidHex = '-';
  startRole = 'peer' as const;
  connection = undefined;
  engine = { state: 'CONNECTING' };

  bind(real: ConnectionHost, socket: RebindSocket): void {
    this.#real = real;
    (socket as unknown as { host: ConnectionHost }).host = real;
    real.socket = socket;
  }

  replay(): void {
    if (this.#wantsRead) this.#real?.read();
  }

  read(): void {
    if (this.#real !== undefined) this.#real.read();
    else this.#wantsRead = true;
  }

  close(): void {
    this.#real?.close();
  }

  giveBack(): void {}
  shutdown(): void {}
  write(_data: Uint8Array, callback: (error?: Error | null) => void): void {
    callback(new RebindError('CLOSED', 'not connected', { section: '6.1' }));
  }
}
