/**
 * Helpers of the Node-layer tests (reference/node): real child processes started with the
 * library's `fork()` (or `child_process.fork` for a worker or a whole origin process), real TCP on
 * 127.0.0.1, seeded random streams, reading and writing with deadlines so that a test that would
 * hang fails instead.
 *
 * Children inherit the test runner's `--import ./scripts/register-ts.mjs` (its loader caches the
 * transpiled sources, so a child starts in well under a second), run the TypeScript sources
 * directly and talk to the test over IPC: `{ ready }`, `{ result }`...
 */
import { fork as forkProcess, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mulberry32 } from '../../support/prng.js';
import { connect, createServer, fork, setTraceHook, type RebindForkOptions, type RebindServer, type RebindSocket } from '../../../reference/node/index.js';

/** The path of fixture `name` (test/reference/node/fixtures/NAME.ts). */
export function fixture(name: string): string {
  return `test/reference/node/fixtures/${name}.ts`;
}

/** Rejects after `ms` with `what` in the message. */
export function deadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** `n` bytes of the seeded stream `seed` (mulberry32, four bytes per draw). */
export function streamBytes(seed: number, n: number): Buffer {
  const next = mulberry32(seed);
  const out = Buffer.allocUnsafe(n + 3);
  for (let i = 0; i < n; i += 4) out.writeUInt32LE(Math.floor(next() * 4294967296), i);
  return out.subarray(0, n);
}

/** Lower-case hex SHA-256. */
export function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** A readable description of where two byte strings first differ (for failure messages). */
export function firstDifference(actual: Uint8Array, expected: Uint8Array): string {
  const n = Math.min(actual.length, expected.length);
  for (let i = 0; i < n; i++) if (actual[i] !== expected[i]) return `first difference at byte ${i} of ${expected.length} (got ${actual.length})`;
  return actual.length === expected.length ? 'equal' : `lengths differ: got ${actual.length}, expected ${expected.length}`;
}

/** Asserts byte equality with a short message instead of a multi-megabyte diff. */
export function sameBytes(actual: Uint8Array, expected: Uint8Array): string {
  return Buffer.compare(Buffer.from(actual.buffer, actual.byteOffset, actual.byteLength), Buffer.from(expected.buffer, expected.byteOffset, expected.byteLength)) === 0
    ? 'equal'
    : firstDifference(actual, expected);
}

// ---------------------------------------------------------------------------------------------
// Servers and sockets.

/** Resolves with the port once `server` listens. */
export function listening(server: RebindServer): Promise<number> {
  if (server.listening) return Promise.resolve(server.address()!.port);
  return deadline(new Promise((resolve, reject) => {
    server.once('listening', () => resolve(server.address()!.port));
    server.once('error', reject);
  }), 5000, 'listening');
}

/** The next `count` connections of `server`. */
export function connections(server: RebindServer, count = 1): Promise<RebindSocket[]> {
  const sockets: RebindSocket[] = [];
  return deadline(
    new Promise((resolve) => {
      const on = (socket: RebindSocket): void => {
        sockets.push(socket);
        if (sockets.length === count) {
          server.off('connection', on);
          resolve(sockets);
        }
      };
      server.on('connection', on);
    }),
    10_000,
    `${count} connections`,
  );
}

/** Where a test keeps what its afterEach closes. */
export interface Tracked {
  readonly servers: RebindServer[];
  readonly sockets: RebindSocket[];
}

/**
 * A server on 127.0.0.1 and one connected client in this process (both tracked for cleanup):
 * `fast: false` on the client selects the Fig. 9 order (§6.1).
 */
export async function openPair(tracked: Tracked, options: { fast?: boolean; allowHalfOpen?: boolean } = {}): Promise<{ client: RebindSocket; origin: RebindSocket; port: number }> {
  const server = createServer({ allowHalfOpen: options.allowHalfOpen === true }).listen(0, '127.0.0.1');
  tracked.servers.push(server);
  const port = await listening(server);
  const accepted = connections(server);
  const client = connect({ port, host: '127.0.0.1', fast: options.fast ?? true });
  tracked.sockets.push(client);
  await connected(client);
  const [origin] = await accepted;
  tracked.sockets.push(origin!);
  return { client, origin: origin!, port };
}

/** Resolves once `socket` emitted 'connect'. */
export function connected(socket: RebindSocket): Promise<void> {
  if (!socket.connecting) return Promise.resolve();
  return deadline(new Promise((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('error', reject);
  }), 5000, "'connect'");
}

/** Every byte `socket` delivers until its 'end' (flowing mode). */
export function readAll(socket: RebindSocket, ms = 10_000): Promise<Buffer> {
  const chunks: Buffer[] = [];
  return deadline(
    new Promise<Buffer>((resolve, reject) => {
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      socket.once('end', () => resolve(Buffer.concat(chunks)));
      socket.once('error', reject);
      socket.resume();
    }),
    ms,
    "'end'",
  ).catch((error: Error) => {
    error.message += ` after ${chunks.reduce((n, c) => n + c.length, 0)} bytes`;
    throw error;
  });
}

/** Reads exactly `n` bytes (flowing mode), then stops listening; extra bytes are unshifted back. */
export function readExactly(socket: RebindSocket, n: number, ms = 10_000): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let got = 0;
  return deadline(
    new Promise((resolve, reject) => {
      const done = (): void => {
        socket.off('data', onData);
        socket.off('end', onEnd);
        socket.off('error', reject);
      };
      const onData = (chunk: Buffer): void => {
        const take = Math.min(chunk.length, n - got);
        chunks.push(chunk.subarray(0, take));
        got += take;
        if (got < n) return;
        done();
        socket.pause();
        if (take < chunk.length) socket.unshift(chunk.subarray(take));
        resolve(Buffer.concat(chunks));
      };
      const onEnd = (): void => {
        done();
        reject(new Error(`'end' after ${got} of ${n} bytes`));
      };
      socket.on('data', onData);
      socket.once('end', onEnd);
      socket.once('error', reject);
      socket.resume();
    }),
    ms,
    `${n} bytes (got ${got})`,
  );
}

/**
 * Writes `data` in pieces of `piece` bytes, waiting for 'drain' when `write` returns false
 * (backpressure), then ends the socket if `end`. Resolves with the bytes whose write completed.
 */
export async function writeAll(socket: RebindSocket, data: Uint8Array, options: { piece?: number; end?: boolean } = {}): Promise<number> {
  const piece = options.piece ?? 16 * 1024;
  let done = 0;
  for (let at = 0; at < data.length; at += piece) {
    const part = data.subarray(at, Math.min(data.length, at + piece));
    const ok = socket.write(part, (error) => {
      if (error === null || error === undefined) done += part.length;
    });
    if (!ok) await deadline(new Promise<void>((resolve, reject) => {
      const onDrain = (): void => {
        socket.off('error', onError);
        resolve();
      };
      const onError = (error: Error): void => {
        socket.off('drain', onDrain);
        reject(error);
      };
      socket.once('drain', onDrain);
      socket.once('error', onError);
    }), 10_000, "'drain'");
  }
  if (options.end === true) await new Promise<void>((resolve) => socket.end(resolve));
  return done;
}

/** Resolves with the socket's 'close' (and its error, if one was emitted). */
export function closed(socket: RebindSocket, ms = 10_000): Promise<Error | undefined> {
  let error: Error | undefined;
  socket.on('error', (e) => (error = e));
  if (socket.closed) return Promise.resolve(error);
  return deadline(new Promise((resolve) => socket.once('close', () => resolve(error))), ms, "'close'");
}

// ---------------------------------------------------------------------------------------------
// Child processes.

/** A child process with its IPC messages. */
export interface Child {
  readonly process: ChildProcess;
  /** Resolves with the first message (seen or future) matching `pred`. */
  next<T = Record<string, unknown>>(pred: (m: Record<string, unknown>) => boolean, ms?: number): Promise<T>;
  /** Sends an IPC message. */
  send(message: Record<string, unknown>): void;
  /** Resolves with the exit code (or signal) when the process exits. */
  readonly exited: Promise<number | string>;
}

const running = new Set<ChildProcess>();

function track(proc: ChildProcess, name: string): Child {
  running.add(proc);
  if (proc.pid !== undefined) groups.add(proc.pid);
  const messages: Record<string, unknown>[] = [];
  const waiters: Array<{ pred: (m: Record<string, unknown>) => boolean; resolve: (m: unknown) => void }> = [];
  proc.on('message', (m) => {
    const message = m as Record<string, unknown>;
    messages.push(message);
    for (const w of waiters.splice(0)) {
      if (w.pred(message)) w.resolve(message);
      else waiters.push(w);
    }
  });
  const exited = new Promise<number | string>((resolve) => proc.once('exit', (code, signal) => {
    running.delete(proc);
    resolve(code ?? signal ?? -1);
  }));
  return {
    process: proc,
    exited,
    send: (message) => {
      if (proc.connected) proc.send(message);
    },
    next: <T>(pred: (m: Record<string, unknown>) => boolean, ms = 10_000): Promise<T> => {
      const seen = messages.find(pred);
      if (seen !== undefined) return Promise.resolve(seen as T);
      const failed = messages.find((m) => m.error !== undefined);
      if (failed !== undefined) return Promise.reject(new Error(`${name}: ${String(failed.error)}`));
      return deadline(
        Promise.race([
          new Promise<T>((resolve) => waiters.push({ pred, resolve: resolve as (m: unknown) => void })),
          new Promise<never>((_, reject) => {
            waiters.push({ pred: (m) => m.error !== undefined, resolve: (m) => reject(new Error(`${name}: ${String((m as { error: unknown }).error)}`)) });
          }),
          exited.then((code) => {
            throw new Error(`${name} exited (${code}) before the expected message; got ${JSON.stringify(messages)}`);
          }),
        ]),
        ms,
        `a message from ${name}`,
      );
    },
  };
}

/**
 * Forks fixture `name` with the library's `fork()`: the child inherits `connections` (default:
 * every connection this process owns) as dormant handles (§2.3). `args` is passed as JSON.
 */
export async function forkFixture(name: string, args: unknown = {}, options: RebindForkOptions = {}): Promise<Child> {
  // detached: a process group of its own, so that killChildren also ends the processes it forks.
  const proc = await fork(fixture(name), [JSON.stringify(args)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], detached: true, ...options });
  return track(proc, name);
}

/** Starts fixture `name` with plain `child_process.fork` (a worker, or a whole origin process). */
export function startFixture(name: string, args: unknown = {}): Child {
  const proc = forkProcess(fixture(name), [JSON.stringify(args)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], detached: true });
  return track(proc, name);
}

const groups = new Set<number>();

/** Kills every child started by the helpers, with the processes they forked (afterEach). */
export async function killChildren(): Promise<void> {
  const exits = [...running].map((proc) => new Promise((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null) resolve(undefined);
    else proc.once('exit', resolve);
  }));
  for (const pid of groups) {
    try {
      process.kill(-pid, 'SIGKILL'); // the whole group: grandchildren too
    } catch {
      // already gone
    }
  }
  groups.clear();
  await deadline(Promise.all(exits), 5000, 'children to exit');
  running.clear();
}

// REBIND_DEBUG=1: print this process's protocol events (not DATA, not the application's reads and writes).
if (process.env.REBIND_DEBUG === '1') {
  setTraceHook((e) => {
    if (e.name !== 'DATA' && e.name !== 'send' && e.name !== 'recv') console.log(e.text.slice(0, 200));
  });
}
