/**
 * Serving HTTP over a rebind socket with Node's own `http` server, and taking the socket away from
 * that server again between two requests so that another process can serve the next ones.
 *
 * Node's `http.Server` takes any Duplex by `server.emit('connection', socket)`. It then owns the
 * socket: it adds listeners ('data' feeds its HTTP parser; 'end', 'close', 'error', 'drain',
 * 'timeout', 'pause', 'resume'), sets a few properties (`parser`, `server`, wrappers of `on` and
 * `setEncoding`) and reads in flowing mode. Node has no public call to give a socket back; the only
 * place it lets go of one is an HTTP upgrade, which removes its listeners and frees the parser.
 * {@link attachHttp} does the same, without relying on the names of Node's internal functions: it
 * notes the socket's listeners and own properties before the `connection` event and removes exactly
 * what the server added.
 *
 * When is it safe? Every byte the parser consumed must belong to a request that has been answered:
 * - no request in flight: counted here from the server's 'request' events and the responses' 'finish';
 * - nothing of a next request inside the parser: `parser.finish()` reports an error when the parser
 *   stands in the middle of a message (a pipelined request that came in part), and nothing when it
 *   stands between two messages. It does not disturb the parser in either case, so when the check
 *   fails the server simply keeps the socket.
 * Detaching in a response's 'finish' listener means no I/O ran since the response was written, so a
 * client that waits for each response (Node's http.Agent never pipelines) cannot have sent more.
 * Bytes that arrive after the detach stay in the socket: it is paused, and closing it hands them
 * back to the connection, whose copy carries them to the next owner (spec §6.5).
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { RebindSocket } from '../../reference/index.js';

/** The HTTP server's hold on one socket. */
export interface HttpAttachment {
  /** Requests the server has received on this socket and not finished answering. */
  readonly inFlight: number;
  /** Responses finished on this socket. */
  readonly answered: number;
  /** Whether the server still owns the socket. */
  readonly attached: boolean;
  /**
   * Detaches the socket from the server if it stands between two requests (see the module
   * comment); returns false, changing nothing, when it does not. After true, the socket is paused,
   * has no listener of the server's, and the server has freed its parser.
   */
  detach(): boolean;
}

type Listener = (...args: unknown[]) => void;

/** The listeners of every event of `emitter`. */
function listenerSnapshot(socket: RebindSocket): Map<string | symbol, Set<Listener>> {
  const snapshot = new Map<string | symbol, Set<Listener>>();
  for (const event of socket.eventNames()) snapshot.set(event, new Set(socket.rawListeners(event) as Listener[]));
  return snapshot;
}

/**
 * Gives `socket` to `server` (`server.emit('connection', socket)`) and returns a handle that can
 * take it back between two requests. `onIdle` runs in the 'finish' listener of each response after
 * which no request is in flight and the socket is still open: the moment to call `detach()`.
 */
export function attachHttp(server: Server, socket: RebindSocket, onIdle?: (attachment: HttpAttachment) => void): HttpAttachment {
  const before = listenerSnapshot(socket);
  const ownBefore = new Set(Reflect.ownKeys(socket));
  let inFlight = 0;
  let answered = 0;
  let attached = true;

  const onRequest = (request: IncomingMessage, response: ServerResponse): void => {
    if (request.socket !== (socket as unknown)) return;
    inFlight++;
    // Registered after the server's own 'finish' listener (which detaches the response from the
    // socket and arms the keep-alive timer), so this runs when the server is done with the request.
    response.once('finish', () => {
      inFlight--;
      answered++;
      if (attached && inFlight === 0 && !socket.destroyed && !socket.writableEnded) onIdle?.(attachment);
    });
  };
  server.prependListener('request', onRequest);
  server.emit('connection', socket);

  const added = new Map<string | symbol, Listener[]>();
  for (const event of socket.eventNames()) {
    const had = before.get(event) ?? new Set<Listener>();
    const fresh = (socket.rawListeners(event) as Listener[]).filter((fn) => !had.has(fn));
    if (fresh.length > 0) added.set(event, fresh);
  }
  const ownAdded = Reflect.ownKeys(socket).filter((key) => !ownBefore.has(key));

  const attachment: HttpAttachment = {
    get inFlight() {
      return inFlight;
    },
    get answered() {
      return answered;
    },
    get attached() {
      return attached;
    },
    detach(): boolean {
      if (!attached) return true;
      if (inFlight > 0) return false;
      const parser = (socket as unknown as { parser?: { finish(): unknown } | null }).parser;
      if (parser?.finish() instanceof Error) return false; // part of a next request is in the parser
      attached = false;
      server.removeListener('request', onRequest);
      socket.pause();
      socket.setTimeout(0); // the server's keep-alive timer
      for (const [event, listeners] of added) for (const fn of listeners) socket.removeListener(event, fn);
      for (const key of ownAdded) {
        // The server's wrappers of on/addListener/prependListener/setEncoding, `parser`, `server`...
        if (key !== 'parser') delete (socket as unknown as Record<string | symbol, unknown>)[key];
      }
      // As far as the server is concerned the connection is closed: its own 'close' listener
      // frees the parser and forgets the connection (what it does when a socket closes).
      for (const fn of added.get('close') ?? []) fn.call(socket);
      delete (socket as unknown as Record<string, unknown>).parser;
      return true;
    },
  };
  return attachment;
}
