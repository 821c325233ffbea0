/**
 * The TCP binding (spec §11.1): frames back to back on a TCP connection, Nagle off, TCP's own flow
 * control (HELLO/ATTACH credits are 0 and CREDIT is never sent — that is the engine's part).
 *
 * Addresses are `tcp://HOST:PORT` (§3.2); a listener's address carries the IP it is bound to and
 * the real port when port 0 was asked for. Listening on a wildcard address (0.0.0.0, ::) works, but
 * such an address must not be announced in JOIN (§11.1): announce one the peer can reach.
 *
 * @module
 */
import net from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { RebindError } from '../errors.js';
import { MAX_PAYLOAD_DEFAULT } from '../wire/index.js';
import { SocketFrameConnection, checkMaxPayload } from './socket.js';
import { formatAddress, parseAddress } from './transport.js';
import type { ConnectOptions, FrameConnection, FrameListener, ListenOptions, Transport, TransportAddress } from './transport.js';

const SECTION = '11.1';

/** Parses a `tcp://` address; `INVALID_ARGUMENT` for another scheme or a bad address. */
function parseTcpAddress(address: string, allowPortZero: boolean): TransportAddress {
  const parsed = parseAddress(address, { allowPortZero });
  if (parsed.scheme !== 'tcp') {
    throw new RebindError('INVALID_ARGUMENT', `the TCP transport cannot use ${address}: the scheme must be tcp`, {
      section: SECTION,
      detail: { address },
    });
  }
  return parsed;
}

/** `tcp://IP:PORT` of one end of a socket (`tcp://?:0` if the socket is already gone). */
function socketAddress(ip: string | undefined, port: number | undefined): string {
  return formatAddress('tcp', ip ?? '?', port ?? 0);
}

/** Wraps a connected socket. */
function wrap(socket: Socket, maxPayload: number, sliceData: boolean | undefined): SocketFrameConnection {
  socket.setNoDelay(true); // §11.1: control frames are small and on the critical path
  return new SocketFrameConnection(socket, {
    transport: 'tcp',
    channel: 'wire', // a local frame (0x41–0x48) on C1/C2 is FRAME_UNKNOWN_TYPE (§3.1)
    section: SECTION,
    localAddress: socketAddress(socket.localAddress, socket.localPort),
    remoteAddress: socketAddress(socket.remoteAddress, socket.remotePort),
    maxPayload,
    sliceData: sliceData === true,
  });
}

/** The TCP binding. Stateless: {@link tcpTransport} is the instance to use. */
export class TcpTransport implements Transport {
  readonly name = 'tcp';

  async listen(address: string, onConnection: (connection: FrameConnection) => void, options: ListenOptions = {}): Promise<FrameListener> {
    const { host, port } = parseTcpAddress(address, true);
    const maxPayload = checkMaxPayload(options.maxPayload ?? MAX_PAYLOAD_DEFAULT);
    const server = net.createServer({ noDelay: true }, (socket) => onConnection(wrap(socket, maxPayload, options.sliceData)));
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error: NodeJS.ErrnoException) =>
        reject(
          new RebindError('TRANSPORT_FAILED', `cannot listen on ${address}: ${error.message}`, {
            section: SECTION,
            detail: { address, code: error.code },
            cause: error,
          }),
        ),
      );
      server.listen({ host, port }, () => resolve());
    });
    server.on('error', () => {}); // after listen: nothing to report to (accept errors are retried by Node)
    const bound = server.address() as AddressInfo;
    const listening = formatAddress('tcp', bound.address, bound.port);
    return {
      address: listening,
      setKeepAlive: (keep: boolean) => {
        if (keep) server.ref();
        else server.unref();
      },
      // Stops accepting; the listening socket is released at once, accepted connections live on.
      close: () => new Promise<void>((resolve) => {
        if (server.listening) server.close();
        setImmediate(resolve);
      }),
    };
  }

  connect(address: string, options: ConnectOptions = {}): Promise<FrameConnection> {
    let host: string;
    let port: number;
    let maxPayload: number;
    try {
      ({ host, port } = parseTcpAddress(address, false));
      maxPayload = checkMaxPayload(options.maxPayload ?? MAX_PAYLOAD_DEFAULT);
      if (options.timeoutMs !== undefined && !(Number.isFinite(options.timeoutMs) && options.timeoutMs >= 0)) {
        throw new RebindError('INVALID_ARGUMENT', 'timeoutMs must be a number ≥ 0', { section: SECTION, detail: { timeoutMs: options.timeoutMs } });
      }
    } catch (error) {
      return Promise.reject(error as Error);
    }
    const { timeoutMs, signal } = options;
    return new Promise<FrameConnection>((resolve, reject) => {
      const socket = net.connect({ host, port, noDelay: true });
      let timer: NodeJS.Timeout | undefined;
      const cleanup = (): void => {
        if (timer !== undefined) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        socket.removeListener('error', onError);
        socket.removeListener('connect', onConnect);
      };
      const fail = (why: string, detail: Record<string, unknown>, cause?: unknown): void => {
        cleanup();
        socket.destroy();
        reject(new RebindError('UNREACHABLE', `cannot connect to ${address}: ${why}`, { section: SECTION, detail: { address, ...detail }, cause }));
      };
      const onError = (error: NodeJS.ErrnoException): void => fail(error.message, { code: error.code }, error);
      const onAbort = (): void => fail('aborted', { aborted: true }, signal?.reason);
      const onConnect = (): void => {
        cleanup();
        resolve(wrap(socket, maxPayload, options.sliceData));
      };
      socket.once('connect', onConnect);
      socket.once('error', onError);
      if (timeoutMs !== undefined) timer = setTimeout(() => fail(`no connection after ${timeoutMs} ms`, { timedOut: true }), timeoutMs);
      if (signal !== undefined) {
        if (signal.aborted) onAbort();
        else signal.addEventListener('abort', onAbort, { once: true });
      }
    });
  }
}

/** The TCP transport (§11.1). */
export const tcpTransport: Transport = new TcpTransport();
