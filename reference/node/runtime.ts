/**
 * The rebind runtime of one process (spec §10.2): the process's rebind listener (one per successor
 * process, §5.1), its local channels L (one per pair of processes: a listener for its children, a
 * channel to its parent), and the hosts of every connection it takes part in, demultiplexed by cid.
 *
 * A process started by {@link fork} finds its parent's L and its connection records in the
 * environment (`REBIND_FORK`); the runtime starts at import, listens, joins (§5.1) and makes a
 * dormant handle of each record — nothing on the wire (¶0032). {@link inherited} gives them to the
 * application.
 *
 * @module
 */
import { fork as forkProcess, type ChildProcess, type ForkOptions } from 'node:child_process';
import { RebindError } from '../errors.js';
import { ERRORS } from '../errors.js';
import { OriginEngine } from '../protocol/origin.js';
import { SuccessorEngine } from '../protocol/successor.js';
import type { EngineConfig } from '../protocol/types.js';
import { connectLocal, listenLocal, type LocalChannel, type LocalListener } from '../transport/local.js';
import { getTransport } from '../transport/index.js';
import { formatAddress, parseAddress } from '../transport/transport.js';
import type { FrameConnection, FrameListener } from '../transport/transport.js';
import type { Message } from '../wire/index.js';
import { ConnectionHost, actorForAddress, cidHex, type HostRuntime } from './host.js';
import { RebindSocket } from './socket.js';
import { traceAction, traceMessage, tracing } from './trace.js';

/** What a dormant handle inherits (§2.3: the connection record), as JSON in `REBIND_FORK`. */
export interface ConnectionRecord {
  /** The cid, hex. */
  readonly cid: string;
  /** Both HELLOs carried `fast` (§6.1). */
  readonly fast: boolean;
  /** The largest DATA payload the other end accepts (its HELLO.maxPayload − 28, §3.3). */
  readonly maxPayload: number;
  /** This end's C1 addresses (the local one is where the successor listens, §11.1). */
  readonly localAddress: string;
  readonly remoteAddress: string;
  /** Timer durations by name (§9.1), when not the defaults. */
  readonly timers?: Readonly<Record<string, number>>;
  /** The origin socket's `allowHalfOpen`: the successor's socket behaves the same (§9.7). */
  readonly allowHalfOpen?: boolean;
}

/** `REBIND_FORK`: the parent's L and the records of the handles a child inherits. */
interface ForkEnvironment {
  readonly l: string;
  readonly records: readonly ConnectionRecord[];
  /** The parent's actor name in traces (§13.1): `O`, or `S<port>` for a successor that owns and forks again (§10.1). */
  readonly actor?: string;
}

/** A child (or worker) process on this process's L. */
interface ChildLink {
  readonly link: string;
  readonly pid: number;
  channel?: LocalChannel;
  addr?: string;
  process?: ChildProcess;
  /** The cids it holds (or was forked with). */
  readonly cids: Set<string>;
  /** When it was forked (ms, the trace clock), or undefined for a worker that joins (§10.2). */
  forkedAt?: number;
  lost: boolean;
}

/** Options of the runtime, shared by the whole process. */
export interface RuntimeOptions {
  /** Timer durations by name (§9.1) for every connection of this process. */
  timers?: Record<string, number>;
  /** Offer the fast order in HELLO (§6.1); default true. */
  fast?: boolean;
  /**
   * The binding `createServer` and `connect` use when not told otherwise (§11): `'tcp'` (the
   * default) or `'rdma'`. A successor's rebind listener always uses the binding of the
   * connections it inherits (the scheme of their records, §5.1), whatever this says.
   */
  transport?: string;
}

/** The scheme and host of a record's local address (where a successor listens, §5.1, §11). */
function listenerSite(localAddress: string): { scheme: string; host?: string } {
  try {
    const { scheme, host } = parseAddress(localAddress, { allowPortZero: true });
    return { scheme, host };
  } catch {
    return { scheme: /^([a-z][a-z0-9+.-]*):\/\//.exec(localAddress)?.[1] ?? 'tcp' }; // e.g. `tcp://?:0` of a socket already gone
  }
}

/** See the module comment. One per process: {@link Runtime.current}. */
export class Runtime implements HostRuntime {
  private static instance: Runtime | undefined;
  /** The process's runtime. */
  static current(): Runtime {
    Runtime.instance ??= new Runtime();
    return Runtime.instance;
  }

  actor = 'O';
  options: RuntimeOptions = {};
  /** Connections this process owns as the acceptor's end (origin now, or successor turned owner). */
  readonly owned = new Map<string, ConnectionHost>();
  /** Dormant (or handing-off) successor handles, by cid. */
  readonly dormant = new Map<string, ConnectionHost>();
  /** Connections this process is the peer of. */
  readonly peers = new Set<ConnectionHost>();
  private readonly children = new Map<string, ChildLink>();
  private localListener: Promise<LocalListener> | undefined;
  private rebindListener: Promise<FrameListener> | undefined;
  private rebindHost = '127.0.0.1';
  /** The scheme of the rebind listener (`tcp`, `rdma`): that of the records this process holds. */
  private rebindScheme: string | undefined;
  private parent: Promise<LocalChannel> | undefined;
  private parentPath: string | undefined;
  private inheritedSockets: RebindSocket[] = [];
  private started: Promise<RebindSocket[]> | undefined;
  private adoptHandler: ((socket: RebindSocket) => void) | undefined;
  private exitHooked = false;

  // -------------------------------------------------------------------------------------------
  // HostRuntime.

  sendLocal(host: ConnectionHost, link: string | undefined, message: Message): void {
    if (link === undefined) {
      if (this.parent === undefined) return;
      void this.parent.then((channel) => {
        if (!channel.closed) channel.send(message);
      }, () => {});
      return;
    }
    const child = this.children.get(link);
    if (child?.channel === undefined || child.channel.closed) return; // lost L is an input of its own
    child.channel.send(message);
    void host;
  }

  linkActor(link: string | undefined): string {
    if (link === undefined) return this.parentActor;
    return actorForAddress(this.children.get(link)?.addr);
  }

  /** The actor name of the parent (the origin of this process's inherited handles). */
  parentActor = 'O';

  becameOwner(host: ConnectionHost): void {
    this.dormant.delete(host.cidHex);
    this.owned.set(host.cidHex, host);
  }

  finished(host: ConnectionHost): void {
    if (this.owned.get(host.cidHex) === host) this.owned.delete(host.cidHex);
    if (this.dormant.get(host.cidHex) === host) this.dormant.delete(host.cidHex);
    this.peers.delete(host);
    for (const child of this.children.values()) child.cids.delete(host.cidHex);
  }

  // -------------------------------------------------------------------------------------------
  // Registration (net.ts).

  /** A connection accepted by this process (origin, §6.1). */
  addOwned(host: ConnectionHost): void {
    this.owned.set(host.cidHex, host);
    this.hookExit();
  }

  /** A connection this process connected (peer). */
  addPeer(host: ConnectionHost): void {
    this.peers.add(host);
  }

  /**
   * T2 (§2.4, §9.3): before the process exits voluntarily (its event loop ran dry), every owned
   * connection a successor holds is handed off first. `process.exit()` cannot wait: use
   * {@link exit}.
   */
  private hookExit(): void {
    if (this.exitHooked) return;
    this.exitHooked = true;
    process.on('beforeExit', () => {
      for (const host of [...this.owned.values()]) if (host.owns && host.socket.destroyed === false) host.exitTrigger();
    });
  }

  /** Runs T2 for every owned connection, waits for the handoffs (or `timeoutMs`), then exits. */
  async exit(code = 0, timeoutMs = 15_000): Promise<never> {
    const settled = [...this.owned.values()].filter((h) => h.owns).map((host) => {
      const done = host.handoffSettled().catch(() => {});
      host.exitTrigger();
      return done;
    });
    await Promise.race([Promise.all(settled), new Promise((r) => setTimeout(r, timeoutMs).unref())]);
    process.exit(code);
  }

  // -------------------------------------------------------------------------------------------
  // The local listener (origin side, §11.3).

  private ensureLocalListener(): Promise<LocalListener> {
    this.localListener ??= listenLocal((channel, join) => this.onJoin(channel, join.pid, join.addr)).then((listener) => {
      listener.setKeepAlive(false);
      return listener;
    });
    return this.localListener;
  }

  private childFor(pid: number): ChildLink {
    const link = `pid:${pid}`;
    let child = this.children.get(link);
    if (child === undefined) {
      child = { link, pid, cids: new Set(), lost: false };
      this.children.set(link, child);
    }
    return child;
  }

  private onJoin(channel: LocalChannel, pid: number, addr: string): void {
    const child = this.childFor(pid);
    if (child.channel !== undefined && !child.channel.closed) {
      channel.destroy(new RebindError('UNEXPECTED_MESSAGE', `a second L from pid ${pid}`, { section: '10.2' }));
      return;
    }
    child.channel = channel;
    child.addr = addr;
    child.lost = false;
    channel.setKeepAlive?.(false);
    channel.on('frame', (message) => this.fromChild(child, message));
    channel.on('close', () => this.childLost(child));
    for (const cid of child.cids) this.owned.get(cid)?.joined(child.link, addr, pid, child.forkedAt);
    this.joinWaiters.get(child.link)?.forEach((w) => w());
    this.joinWaiters.delete(child.link);
  }

  private readonly joinWaiters = new Map<string, Array<() => void>>();

  private fromChild(child: ChildLink, message: Message): void {
    if (!('cid' in message)) return;
    const cid = cidHex(message.cid);
    const host = this.owned.get(cid);
    if (host === undefined) {
      if (tracing()) traceMessage(cid, 'receive', this.actor, actorForAddress(child.addr), message);
      // §5: no handle for the cid. A NEED is answered so that its sender does not wait (§5.2).
      if (message.type === 'NEED') child.channel?.send({ type: 'REVOKE', cid: message.cid, hid: 1, code: ERRORS.UNKNOWN_CONNECTION.code });
      return;
    }
    host.fromLocal(message, child.link);
  }

  private childLost(child: ChildLink): void {
    if (child.lost) return;
    child.lost = true;
    for (const cid of [...child.cids]) this.owned.get(cid)?.lostLink(child.link);
  }

  // -------------------------------------------------------------------------------------------
  // fork (§2.3: the successor inherits the record with the process image).

  /** The connections `fork` passes by default: every one this process owns (as POSIX fork does). */
  ownedSockets(): RebindSocket[] {
    return [...this.owned.values()].filter((h) => h.owns && !h.socket.destroyed).map((h) => h.socket);
  }

  async fork(modulePath: string | URL, args: readonly string[] = [], options: RebindForkOptions = {}): Promise<ChildProcess> {
    const listener = await this.ensureLocalListener();
    const sockets = options.connections ?? this.ownedSockets();
    const hosts = sockets.map((socket) => {
      if (!(socket instanceof RebindSocket)) throw new RebindError('INVALID_ARGUMENT', 'fork connections must be rebind sockets', { section: '2.3' });
      if (socket.host.startRole === 'peer') {
        throw new RebindError('UNSUPPORTED', 'handing off the connecting end of a connection is not implemented (even hids, §2.2, §9.8)', { section: '9.8' });
      }
      if (!socket.host.owns) throw new RebindError('CLOSED', 'fork: the connection is not owned by this process any more', { section: '6.6' });
      return socket.host;
    });
    const records = hosts.map((h) => this.recordOf(h));
    const schemes = new Set(records.map((r) => listenerSite(r.localAddress).scheme));
    if (schemes.size > 1) {
      // §5.1: the child joins with one rebind listener, of the transport of its connections.
      throw new RebindError('UNSUPPORTED', `fork: the connections use several transports (${[...schemes].join(', ')}); fork them to separate children`, { section: '5.1' });
    }
    const { connections: _c, ...childOptions } = options;
    const env: ForkEnvironment = { l: listener.path, records, actor: this.actor };
    const child = forkProcess(modulePath, [...args], {
      ...childOptions,
      env: { ...(childOptions.env ?? process.env), REBIND_FORK: JSON.stringify(env) },
    });
    if (child.pid === undefined) {
      await new Promise((resolve) => child.once('error', resolve));
      throw new RebindError('UNREACHABLE', `fork of ${String(modulePath)} failed`, { section: '2.3' });
    }
    const link = this.childFor(child.pid);
    link.process = child;
    link.forkedAt = performance.timeOrigin + performance.now();
    for (const host of hosts) {
      link.cids.add(host.cidHex);
      host.addPendingHolder(link.link);
    }
    child.once('exit', () => this.childLost(link));
    return child;
  }

  /** The connection record of an owned connection (§2.3). */
  recordOf(host: ConnectionHost): ConnectionRecord {
    const c1 = host.connection;
    const engine = host.active as OriginEngine;
    const config = (engine as unknown as { config: EngineConfig }).config;
    return {
      cid: host.cidHex,
      fast: config.fast === true,
      maxPayload: config.maxPayload ?? 1048576 - 28,
      localAddress: c1?.localAddress ?? 'tcp://127.0.0.1:0',
      remoteAddress: c1?.remoteAddress ?? 'tcp://127.0.0.1:0',
      ...(config.timers !== undefined ? { timers: config.timers } : {}),
      ...(host.socket.allowHalfOpen ? { allowHalfOpen: true } : {}),
    };
  }

  // -------------------------------------------------------------------------------------------
  // Worker pools (§10.2): an explicit handoff to a running process.

  /**
   * Hands `socket` to the running process `worker` (started with `child_process.fork` or
   * {@link fork}, and calling {@link acceptHandoffs}): the worker receives the record over the
   * IPC channel (outside the protocol, §2.3), makes a dormant handle, joins L if it had not, and
   * this process closes its handle — T1, so the handoff runs now. Resolves when it commits.
   */
  async handoff(socket: RebindSocket, worker: ChildProcess): Promise<void> {
    const host = socket.host;
    if (host.startRole === 'peer') throw new RebindError('UNSUPPORTED', 'handing off the connecting end is not implemented (§9.8)', { section: '9.8' });
    if (!host.owns) throw new RebindError('CLOSED', 'the connection is not owned by this process', { section: '6.6' });
    if (worker.pid === undefined || !worker.connected) throw new RebindError('INVALID_ARGUMENT', 'the worker has no IPC channel', { section: '10.2' });
    const listener = await this.ensureLocalListener();
    const child = this.childFor(worker.pid);
    child.process ??= worker;
    // A worker that joined L before this handoff needs the JOIN fed for this cid below; one that
    // joins while adopting it gets it from onJoin, which feeds JOIN for every cid in child.cids.
    const joinedBefore = child.channel !== undefined && !child.channel.closed;
    child.cids.add(host.cidHex);
    host.addPendingHolder(child.link);
    const record = this.recordOf(host);
    const settled = host.handoffSettled();
    settled.catch(() => {}); // observed by the caller (returned); not an unhandled rejection while the worker adopts
    await new Promise<void>((resolve, reject) => {
      const onMessage = (message: unknown): void => {
        const m = message as { rebind?: string; cid?: string; error?: string };
        if (m?.rebind !== 'adopted' || m.cid !== record.cid) return;
        worker.off('message', onMessage);
        if (m.error !== undefined) reject(new RebindError('UNREACHABLE', `the worker refused the connection: ${m.error}`, { section: '10.2' }));
        else resolve();
      };
      worker.on('message', onMessage);
      worker.send({ rebind: 'adopt', l: listener.path, record }, (error) => {
        if (error !== null) {
          worker.off('message', onMessage);
          reject(new RebindError('UNREACHABLE', `cannot reach the worker: ${error.message}`, { section: '10.2', cause: error }));
        }
      });
    });
    // The worker's JOIN may have come long ago: it holds the handle now (§2.4: the latest holder).
    if (joinedBefore && child.addr !== undefined && child.channel !== undefined && !child.channel.closed) host.joined(child.link, child.addr, child.pid);
    else if (child.addr === undefined) child.forkedAt = undefined; // it joins later: a worker, not a fork
    socket.destroy(); // T1
    return settled;
  }

  /**
   * In a worker: receive connections handed over by {@link handoff}. `onSocket` gets each as a
   * dormant handle; reading or writing it rebinds it (T3/T4), or the origin's close already started
   * the handoff.
   */
  acceptHandoffs(onSocket: (socket: RebindSocket) => void): void {
    this.adoptHandler = onSocket;
    process.on('message', (message: unknown) => {
      const m = message as { rebind?: string; l?: string; record?: ConnectionRecord };
      if (m?.rebind !== 'adopt' || m.record === undefined || m.l === undefined) return;
      void this.adopt(m.l, m.record).then(
        (socket) => {
          process.send?.({ rebind: 'adopted', cid: m.record!.cid });
          this.adoptHandler?.(socket);
        },
        (error: Error) => process.send?.({ rebind: 'adopted', cid: m.record!.cid, error: error.message }),
      );
    });
  }

  private async adopt(l: string, record: ConnectionRecord): Promise<RebindSocket> {
    const joinedBefore = this.parent !== undefined && this.parentPath === l;
    await this.joinParent(l, record.localAddress);
    const socket = this.dormantSocket(record);
    // §13.1, the per-cid trace of a worker handoff: `S join O` relates the JOIN to the connection,
    // and a worker that joined L before this connection existed records the connection's JOIN now
    // (before its 'adopted' reply makes the origin write `O <~ S JOIN`), not at its first JOIN.
    this.traceJoin(socket, joinedBefore ? performance.timeOrigin + performance.now() : this.joinedAt, true);
    return socket;
  }

  // -------------------------------------------------------------------------------------------
  // The successor side: the rebind listener, L to the parent, dormant handles.

  /**
   * This process's rebind listener (§5.1), listening on the address the peer reached the origin
   * at, with the binding of that address: a TCP listener for `tcp://` records (§11.1), an rdma_cm
   * listening id for `rdma://` ones (§11.2) — opened by this process on its own device context (a
   * forked child never uses its parent's queue pairs, memory regions or completion queues).
   */
  private ensureRebindListener(localAddress: string): Promise<FrameListener> {
    const { scheme, host } = listenerSite(localAddress);
    if (this.rebindScheme !== undefined && this.rebindScheme !== scheme) {
      // §5.1: JOIN announces one listener; connections of another transport cannot rebind to it.
      return Promise.reject(new RebindError('UNSUPPORTED', `this process's rebind listener is ${this.rebindScheme}; it cannot take a ${scheme} connection`, { section: '5.1' }));
    }
    this.rebindScheme = scheme;
    if (host !== undefined && host !== '0.0.0.0' && host !== '::') this.rebindHost = host;
    this.rebindListener ??= Promise.resolve()
      .then(() => getTransport(scheme).listen(formatAddress(scheme, this.rebindHost, 0), (connection) => this.onC2(connection), { sliceData: true }))
      .then((listener) => {
        listener.setKeepAlive?.(false);
        this.actor = actorForAddress(listener.address);
        return listener;
      });
    return this.rebindListener;
  }

  /** A C2: its first frame must be ATTACH within 2000 ms (§4.7); the cid picks the handle (§10.2). */
  private onC2(connection: FrameConnection): void {
    let first = true;
    const timer = setTimeout(() => connection.destroy(new RebindError('TIMEOUT', 'no ATTACH on C2 within 2000 ms', { section: '4.7' })), 2000);
    const onFrame = (message: Message): void => {
      if (!first) return;
      first = false;
      clearTimeout(timer);
      connection.off('frame', onFrame);
      if (message.type !== 'ATTACH') {
        connection.destroy(new RebindError('UNEXPECTED_MESSAGE', `${message.type} as the first frame on C2`, { section: '4.7' }));
        return;
      }
      const cid = cidHex(message.cid);
      const host = this.dormant.get(cid) ?? this.ownedBySuccessor(cid);
      if (host === undefined) {
        connection.send({ type: 'REFUSE', hid: message.hid, code: ERRORS.UNKNOWN_CONNECTION.code });
        void connection.end();
        return;
      }
      host.acceptC2(connection, `c2:${++this.c2Count}`, message);
    };
    connection.on('frame', onFrame);
    connection.once('close', () => clearTimeout(timer));
  }

  private c2Count = 0;

  private ownedBySuccessor(cid: string): ConnectionHost | undefined {
    const host = this.owned.get(cid);
    return host?.startRole === 'successor' ? host : undefined;
  }

  /** Listens and joins the parent's L at `path` (once per process, §10.2). */
  private async joinParent(path: string, localAddress: string): Promise<void> {
    const listener = await this.ensureRebindListener(localAddress);
    if (this.parent !== undefined && this.parentPath === path) {
      await this.parent;
      return;
    }
    this.parentPath = path;
    this.parent = connectLocal(path, { pid: process.pid, addr: listener.address }, { timeoutMs: 5000 }).then((channel) => {
      this.joinedAt = performance.timeOrigin + performance.now();
      channel.setKeepAlive?.(false);
      channel.on('frame', (message) => {
        if (!('cid' in message)) return;
        this.dormant.get(cidHex(message.cid))?.fromLocal(message, undefined);
      });
      channel.on('close', () => {
        for (const host of [...this.dormant.values()]) host.feed({ kind: 'lost', channel: 'L' });
      });
      return channel;
    });
    await this.parent;
  }

  /** A dormant handle for `record` (§2.3): a successor engine in DORMANT; nothing is sent. */
  private dormantSocket(record: ConnectionRecord): RebindSocket {
    const cid = Uint8Array.from(Buffer.from(record.cid, 'hex'));
    const timers = { ...(record.timers ?? {}), ...(this.options.timers ?? {}) };
    const config: EngineConfig = { cid, fast: record.fast, maxPayload: record.maxPayload, ...(Object.keys(timers).length > 0 ? { timers } : {}) };
    const engine = new SuccessorEngine(config);
    const host = new ConnectionHost({ engine, runtime: this, c1Actor: 'P' });
    const socket = new RebindSocket(host, { allowHalfOpen: record.allowHalfOpen === true });
    socket.setRecordAddresses(record.localAddress, record.remoteAddress);
    this.dormant.set(host.cidHex, host);
    this.hookExit();
    return socket;
  }

  /** When this process sent JOIN on its parent's L (the trace clock). */
  private joinedAt: number | undefined;

  /** `S ~> O JOIN` in the trace of each handle this process holds (§5.1: one JOIN per L, for all of them). */
  private traceJoin(socket: RebindSocket, at = this.joinedAt, worker = false): void {
    if (!tracing()) return;
    void this.rebindListener?.then((listener) => {
      if (worker) traceAction(socket.host.cidHex, this.actor, 'join', [this.parentActor], {}, at);
      traceMessage(socket.host.cidHex, 'send', this.actor, this.parentActor, { type: 'JOIN', pid: process.pid, addr: listener.address }, at);
    });
  }

  /** In a forked child: joins the parent and makes the dormant handles of `REBIND_FORK` (once). */
  startChild(): Promise<RebindSocket[]> {
    this.started ??= (async () => {
      const text = process.env.REBIND_FORK;
      if (text === undefined || text === '') return [];
      delete process.env.REBIND_FORK; // a grandchild gets its own
      const env = JSON.parse(text) as ForkEnvironment;
      if (env.actor !== undefined) this.parentActor = env.actor;
      await this.joinParent(env.l, env.records[0]?.localAddress ?? 'tcp://127.0.0.1:0');
      this.inheritedSockets = env.records.map((r) => this.dormantSocket(r));
      for (const socket of this.inheritedSockets) this.traceJoin(socket);
      return this.inheritedSockets;
    })();
    return this.started;
  }

  /** Closes listeners and destroys every connection at once (tests, shutdown). */
  async shutdown(): Promise<void> {
    for (const host of [...this.owned.values(), ...this.dormant.values(), ...this.peers]) host.destroyAll();
    this.owned.clear();
    this.dormant.clear();
    this.peers.clear();
    const l = this.localListener;
    const r = this.rebindListener;
    this.localListener = undefined;
    this.rebindListener = undefined;
    this.rebindScheme = undefined;
    if (l !== undefined) await (await l).close();
    if (r !== undefined) await (await r).close();
    for (const child of this.children.values()) child.channel?.destroy();
    this.children.clear();
  }

  /** Resolves when the child `pid` has joined this process's L (tests, examples). */
  whenJoined(pid: number): Promise<void> {
    const child = this.children.get(`pid:${pid}`);
    if (child?.channel !== undefined) return Promise.resolve();
    return new Promise((resolve) => {
      const list = this.joinWaiters.get(`pid:${pid}`) ?? [];
      list.push(resolve);
      this.joinWaiters.set(`pid:${pid}`, list);
    });
  }
}

/** Options of {@link fork}: those of `child_process.fork`, and which connections the child inherits. */
export interface RebindForkOptions extends ForkOptions {
  /** The connections the child inherits; default every connection this process owns (POSIX fork). */
  connections?: RebindSocket[];
}

/**
 * Starts `modulePath` in a real child process (`child_process.fork`) that inherits this process's
 * connections as dormant handles (§2.3): the child gets them from {@link inherited} and they rebind
 * lazily, on its first read or write (T3/T4), or when this process closes its handle (T1) or exits
 * (T2). The fork sends nothing on the wire (¶0032).
 */
export function fork(modulePath: string | URL, args: readonly string[] = [], options: RebindForkOptions = {}): Promise<ChildProcess> {
  return Runtime.current().fork(modulePath, args, options);
}

/** In a process started by {@link fork}: its inherited connections, as dormant sockets. Empty elsewhere. */
export function inherited(): Promise<RebindSocket[]> {
  return Runtime.current().startChild();
}

/** Hands one connection to a running worker process (§10.2); resolves when the handoff commits. */
export function handoff(socket: RebindSocket, worker: ChildProcess): Promise<void> {
  return Runtime.current().handoff(socket, worker);
}

/** In a worker: receive the connections a parent hands over with {@link handoff}. */
export function acceptHandoffs(onSocket: (socket: RebindSocket) => void): void {
  Runtime.current().acceptHandoffs(onSocket);
}

/** T2 for every owned connection (hand them to their successors), then `process.exit(code)`. */
export function exit(code = 0, timeoutMs?: number): Promise<never> {
  return Runtime.current().exit(code, timeoutMs);
}

/** Process-wide settings: timers (§9.1), whether HELLO offers the fast order (§6.1), the default transport (§11). */
export function configure(options: RuntimeOptions): void {
  Object.assign(Runtime.current().options, options);
}

// A forked child joins its parent at once: its handles exist from the fork on (§2.3).
if (process.env.REBIND_FORK !== undefined && process.env.REBIND_FORK !== '') void Runtime.current().startChild().catch(() => {});
