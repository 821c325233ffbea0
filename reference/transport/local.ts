/**
 * The local channel L (spec §11.3) on a Unix-domain stream socket: the origin process listens, each
 * successor process connects and sends JOIN first (§5.1); then both send local frames (0x41–0x48)
 * back to back, with the default 1 MiB limit both ways and no HELLO. A wire frame on L is
 * `FRAME_UNKNOWN_TYPE` (§3.1).
 *
 * Trust (§11.3): the socket lives in a fresh directory made by `mkdtemp` (mode 0700) under
 * `os.tmpdir()`, so only the user's processes can connect; `close()` removes the directory.
 *
 * Lost (§11.3): the channel's `'close'` means the process at the other end died or closed L — an
 * EOF with no error, or an error — and the engine handles `lost L` (§9.3, §9.4).
 *
 * @module
 */
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RebindError } from '../errors.js';
import { encodeFrame, type JoinMessage, type Message } from '../wire/index.js';
import { SocketFrameConnection } from './socket.js';
import type { FrameConnection } from './transport.js';

const SECTION = '11.3';

/** A FrameConnection for local frames (§5) between an origin and one successor process. */
export interface LocalChannel extends FrameConnection {
  readonly transport: 'local';
}

/** The origin's listener for successor processes. */
export interface LocalListener {
  /** The Unix socket's path, to hand to the successors (e.g. by environment or argv). */
  readonly path: string;
  /** Stops accepting and removes the socket file and its directory; joined channels live on. */
  close(): Promise<void>;
  /** Whether the listener keeps the process alive (default true). */
  setKeepAlive(keep: boolean): void;
}

/** Options of {@link listenLocal}. */
export interface ListenLocalOptions {
  /** A process that connects must send JOIN within this time (default 10 000 ms), else `TIMEOUT`. */
  joinTimeoutMs?: number;
  /** Told about each connection closed before a valid JOIN (a diagnostic; nothing else happens). */
  onReject?: (error: RebindError) => void;
  /** Where to make the socket's directory; default `os.tmpdir()`. */
  directory?: string;
}

/** Options of {@link connectLocal}. */
export interface ConnectLocalOptions {
  /** Give up after this many milliseconds (`UNREACHABLE`). */
  timeoutMs?: number;
}

function failedToListen(path: string, cause: NodeJS.ErrnoException): RebindError {
  return new RebindError('TRANSPORT_FAILED', `cannot listen on ${path}: ${cause.message}`, { section: SECTION, detail: { path, code: cause.code }, cause });
}

function unixAddress(path: string): string {
  return `unix:${path}`;
}

/**
 * The origin side: listens on a fresh Unix socket and calls `onJoin` with each successor's channel
 * and its JOIN. Attach the channel's listeners inside `onJoin`: frames after JOIN are delivered as
 * soon as it returns.
 *
 * The channel enforces §5.1 and §11.3 on the origin's side: a first frame other than JOIN, or a
 * second JOIN, closes L with `UNEXPECTED_MESSAGE` (§7.5); a local frame type is required
 * (`FRAME_UNKNOWN_TYPE` otherwise).
 *
 * @throws RebindError (rejects) `TRANSPORT_FAILED` if the socket cannot be made.
 */
export async function listenLocal(
  onJoin: (channel: LocalChannel, join: JoinMessage) => void,
  options: ListenLocalOptions = {},
): Promise<LocalListener> {
  const joinTimeoutMs = options.joinTimeoutMs ?? 10_000;
  let directory: string;
  try {
    directory = mkdtempSync(join(options.directory ?? tmpdir(), 'rebind-'));
  } catch (error) {
    throw failedToListen(options.directory ?? tmpdir(), error as NodeJS.ErrnoException);
  }
  const path = join(directory, 'L.sock');
  const address = unixAddress(path);

  const server = net.createServer((socket) => {
    let joined = false;
    const intercept = (message: Message): boolean => {
      if (message.type === 'JOIN' && !joined) {
        joined = true;
        clearTimeout(timer);
        onJoin(channel, message);
        return false; // handed to onJoin, not emitted
      }
      if (!joined || message.type === 'JOIN') {
        const what = joined ? 'a second JOIN' : `${message.type} as the first frame`;
        channel.destroy(new RebindError('UNEXPECTED_MESSAGE', `local channel: ${what}; L opens with one JOIN`, { section: '5.1', detail: { type: message.type } }));
        return false;
      }
      return true;
    };
    const channel = new SocketFrameConnection(socket, {
      transport: 'local',
      channel: 'local',
      section: SECTION,
      localAddress: address,
      remoteAddress: address,
      intercept,
    }) as SocketFrameConnection & LocalChannel;
    const timer = setTimeout(() => {
      channel.destroy(new RebindError('TIMEOUT', `local channel: no JOIN within ${joinTimeoutMs} ms`, { section: SECTION }));
    }, joinTimeoutMs);
    timer.unref();
    channel.once('close', (error) => {
      clearTimeout(timer);
      if (!joined) {
        options.onReject?.(error ?? new RebindError('UNEXPECTED_MESSAGE', 'local channel closed before JOIN', { section: '5.1' }));
      }
    });
  });

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => resolve());
    });
  } catch (error) {
    rmSync(directory, { recursive: true, force: true });
    throw failedToListen(path, error as NodeJS.ErrnoException);
  }
  server.on('error', () => {});
  return {
    path,
    setKeepAlive: (keep: boolean) => {
      if (keep) server.ref();
      else server.unref();
    },
    close: () => new Promise<void>((resolve) => {
      if (server.listening) server.close();
      rmSync(directory, { recursive: true, force: true });
      setImmediate(resolve);
    }),
  };
}

/**
 * The successor side: connects to the origin's channel at `path` and sends JOIN first (§5.1).
 * `join.addr` is this process's rebind listener (it must already listen there, §5.1).
 *
 * @throws RebindError (rejects) `INVALID_ARGUMENT`/`FRAME_BAD_FIELD` for a JOIN the codec refuses,
 *   `UNREACHABLE` if the connect fails.
 */
export function connectLocal(path: string, join: { pid: number; addr: string }, options: ConnectLocalOptions = {}): Promise<LocalChannel> {
  let message: JoinMessage;
  try {
    if (typeof path !== 'string' || path.length === 0) {
      throw new RebindError('INVALID_ARGUMENT', 'connectLocal needs the path of the origin\'s socket', { section: SECTION });
    }
    message = { type: 'JOIN', pid: join.pid, addr: join.addr };
    encodeFrame(message); // refuse a bad JOIN before connecting
  } catch (error) {
    return Promise.reject(error as Error);
  }
  return new Promise<LocalChannel>((resolve, reject) => {
    const socket = net.connect({ path });
    let timer: NodeJS.Timeout | undefined;
    const fail = (why: string, detail: Record<string, unknown>, cause?: unknown): void => {
      clearTimeout(timer);
      socket.removeListener('connect', onConnect);
      socket.destroy();
      reject(new RebindError('UNREACHABLE', `cannot connect to the local channel ${path}: ${why}`, { section: SECTION, detail: { path, ...detail }, cause }));
    };
    const onError = (error: NodeJS.ErrnoException): void => fail(error.message, { code: error.code }, error);
    const onConnect = (): void => {
      clearTimeout(timer);
      socket.removeListener('error', onError);
      const channel = new SocketFrameConnection(socket, {
        transport: 'local',
        channel: 'local',
        section: SECTION,
        localAddress: unixAddress(path),
        remoteAddress: unixAddress(path),
      }) as SocketFrameConnection & LocalChannel;
      channel.send(message);
      resolve(channel);
    };
    socket.once('connect', onConnect);
    socket.once('error', onError);
    if (options.timeoutMs !== undefined) timer = setTimeout(() => fail(`no connection after ${options.timeoutMs} ms`, { timedOut: true }), options.timeoutMs);
  });
}
