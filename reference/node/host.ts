/**
 * The host of one connection in one process: it binds a sans-IO engine (reference/protocol) to
 * real transport connections, real timers and the application's {@link RebindSocket}. It feeds
 * the engine what happens (frames, lost channels, timer expiries, application calls) and carries
 * out the effects it returns, in order (spec §7: the tables decide, the host only does).
 *
 * Channels (§2.1): C1 is one {@link FrameConnection}; C2 links are the connections accepted by this
 * process's rebind listener for this cid (successor) or the one the peer connected (peer); L is the
 * process's local channel, shared by every connection it carries, reached through the
 * {@link HostRuntime}.
 *
 * @module
 */
import { RebindError } from '../errors.js';
import { ERRORS } from '../errors.js';
import type { Engine } from '../protocol/engine.js';
import { OriginEngine } from '../protocol/origin.js';
import { PeerEngine } from '../protocol/peer.js';
import { SuccessorEngine } from '../protocol/successor.js';
import type { Channel, Effect, Input } from '../protocol/types.js';
import { TIMERS } from '../tables.js';
import { transportFor } from '../transport/index.js';
import { asSent, type FrameConnection } from '../transport/transport.js';
import type { Message } from '../wire/index.js';
import type { RebindSocket } from './socket.js';
import { hexField, traceAction, traceMessage, tracing } from './trace.js';

/** Unread bytes above which the host stops reading C1 (TCP flow control then slows the sender). */
const RECEIVE_HIGH_WATER = 1 << 20;
/** Unread bytes below which it reads again. */
const RECEIVE_LOW_WATER = 1 << 18;

/**
 * Bytes the transport may hold before an application write waits for 'drain'. Larger than
 * net.Socket's 16 KiB so that one 64–256 KiB application write does not stall the pipeline.
 */
const SEND_HIGH_WATER = 1 << 20;
/** The same as bigints, made once (afterInput compares them on every input). */
const RECEIVE_HIGH_WATER_N = BigInt(RECEIVE_HIGH_WATER);
const RECEIVE_LOW_WATER_N = BigInt(RECEIVE_LOW_WATER);

/** What a host needs from its process's runtime. */
export interface HostRuntime {
  /** This process's actor name in traces (`O`, or `S<port>` for a successor process). */
  readonly actor: string;
  /** Sends a local message on L: to the child process `link` (origin), or to the parent (successor, no link). */
  sendLocal(host: ConnectionHost, link: string | undefined, message: Message): void;
  /** The actor name of the successor process behind L link `link`, for traces. */
  linkActor(link: string | undefined): string;
  /** The successor became the owner (§10.1): it is now an origin for this process's children. */
  becameOwner(host: ConnectionHost): void;
  /** The connection is over in this process (closed, failed, rebound, released, revoked). */
  finished(host: ConnectionHost): void;
}

/** The actor name of the process listening at `addr` (a successor's rebind listener, §5.1). */
export function actorForAddress(addr: string | undefined): string {
  const port = addr === undefined ? undefined : /:(\d+)$/.exec(addr)?.[1];
  return port === undefined ? 'S' : `S${port}`;
}

/** Whether a transport closed because the other end's bytes did not decode (§3.4, a `frame` error of §12). */
function isFrameError(error: RebindError | undefined): error is RebindError {
  return error !== undefined && ERRORS[error.errorName].class === 'frame';
}

/** Lower-case hex of a cid. */
export function cidHex(cid: Uint8Array): string {
  return Buffer.from(cid.buffer, cid.byteOffset, cid.byteLength).toString('hex');
}

/** See the module comment. */
export class ConnectionHost {
  readonly engine: Engine;
  readonly cid: Uint8Array;
  readonly cidHex: string;
  readonly runtime: HostRuntime;
  /** The application's handle. */
  socket!: RebindSocket;
  /** The role this host started in. */
  readonly startRole: 'origin' | 'successor' | 'peer';

  private c1: FrameConnection | undefined;
  /** The actor at the other end of C1, for traces. */
  private c1Actor: string;
  private readonly c2 = new Map<string, FrameConnection>();
  /** The C2 actor (peer: the successor's name from the REBIND address). */
  private c2Actor = 'S';
  /** Connections this host closed or retired: their late frames and close are not the engine's business (§7.5). */
  private readonly retired = new Set<FrameConnection>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private c1Paused = false;
  /** Write callbacks waiting for `writable` (held writes) or for the transport's `drain`. */
  private writeWaiters: Array<(error?: Error | null) => void> = [];
  private blockedOn: FrameConnection | undefined;
  /** The application wants more bytes (its stream's buffer has room). */
  private reading = false;
  private handling = false;
  private readonly queue: Input[] = [];
  private over = false;
  /** The successor owns the connection (after `switch`): frames from the parent's L are stale. */
  private owner = false;
  /** Origin: the child links that hold a dormant handle of this connection, oldest first (§2.4). */
  private readonly holders: string[] = [];
  /** Origin: child links forked with this connection that have not joined yet. */
  readonly pendingHolders = new Set<string>();
  /** Origin: the application closed while a forked child had not joined yet (T1 waits for it). */
  private closeWaitsForJoin = false;
  /** The application has read, written or shut down this handle (a dormant handle's errors wait for it). */
  private touched = false;
  /** End-of-stream was given to the application. */
  private endDelivered = false;
  /** The application closed its handle: nothing more is delivered to it. */
  private appClosed = false;
  /** The addresses of the joined children, by link. */
  private readonly holderAddr = new Map<string, string>();
  /** Called once when the handoff this host is the origin of commits or aborts. */
  private handoffWaiters: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
  /** Origin: a handoff began and has not ended yet (only its end, not a JOIN before it, settles the waiters). */
  private handoffStarted = false;

  constructor(options: { engine: Engine; runtime: HostRuntime; c1?: FrameConnection; c1Actor: string }) {
    this.engine = options.engine;
    this.runtime = options.runtime;
    this.cid = (options.engine as unknown as { config: { cid: Uint8Array } }).config.cid;
    this.cidHex = cidHex(this.cid);
    this.c1Actor = options.c1Actor;
    this.startRole = options.engine instanceof OriginEngine ? 'origin' : options.engine instanceof SuccessorEngine ? 'successor' : 'peer';
    this.engine.streamingReads = true;
    if (options.c1 !== undefined) this.attachC1(options.c1);
  }

  /** This host's actor in traces: `P` for the peer, the process's name otherwise. */
  get actor(): string {
    return this.startRole === 'peer' ? 'P' : this.runtime.actor;
  }

  /** The engine that acts now: a successor's owner engine after the commit (§10.1). */
  get active(): Engine {
    if (this.engine instanceof SuccessorEngine && this.engine.origin !== undefined) return this.engine.origin;
    return this.engine;
  }

  /** The current C1 (after a commit: what was C2). */
  get connection(): FrameConnection | undefined {
    return this.c1;
  }

  /** Whether this process owns the connection now (origin before a commit, successor after one, peer). */
  get owns(): boolean {
    if (this.over) return false;
    if (this.startRole === 'successor') return this.owner;
    if (this.startRole === 'origin') return !this.engine.terminal;
    return !this.engine.terminal;
  }

  /** The connection is over in this process. */
  get finished(): boolean {
    return this.over;
  }

  // -------------------------------------------------------------------------------------------
  // Feeding the engine.

  /** Feeds one input; inputs that arrive while effects are being carried out are queued. */
  feed(input: Input): void {
    this.queue.push(input);
    if (this.handling) return;
    this.handling = true;
    try {
      let next: Input | undefined;
      while ((next = this.queue.shift()) !== undefined) {
        const effects = this.engine.handle(next);
        for (const effect of effects) this.apply(effect);
        this.afterInput(next);
      }
    } finally {
      this.handling = false;
    }
  }

  private afterInput(input: Input): void {
    const active = this.active;
    // Receive backpressure: stop reading C1 while the application is far behind — only while no
    // handoff is under way: a handoff needs C1's control frames (SUSPENDED, REBOUND, ABORT), which
    // queue behind the data, and the data after SUSPEND is bounded (the peer stops, §6.7).
    const unread = active.stream.unreadBytes;
    const open = active.state === 'OPEN';
    if (!this.c1Paused && open && unread > RECEIVE_HIGH_WATER_N && this.c1 !== undefined) {
      this.c1Paused = true;
      this.c1.pause();
    } else if (this.c1Paused && (!open || unread < RECEIVE_LOW_WATER_N)) {
      this.c1Paused = false;
      this.c1?.resume();
    }
    if (this.reading && input.kind !== 'app-read' && !this.over) {
      // The application's buffer had room: ask for more (bytes the engine kept while it could not deliver).
      this.reading = false;
      this.queue.push({ kind: 'app-read' });
    } else if (!this.endDelivered && input.kind !== 'app-read' && active.stream.finReceived !== undefined && active.stream.unreadBytes === 0n) {
      // The other end's FIN with nothing left unread ends the stream even if the application is
      // not reading, as on net.Socket ('end', then 'close' once both sides are done, §9.7).
      this.queue.push({ kind: 'app-read' });
    }
    this.checkOutcome();
  }

  /** After each input: a handoff outcome (commit, abort) and the end of the connection here. */
  private checkOutcome(): void {
    const engine = this.engine;
    if (engine instanceof OriginEngine) {
      const s = engine.state;
      if (engine.hid !== undefined) this.handoffStarted = true;
      if (s === 'REBOUND' || s === 'LEFT') {
        // §2.4: every other holder of a dormant handle is dead once the handoff commits.
        const moved = engine.successorLink;
        for (const link of this.holders) {
          if (link !== moved) this.runtime.sendLocal(this, link, { type: 'REVOKE', cid: this.cid, hid: engine.hid ?? 1, code: ERRORS.REVOKED.code });
        }
        this.holders.length = 0;
        this.settleHandoff();
        // A write that went out on C1 and only waited for 'drain' is part of the stream (C1 is
        // ended, not dropped): it completed. Held writes have failed with ERR_REBOUND (§6.4).
        this.blockedOn = undefined;
        this.releaseWriters();
        this.socket.rebound();
        this.finish();
      } else if (s === 'OPEN' && this.handoffStarted && engine.hid === undefined) {
        // Back in OPEN after a handoff began: it aborted (§9.2). Inputs before any began (a JOIN) settle nothing.
        this.handoffStarted = false;
        this.settleHandoff(new RebindError('REVOKED', 'the handoff was aborted; the connection resumed here', { section: '9.2' }));
      } else if (engine.terminal) {
        this.settleHandoff(engine.error ?? new RebindError('CLOSED', 'the connection closed', { section: '9.7' }));
        this.finish();
      }
      return;
    }
    if (this.engine.terminal && !this.owner) this.finish();
    else if (this.owner && this.active.terminal) {
      const s = this.active.state;
      if (s === 'REBOUND' || s === 'LEFT') this.socket.rebound();
      this.finish();
    }
  }

  private finish(): void {
    if (this.over) return;
    // Keep going until the transports have flushed; only the bookkeeping ends here.
    this.over = this.active.terminal;
    if (!this.over) return;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    this.runtime.finished(this);
  }

  // -------------------------------------------------------------------------------------------
  // Carrying out effects.

  private apply(effect: Effect): void {
    switch (effect.kind) {
      case 'send':
        this.send(effect.channel, effect.message, effect.link);
        return;
      case 'deliver':
        if (this.appClosed || this.socket.destroyed) {
          // The application closed its handle while a read was pending: the bytes stay unread (§6.5).
          this.active.stream.unshift(effect.data);
          this.active.pauseReads(); // and the next bytes wait behind these, in order
          return;
        }
        // A DATA delivered straight through leaves a streaming read armed (engine.streamingReads):
        // no second pass through the engine per received chunk just to ask for more.
        if (!this.socket.deliver(effect.data)) this.active.pauseReads();
        else if (!this.active.readArmed) this.reading = true;
        return;
      case 'end':
        this.endDelivered = true;
        this.socket.deliverEnd();
        return;
      case 'start-timer': {
        this.clearTimer(effect.timer);
        const timer = setTimeout(() => {
          this.timers.delete(effect.timer);
          if (tracing()) traceAction(this.cidHex, this.actor, 'timeout', [effect.timer]);
          this.feed({ kind: 'timer', timer: effect.timer });
        }, effect.ms);
        this.timers.set(effect.timer, timer);
        return;
      }
      case 'stop-timer':
        this.clearTimer(effect.timer);
        return;
      case 'connect':
        this.connectC2(effect.addr);
        return;
      case 'close':
        this.closeChannel(effect.channel, effect.link);
        return;
      case 'fail':
        this.settleHandoff(effect.error);
        if (tracing()) traceAction(this.cidHex, this.actor, 'fail', [], { code: effect.error.errorName });
        if (this.startRole === 'successor' && !this.owner && !this.touched) {
          // §2.4: a dormant handle that was revoked fails "when used": a child that merely holds
          // it (as a forked process holds inherited descriptors) must not get an 'error' event.
          // Its engine is terminal; the next read or write fails with the engine's error.
          return;
        }
        this.socket.fail(effect.error);
        this.releaseWriters(effect.error);
        return;
      case 'writable':
        this.releaseWriters();
        return;
      case 'switch':
        this.switchChannels();
        return;
      case 'transition':
        return;
    }
  }

  private clearTimer(name: string): void {
    const timer = this.timers.get(name);
    if (timer !== undefined) clearTimeout(timer);
    this.timers.delete(name);
  }

  private send(channel: Channel, message: Message, link?: string): void {
    if (channel === 'L') {
      const to = link ?? (this.engine instanceof OriginEngine ? this.engine.successorLink : this.active instanceof OriginEngine ? (this.active as OriginEngine).successorLink : undefined);
      if (tracing()) traceMessage(this.cidHex, 'send', this.actor, this.startRole === 'successor' && !this.owner ? this.runtime.linkActor(undefined) : this.runtime.linkActor(to), message);
      this.runtime.sendLocal(this, this.startRole === 'successor' && !this.owner ? undefined : to, message);
      return;
    }
    const connection = channel === 'C1' ? this.c1 : this.c2.get(link ?? 'C2');
    if (connection === undefined || connection.closed) return; // the channel is gone: its loss is (or was) an input
    if (tracing()) traceMessage(this.cidHex, 'send', this.actor, channel === 'C1' ? this.c1Actor : this.c2Actor, asSent(connection, message));
    let ok: boolean;
    try {
      ok = message.type === 'DATA' ? connection.sendData(message.offset, message.data) : connection.send(message);
    } catch (error) {
      // The transport refused the frame (closed under us): the connection's close event follows.
      if (error instanceof RebindError && error.errorName === 'CLOSED') return;
      throw error;
    }
    // Backpressure (like net.Socket's, one level up): the application's write completes at once
    // while the transport holds at most SEND_HIGH_WATER bytes; above that it waits for 'drain'.
    if (!ok && connection.bufferedAmount > SEND_HIGH_WATER && (channel === 'C1' || this.startRole === 'successor')) this.blockedOn = connection;
  }

  private closeChannel(channel: Channel, link?: string): void {
    if (channel === 'L') return; // L is the process's, shared by all its connections (§11.3)
    const connection = channel === 'C1' ? this.c1 : this.c2.get(link ?? 'C2');
    if (connection === undefined) return;
    this.retired.add(connection);
    if (channel === 'C2') this.c2.delete(link ?? 'C2');
    void connection.end();
  }

  // -------------------------------------------------------------------------------------------
  // Channels.

  /** Makes `connection` this host's C1 (at establishment, or after a commit). */
  attachC1(connection: FrameConnection): void {
    this.c1 = connection;
    connection.on('frame', (message) => {
      if (this.retired.has(connection) || connection !== this.c1) return;
      if (tracing()) traceMessage(this.cidHex, 'receive', this.actor, this.c1Actor, message);
      if (message.type === 'SUSPENDED' && this.active instanceof OriginEngine) this.reclaimUnconsumed();
      this.feed({ kind: 'recv', channel: 'C1', message });
    });
    connection.on('drain', () => this.onDrain(connection));
    connection.on('close', (error) => {
      if (this.retired.has(connection) || connection !== this.c1) return;
      this.onC1Closed(error);
    });
  }

  /** Successor: a C2 accepted by the rebind listener, whose first frame was `attach` (§4.7). */
  acceptC2(connection: FrameConnection, link: string, attach: Message, peerActor = 'P'): void {
    this.c2.set(link, connection);
    if (tracing()) {
      traceAction(this.cidHex, this.actor, 'accept', [peerActor]);
      traceMessage(this.cidHex, 'receive', this.actor, peerActor, attach);
    }
    this.c1Actor = peerActor;
    this.c2Actor = peerActor;
    connection.on('frame', (message) => {
      if (this.retired.has(connection)) return;
      if (connection === this.c1) {
        if (tracing()) traceMessage(this.cidHex, 'receive', this.actor, this.c1Actor, message);
        if (message.type === 'SUSPENDED') this.reclaimUnconsumed();
        this.feed({ kind: 'recv', channel: 'C1', message });
        return;
      }
      if (tracing()) traceMessage(this.cidHex, 'receive', this.actor, peerActor, message);
      this.feed({ kind: 'recv', channel: 'C2', message, link });
    });
    connection.on('drain', () => this.onDrain(connection));
    connection.on('close', (error) => {
      if (this.retired.has(connection)) return;
      if (connection === this.c1) {
        this.c1 = undefined;
        this.onC1Closed(error);
        return;
      }
      this.c2.delete(link);
      this.feed(isFrameError(error) ? { kind: 'malformed', channel: 'C2', error, link } : { kind: 'lost', channel: 'C2', link });
    });
    this.feed({ kind: 'recv', channel: 'C2', message: attach, link });
  }

  /** The transport that carries the connection now (C1, or what was C2 before a `switch`) closed. */
  private onC1Closed(error: RebindError | undefined): void {
    const active = this.active;
    const stream = active.stream;
    if (error === undefined && stream.finReceived !== undefined && (stream.finSent !== undefined || active.state === 'OPEN')) {
      // §9.7: after the other end's FIN, a clean close is the ordinary end of the connection (that
      // end closed after both FINs, or after its own FIN when it waits for no more data): not a
      // loss. Unread bytes are still delivered, then end-of-stream; later writes fail CLOSED.
      this.settleHandoff(new RebindError('CLOSED', 'the connection closed', { section: '9.7' }));
      this.over = true;
      for (const t of this.timers.values()) clearTimeout(t);
      this.timers.clear();
      this.socket.closedByPeer();
      this.runtime.finished(this);
      return;
    }
    if (isFrameError(error) && !active.terminal) {
      // §3.4: the other end sent a frame that does not decode; the transport answered ERROR(code)
      // and closed C1. The connection fails with that error, not as a lost C1.
      this.feed({ kind: 'malformed', channel: 'C1', error });
      if (this.active.terminal) return;
    }
    if (tracing()) traceAction(this.cidHex, this.actor, 'cut', [this.c1Actor]);
    this.feed({ kind: 'lost', channel: 'C1' });
    if (!this.active.terminal && this.active.state === 'OPEN') {
      // Lost C1 with no handoff under way and no row for it: the connection is over (§9.6).
      const cause = error ?? new RebindError('PEER_LOST', 'the other end closed the connection without FIN', { section: '9.6' });
      this.socket.fail(cause.errorName === 'PEER_LOST' ? cause : new RebindError('PEER_LOST', cause.message, { section: '9.6', cause }));
      this.over = true;
      this.runtime.finished(this);
    }
  }

  /** Peer: connect C2 to the successor's rebind listener (§6.2 f). The ATTACH timer bounds it. */
  private connectC2(addr: string): void {
    this.c2Actor = actorForAddress(addr);
    if (tracing()) traceAction(this.cidHex, this.actor, 'connect', [this.c2Actor]);
    const hid = (this.engine as PeerEngine).hid;
    let transport;
    try {
      transport = transportFor(addr);
    } catch {
      queueMicrotask(() => this.feed({ kind: 'connect-failed' }));
      return;
    }
    transport.connect(addr, { sliceData: true }).then(
      (connection) => {
        const engine = this.engine as PeerEngine;
        if (engine.hid !== hid || engine.terminal || (engine.state !== 'ATTACHING' && engine.state !== 'ATTACHING_ALONE')) {
          connection.destroy(); // the handoff ended (timeout, abort) while connecting
          return;
        }
        this.c2.set('C2', connection);
        connection.on('frame', (message) => {
          if (this.retired.has(connection)) return;
          const channel: Channel = connection === this.c1 ? 'C1' : 'C2';
          if (tracing()) traceMessage(this.cidHex, 'receive', this.actor, this.c2Actor, message);
          this.feed({ kind: 'recv', channel, message });
        });
        connection.on('drain', () => this.onDrain(connection));
        connection.on('close', (error) => {
          if (this.retired.has(connection)) return;
          if (connection === this.c1) {
            this.onC1Closed(error);
            return;
          }
          this.c2.delete('C2');
          this.feed({ kind: 'lost', channel: 'C2' });
        });
        this.feed({ kind: 'connected' });
      },
      () => this.feed({ kind: 'connect-failed' }),
    );
  }

  /** `switch` (§7.3, §10.1): what was C2 is C1 from now on; the old C1 (peer) or L (successor) is retired. */
  private switchChannels(): void {
    if (this.engine instanceof PeerEngine) {
      const old = this.c1;
      const next = this.c2.get('C2');
      this.c2.delete('C2');
      if (old !== undefined) {
        // §4.9: the origin closes C1 after COMMIT (claim 11); the peer MUST NOT close it first,
        // except after the REBOUND timer's default has passed. Its frames are ignored (§6.6).
        this.retired.add(old);
        const timer = setTimeout(() => void old.end(), TIMERS.REBOUND?.defaultMs ?? 4000);
        timer.unref();
        old.once('close', () => clearTimeout(timer));
      }
      this.c1 = next;
      this.c1Actor = this.c2Actor;
      this.c1Paused = false;
      this.socket.addresses();
      if (this.blockedOn === old) this.blockedOn = next;
      return;
    }
    if (this.engine instanceof SuccessorEngine) {
      const link = this.engine.attachedLink ?? 'C2';
      this.c1 = this.c2.get(link);
      this.c2.delete(link);
      this.owner = true;
      this.socket.addresses();
      this.runtime.becameOwner(this);
      this.releaseWriters(); // §6.4: the successor's writes complete at COMMIT
    }
  }

  // -------------------------------------------------------------------------------------------
  // L, from the runtime.

  /** A local message for this connection from the L link `link` (a child) or from the parent (`undefined`). */
  fromLocal(message: Message, link: string | undefined): void {
    if (link === undefined && this.owner) return; // the parent's L is retired after the commit (§6.6)
    if (tracing()) traceMessage(this.cidHex, 'receive', this.actor, this.runtime.linkActor(link), message);
    if (message.type === 'RELEASE' && link !== undefined) this.dropHolder(link, false);
    this.feed(link === undefined ? { kind: 'recv', channel: 'L', message } : { kind: 'recv', channel: 'L', message, link });
    if (message.type === 'RELEASE' && link !== undefined) this.rejoinLatest();
  }

  /** Origin: a child forked with this connection; it holds a dormant handle from now on (§2.3). */
  addPendingHolder(link: string): void {
    this.pendingHolders.add(link);
  }

  /** Origin: the child `link` joined with rebind listener `addr` (§5.1). */
  joined(link: string, addr: string, pid: number, forkedAt?: number): void {
    if (this.over) return;
    this.pendingHolders.delete(link);
    const at = this.holders.indexOf(link);
    if (at >= 0) this.holders.splice(at, 1);
    this.holders.push(link);
    this.holderAddr.set(link, addr);
    if (tracing()) {
      // A forked child's name is known only from its JOIN, so `fork` is written now, stamped now:
      // times never decrease down a process's trace (§13.1). A worker joins (§10.2).
      if (forkedAt !== undefined) traceAction(this.cidHex, this.actor, 'fork', [this.runtime.linkActor(link)]);
      else traceAction(this.cidHex, this.actor, 'join', [this.runtime.linkActor(link)]);
      traceMessage(this.cidHex, 'receive', this.actor, this.runtime.linkActor(link), { type: 'JOIN', pid, addr });
    }
    this.feed({ kind: 'recv', channel: 'L', message: { type: 'JOIN', pid, addr }, link });
    this.maybeCloseAfterJoin();
  }

  /** Origin: the child `link` died or closed L (§9.4). */
  lostLink(link: string): void {
    if (this.over) return;
    const wasPending = this.pendingHolders.delete(link);
    const engine = this.active;
    const current = engine instanceof OriginEngine ? engine.successorLink : undefined;
    this.dropHolder(link, true);
    if (link === current) {
      this.feed({ kind: 'lost', channel: 'L', link });
      this.rejoinLatest();
    }
    if (wasPending) this.maybeCloseAfterJoin();
  }

  private dropHolder(link: string, _lost: boolean): void {
    const at = this.holders.indexOf(link);
    if (at >= 0) this.holders.splice(at, 1);
    this.holderAddr.delete(link);
  }

  /** The engine knows one successor at a time: after the chosen one is gone, the latest other holder (§2.4). */
  private rejoinLatest(): void {
    const engine = this.active;
    if (!(engine instanceof OriginEngine) || engine.hid !== undefined || engine.terminal) return;
    const latest = this.holders[this.holders.length - 1];
    if (latest === undefined) return;
    this.feed({ kind: 'recv', channel: 'L', message: { type: 'JOIN', pid: 0, addr: this.holderAddr.get(latest)! }, link: latest });
  }

  // -------------------------------------------------------------------------------------------
  // The application's calls (from RebindSocket).

  /** A write: `callback` runs when the bytes are handed to the transport, or once held writes may go. */
  write(data: Uint8Array, callback: (error?: Error | null) => void): void {
    if (tracing() && this.engine instanceof SuccessorEngine && this.engine.state === 'DORMANT') traceAction(this.cidHex, this.actor, 'trigger', ['T4']);
    if (tracing()) traceAction(this.cidHex, this.actor, 'send', [], { len: data.length, data: hexField(data) });
    this.touched = true;
    this.blockedOn = undefined;
    if (this.over && !this.active.terminal) {
      // The transport is gone after an ordinary end (§9.7): nothing can be sent any more.
      callback(new RebindError('CLOSED', 'write after the connection closed', { section: '9.7' }));
      return;
    }
    this.feed({ kind: 'app-write', data });
    const error = this.active.error;
    if (this.over || error !== undefined) {
      if (this.active.state === 'REBOUND' || this.active.state === 'LEFT' || error !== undefined) {
        callback(error ?? new RebindError('REBOUND', 'write on a rebound handle', { section: '6.6' }));
        return;
      }
    }
    if (this.active.holding || this.blockedOn !== undefined || this.awaitingCommit) this.writeWaiters.push(callback);
    else callback();
  }

  /** Traces the application's read (`recv`, §13.1) when its stream hands it bytes. */
  traceRead(data: Uint8Array): void {
    traceAction(this.cidHex, this.actor, 'recv', [], { len: data.length, data: hexField(data) });
  }

  /** The application's stream has room: deliver what the engine has. */
  read(): void {
    if (tracing() && this.engine instanceof SuccessorEngine && this.engine.state === 'DORMANT') traceAction(this.cidHex, this.actor, 'trigger', ['T3']);
    this.touched = true;
    this.reading = false;
    this.feed({ kind: 'app-read' });
  }

  /** `shutdown(SHUT_WR)` (§9.7): FIN after everything written. */
  shutdown(): void {
    if (tracing()) traceAction(this.cidHex, this.actor, 'shutdown');
    this.touched = true;
    this.feed({ kind: 'app-shutdown' });
  }

  /** `close` of the handle: T1 at an origin with a successor (§2.4), RELEASE of a dormant handle (§5.8), else a close. */
  close(): void {
    if (this.over) return;
    this.appClosed = true;
    if (tracing()) traceAction(this.cidHex, this.actor, 'close');
    if (this.startRole === 'origin' && this.pendingHolders.size > 0 && this.holders.length === 0 && this.engine.state === 'OPEN') {
      // A forked child holds a dormant handle from the fork on (§2.3), but its JOIN is not in yet.
      this.closeWaitsForJoin = true;
      return;
    }
    this.feed({ kind: 'app-close' });
    if (this.startRole === 'peer' && !this.engine.terminal && this.engine.state === 'OPEN') {
      // The peer's close is FIN then close of C1; the engine has no CLOSED state.
      this.over = true;
      for (const t of this.timers.values()) clearTimeout(t);
      this.runtime.finished(this);
    }
  }

  private maybeCloseAfterJoin(): void {
    if (!this.closeWaitsForJoin) return;
    if (this.holders.length === 0 && this.pendingHolders.size > 0) return;
    this.closeWaitsForJoin = false;
    this.feed({ kind: 'app-close' });
  }

  /** T2 (§2.4, §9.3): the process exits; a voluntary exit runs the handoff first. */
  exitTrigger(): void {
    if (this.over) return;
    if (tracing()) traceAction(this.cidHex, this.actor, 'exit');
    if (this.pendingHolders.size > 0 && this.holders.length === 0) {
      this.closeWaitsForJoin = true;
      return;
    }
    this.feed({ kind: 'trigger', trigger: 'T2' });
  }

  /** Resolves when the handoff this origin runs commits; rejects when it aborts or fails. */
  handoffSettled(): Promise<void> {
    return new Promise((resolve, reject) => this.handoffWaiters.push({ resolve, reject }));
  }

  private settleHandoff(error?: Error): void {
    const waiters = this.handoffWaiters;
    this.handoffWaiters = [];
    for (const w of waiters) {
      if (error === undefined) w.resolve();
      else w.reject(error);
    }
  }

  /**
   * Before the copy (§6.5, on SUSPENDED): bytes the socket holds for a paused application were
   * never read by it, so they go back to the engine and into the copy.
   */
  private reclaimUnconsumed(): void {
    if (this.engine.state === 'OPEN' && this.active.state === 'OPEN') return;
    this.giveBack(this.socket.takeUnconsumed());
  }

  /** Gives bytes the application did not consume back to the engine (they go into the copy, §6.5). */
  giveBack(chunks: readonly Uint8Array[]): void {
    const stream = this.active.stream;
    for (let i = chunks.length - 1; i >= 0; i--) stream.unshift(chunks[i]!);
  }

  /**
   * A successor's write may have gone out on C2 (after ATTACHED) but must not report success
   * before the bytes are part of the committed stream (§6.4): its callback waits for COMMIT, or
   * fails with the handoff (ERR_REVOKED).
   */
  private get awaitingCommit(): boolean {
    return this.startRole === 'successor' && !this.owner && !this.over;
  }

  private onDrain(connection: FrameConnection): void {
    if (this.blockedOn !== connection) return;
    this.blockedOn = undefined;
    if (!this.active.holding) this.releaseWriters();
  }

  private releaseWriters(error?: Error): void {
    if (error === undefined && (this.blockedOn !== undefined || this.active.holding || this.awaitingCommit)) return;
    const waiters = this.writeWaiters;
    this.writeWaiters = [];
    for (const callback of waiters) callback(error ?? null);
  }

  /** Tears everything down at once (process exit, a test's cleanup): no protocol, no trace. */
  destroyAll(error?: RebindError): void {
    this.over = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    this.c1?.destroy(error);
    for (const c of this.c2.values()) c.destroy(error);
  }
}
