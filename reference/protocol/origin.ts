/**
 * The origin's engine (spec §7.1): owns the connection on C1, starts a handoff on a trigger
 * (T1/T2 here, T3/T4 as NEED from the successor on L, §2.4), suspends the peer, copies the unread
 * bytes (§6.5), arms the successor and relays the peer's decision (§6.6). Driven by the origin
 * table of `spec/tables/states.json` at run time (./machine.ts).
 *
 * Channels: C1 to the peer, L to one successor (its rebind listener is `config.addr`, or the
 * address of a JOIN received on L, §5.1).
 *
 * @module
 */
import { ERRORS, RebindError, type ErrorName } from '../errors.js';
import type { Message, OrderMessage, SuspendMessage } from '../wire/messages.js';
import { Engine } from './engine.js';
import { TableMachine, type Action } from './machine.js';
import type { ByteStream } from './stream.js';
import type { Channel, EngineConfig, Input } from './types.js';

/** The handoff under way at the origin (§6.2, §6.3). */
interface OriginHandoff {
  readonly hid: number;
  readonly token: Uint8Array;
  readonly fast: boolean;
  /** SUSPENDED arrived and the copy was made (guard `copyDone`, §6.5). */
  copyDone: boolean;
  /** The successor has been involved (COPY/ORDER sent): it must hear REVOKE or COMMIT. */
  involved: boolean;
  orderSent: boolean;
}

/** Sans-IO origin engine for one connection (§7.1). */
export class OriginEngine extends Engine {
  protected readonly machine: TableMachine;
  /** The next hid of this end's parity (§2.2). */
  private nextHid: number;
  private handoff: OriginHandoff | undefined;
  /** The last handoff (for stale ABORTs after a resume, and REVOKE after the commit). */
  private lastHid: number | undefined;
  private addr: string | undefined;
  /** The application closed its handle (T1) or the process exits (T2): guard `!appHolds`. */
  private appClosed = false;
  /** Sending on C1 has stopped for this handoff (after REBIND, or SUSPEND(fast), §6.7). */
  private sendingStopped = false;
  /** The fast order was refused with CAPABILITY: never use it again on this connection (§6.1). */
  private fastRefused = false;
  /** A trigger or NEED that arrived during a handoff, remembered (rows O40, O41, §2.4). */
  pendingTrigger = false;
  /** The message being handled, and the L link it came on (which successor, when the host says). */
  private current: Message | undefined;
  private currentLink: string | undefined;
  /** The L link of the successor the last handoff went to (§6.6 `staleHolder`). */
  private movedTo: string | undefined;
  /** The L link of the latest JOIN: the successor T1/T2 choose (§2.4). */
  private joinedLink: string | undefined;
  /**
   * The successor T1/T2 would choose is gone (guard `!successorHolds`, row O45): it released its
   * handle (RELEASE, §5.8), its L was lost (§9.4) or it was revoked after an aborted handoff (§9.2).
   * A JOIN (§5.1) names a live successor again.
   */
  private successorGone = false;

  constructor(config: EngineConfig, stream?: ByteStream) {
    super(config, stream);
    this.nextHid = config.hid ?? 1;
    this.addr = config.addr;
    const sends = new Set(['SUSPEND', 'ORDER', 'REBIND', 'REVOKE', 'ABORT', 'ERROR', 'COMMIT', 'FIN']);
    this.machine = new TableMachine({
      role: 'origin',
      emit: (e) => this.emit(e),
      ...(config.timers !== undefined ? { timers: config.timers } : {}),
      canSend: (name) => sends.has(name),
      guards: {
        fast: () => this.handoff?.fast ?? this.wantsFast(),
        appHolds: () => !this.appClosed,
        copyDone: () => this.handoff?.copyDone === true,
        // §6.6: a NEED at a rebound origin from another process than the successor it moved to.
        staleHolder: () => this.currentLink !== this.movedTo,
        // §2.4: T1/T2 hand over only to a successor that still holds a live handle, else O45 closes.
        successorHolds: () => this.successorHolds,
      },
      verbs: {
        ...this.commonVerbs(),
        send: (a) => this.sendVerb(a),
        copy: () => this.copy(),
        accept: () => this.acceptIncoming(this.current as never, (e) => this.failConnection(e)),
        resume: () => this.resume(),
        close: (a) => this.emit({ kind: 'close', channel: a.arg as Channel }),
      },
    });
  }

  /** The hid of the handoff under way, if any. */
  get hid(): number | undefined {
    return this.handoff?.hid;
  }

  /**
   * The L link of the successor the handoff under way (or the last one) went to: where the host
   * sends this connection's local messages that name no link (§2.4). Before any handoff, the link
   * of the latest JOIN.
   */
  get successorLink(): string | undefined {
    return this.handoff !== undefined || this.machine.terminal ? this.movedTo : this.joinedLink;
  }

  private wantsFast(): boolean {
    return this.config.fast === true && !this.fastRefused;
  }

  /** Whether a successor holds a dormant handle (§2.4): known by its address. */
  get hasSuccessor(): boolean {
    return this.addr !== undefined;
  }

  /** Guard `successorHolds` (§2.4): a successor is known and has not released, lost L or been revoked. */
  get successorHolds(): boolean {
    return this.hasSuccessor && !this.successorGone;
  }

  protected canDeliver(): boolean {
    // From the copy on, until the handoff ends, reads wait (§6.5); a rebound handle only ends.
    // Reads also wait once this end has stopped sending (SUSPEND(fast), ORDER, REBIND, §6.7): what
    // the application read then it could not answer; the bytes go to the successor instead.
    const s = this.machine.state;
    if (s === 'REBOUND' || s === 'LEFT' || s === 'FAILED' || s === 'CLOSED') return false;
    return this.handoff?.copyDone !== true && !this.sendingStopped;
  }

  protected input(input: Input): void {
    switch (input.kind) {
      case 'recv':
        this.current = input.message;
        this.currentLink = input.link;
        if (input.channel === 'C1') this.recvC1(input.message);
        else if (input.channel === 'L') this.recvL(input.message);
        return;
      case 'trigger':
        if (input.trigger === 'T1' || input.trigger === 'T2') this.appClosed = true;
        this.trigger(input.trigger === 'T1' || input.trigger === 'T2' ? 'trigger' : 'recv NEED');
        return;
      case 'timer':
        this.step(`timer ${input.timer}`);
        return;
      case 'lost':
        if (input.channel === 'C2') return;
        if (input.channel === 'L') this.successorGone = true; // §9.4: its handle cannot be chosen any more
        this.lost(input.channel);
        return;
      case 'malformed':
        // §3.4: fail with the decoding error; REVOKE with its code to an involved successor.
        if (input.channel === 'C1' && !this.machine.terminal) this.failConnection(input.error);
        return;
      case 'app-write':
        this.appWrite(input.data);
        return;
      case 'app-read':
        if (this.terminalRead()) return;
        this.appRead(input.max);
        return;
      case 'app-shutdown':
        if (this.maySend()) this.sendFin('C1');
        else if (!this.machine.terminal) this.heldShutdown = true;
        return;
      case 'app-close':
        if (this.machine.state === 'OPEN') {
          this.appClosed = true;
          this.trigger('trigger'); // T1 (§2.4): a handoff (O1, O2) or an ordinary close (O45)
        } else {
          this.appClosed = true;
        }
        return;
      default:
        return; // connect-failed, connected: not the origin's
    }
  }

  /** DATA/FIN on C1 in OPEN: the hot path, equal to row O5 (accept, stay OPEN) without the table lookup. */
  private recvC1(message: Message): void {
    const state = this.machine.state;
    if ((message.type === 'DATA' || message.type === 'FIN') && state === 'OPEN') {
      this.acceptIncoming(message, (e) => this.failConnection(e));
      return;
    }
    if (this.machine.terminal) return; // frames that crossed the close (§7.5)
    switch (message.type) {
      case 'CREDIT':
        return;
      case 'HELLO':
        // §4.1: the HELLO exchange is over before the engine starts (net.ts): a second HELLO is unexpected.
        this.unexpected('C1', message);
        return;
      case 'DATA':
      case 'FIN':
        this.event('recv DATA', 'C1', message);
        return;
      case 'SUSPENDED':
        if (!this.hidOk(message.hid, 'SUSPENDED')) return;
        if (state === 'SUSPENDING' || state === 'SUSPENDING_FAST' || state === 'ABORTING') {
          // §6.4: sendEnd = bytes received from the peer; recvOffset <= our send offset (= Xo when fast).
          const h = this.handoff!;
          const recvEnd = this.stream.finReceived ?? this.stream.recvOffset;
          const badRecv = h.fast || this.sendingStopped ? message.recvOffset !== this.stream.sendOffset : message.recvOffset > this.stream.sendOffset;
          if (message.sendEnd !== recvEnd || badRecv) {
            this.failConnection(new RebindError('STREAM_GAP', `SUSPENDED sendEnd=${message.sendEnd} recvOffset=${message.recvOffset}, but ${recvEnd} bytes were received and ${this.stream.sendOffset} sent`, { section: '6.4' }), 'STREAM_GAP');
            return;
          }
        }
        this.event('recv SUSPENDED', 'C1', message);
        return;
      case 'REBOUND':
        if (!this.hidOk(message.hid, 'REBOUND')) return;
        this.event('recv REBOUND', 'C1', message);
        return;
      case 'ABORT':
        // A stale ABORT for a handoff that already ended, or a yielded collision (§7.5).
        if (this.handoff === undefined && (message.hid === this.lastHid || message.code === ERRORS.COLLISION.code)) return;
        if (!this.hidOk(message.hid, 'ABORT')) return;
        if (message.code === ERRORS.CAPABILITY.code) this.fastRefused = true; // §6.1
        this.event('recv ABORT', 'C1', message);
        return;
      case 'ERROR':
        if (this.step('recv ERROR')) return; // O44
        // Supplementary row X10 (§4.12), for a table without O44: close C1; REVOKE(PEER_LOST); fail PEER_LOST.
        this.revoke('PEER_LOST');
        this.emit({ kind: 'close', channel: 'C1' });
        this.failWith('PEER_LOST', `the peer sent ERROR code ${message.code}: ${message.reason}`, '4.12');
        this.machine.moveTo('FAILED', 'X10');
        return;
      default:
        this.event(`recv ${message.type}`, 'C1', message);
    }
  }

  private recvL(message: Message): void {
    switch (message.type) {
      case 'JOIN':
        this.addr = message.addr; // §5.1: the successor's rebind listener
        this.joinedLink = this.currentLink;
        this.successorGone = false;
        return;
      case 'NEED':
        if (this.machine.terminal) {
          this.step('recv NEED'); // O38 (it crossed the handoff) or O43 (a stale holder: REVOKE), §6.6
          return;
        }
        this.trigger('recv NEED');
        return;
      case 'RELEASE':
        // §5.8: the successor T1/T2 would choose closed its dormant handle (O42 changes no state).
        if (this.currentLink === undefined || this.currentLink === this.joinedLink) this.successorGone = true;
        this.step('recv RELEASE');
        return;
      default:
        // Anything else: by the table; an unexpected local message is ignored (§7.5).
        this.step(`recv ${message.type}`);
    }
  }

  /** A trigger (T1/T2) or NEED (T3/T4): starts a handoff in OPEN (O1–O4), remembered otherwise (O40, O41). */
  private trigger(event: 'trigger' | 'recv NEED'): void {
    const state = this.machine.state;
    if (state === 'OPEN') {
      if (event === 'trigger' && !this.successorHolds) {
        this.step(event); // O45 (§9.7): no successor holds a live handle, an ordinary close
        return;
      }
      if (!this.hasSuccessor || this.nextHid > 0xffffffff) {
        // Supplementary row X12 (§2.4): no successor can be chosen (NEED with no address, or hids exhausted).
        if (event === 'trigger') {
          this.sendFin('C1');
          this.emit({ kind: 'close', channel: 'C1' });
        } else {
          this.send('L', { type: 'REVOKE', cid: this.config.cid, hid: this.nextHid, code: ERRORS.REVOKED.code });
        }
        this.machine.moveTo('OPEN', 'X12');
        return;
      }
      // The chosen successor is involved from the start: it sent NEED or will be told (REVOKE/COMMIT, §2.4, §9.2).
      this.handoff = { hid: this.nextHid, token: this.newToken(), fast: this.wantsFast(), copyDone: false, involved: true, orderSent: false };
      this.nextHid += 2;
      this.sendingStopped = false;
      this.movedTo = event === 'recv NEED' ? this.currentLink : this.joinedLink;
    } else if (!this.machine.terminal) {
      this.pendingTrigger = true;
    }
    this.step(event);
  }

  private lost(channel: 'C1' | 'L'): void {
    if (this.machine.terminal) return;
    this.step(`lost ${channel}`);
  }

  /** Runs a table event; a message with no row is unexpected (§7.5). */
  private event(event: string, channel: Channel, message: Message): void {
    if (this.step(event)) return;
    this.unexpected(channel, message);
  }

  /** §7.5: ERROR(UNEXPECTED_MESSAGE) on C1, close, REVOKE to an involved successor, fail. On L: ignore. */
  private unexpected(channel: Channel, message: Message): void {
    if (channel === 'L') return;
    this.failConnection(new RebindError('UNEXPECTED_MESSAGE', `origin in ${this.machine.state} received ${message.type}`, { section: '7.5' }), 'UNEXPECTED_MESSAGE');
  }

  /** A wrong hid on C1 is HANDOFF_MISMATCH (§2.2): the connection fails. */
  private hidOk(hid: number, what: string): boolean {
    if (this.handoff !== undefined && this.handoff.hid === hid) return true;
    this.failConnection(new RebindError('HANDOFF_MISMATCH', `${what} hid=${hid}, handoff under way: ${this.handoff?.hid ?? 'none'}`, { section: '2.2' }), 'HANDOFF_MISMATCH');
    return false;
  }

  /** The connection fails on the origin: ERROR on C1, close C1, REVOKE an involved successor, fail. */
  private failConnection(error: RebindError, wire: ErrorName = error.errorName): void {
    if (!this.machine.terminal) {
      this.send('C1', this.errorFrame(wire, error.message));
      this.emit({ kind: 'close', channel: 'C1' });
      this.revoke(wire);
    }
    this.error ??= error;
    this.emit({ kind: 'fail', error });
    if (this.machine.state !== 'FAILED') this.machine.finish('FAILED', '7.5');
  }

  private revoke(code: ErrorName): void {
    if (this.handoff?.involved === true) this.send('L', { type: 'REVOKE', cid: this.config.cid, hid: this.handoff.hid, code: ERRORS[code].code });
  }

  /** A REVOKE ends the successor's handle (§9.2), except COLLISION, after which it waits again (§9.8). */
  private noteRevoke(code: number): void {
    if (code !== ERRORS.COLLISION.code) this.successorGone = true;
  }

  /** `send NAME(CODE)` of the origin's rows; REVOKE after the commit answers the NEED being handled (O43). */
  private sendVerb(a: Action): void {
    const cid = this.config.cid;
    const h = this.handoff;
    const hid = h?.hid ?? this.lastHid ?? this.nextHid;
    switch (a.arg) {
      case 'SUSPEND': {
        const suspend: SuspendMessage = h!.fast
          ? { type: 'SUSPEND', fast: true, hid, sendEnd: this.stream.sendOffset, token: h!.token, addr: this.addr! }
          : { type: 'SUSPEND', fast: false, hid };
        if (h!.fast) this.sendingStopped = true; // §6.3 step 1: the origin stops sending
        this.send('C1', suspend);
        return;
      }
      case 'ORDER':
        this.sendOrder();
        return;
      case 'REBIND':
        // §6.2 E: ORDER SHOULD go before REBIND (the table's O9 lists REBIND first; see the report).
        this.sendOrder();
        this.sendingStopped = true;
        this.send('C1', { type: 'REBIND', hid, sendEnd: this.stream.sendOffset, token: h!.token, addr: this.addr! });
        return;
      case 'REVOKE':
        if (this.current?.type === 'NEED' && this.machine.terminal) {
          // O43 (§6.6): REVOKE(REVOKED, hid = the committed handoff's) to the NEED's sender.
          this.send('L', { type: 'REVOKE', cid, hid, code: this.code(a.code) }, this.currentLink);
          return;
        }
        // To every successor that holds a dormant handle or was involved (O7, §9.5).
        if (h?.involved === true || (h === undefined && this.hasSuccessor)) {
          this.send('L', { type: 'REVOKE', cid, hid, code: this.code(a.code) });
          this.noteRevoke(this.code(a.code));
        }
        return;
      case 'ABORT':
        this.send('C1', { type: 'ABORT', hid, code: this.code(a.code) });
        return;
      case 'ERROR':
        this.send('C1', this.errorFrame(a.code as ErrorName, `origin: ${a.code ?? ''}`));
        return;
      case 'COMMIT':
        this.send('L', { type: 'COMMIT', cid, hid });
        this.onCommit();
        return;
      case 'FIN':
        this.sendFin('C1'); // O45 (§9.7): FIN at the send offset
        return;
      default:
        throw new RebindError('UNSUPPORTED', `origin cannot send ${a.arg ?? '?'}`, { section: '7.1' });
    }
  }

  private sendOrder(): void {
    const h = this.handoff!;
    if (h.orderSent) return;
    h.orderSent = true;
    h.involved = true;
    this.sendingStopped = true;
    const order: OrderMessage = { type: 'ORDER', fast: h.fast, originFin: this.stream.finSent !== undefined, cid: this.config.cid, hid: h.hid, token: h.token, sendEnd: this.stream.sendOffset };
    this.send('L', order);
  }

  /** `copy` (§6.5): COPY frames covering [R, recvEnd), then COPIED. From now on reads wait. */
  private copy(): void {
    const h = this.handoff!;
    if (h.copyDone) return;
    h.copyDone = true;
    h.involved = true;
    for (const { offset, data } of this.stream.unreadChunks(this.maxPayload)) {
      this.send('L', { type: 'COPY', cid: this.config.cid, hid: h.hid, offset, data });
    }
    this.send('L', { type: 'COPIED', peerFin: this.stream.finReceived !== undefined, cid: this.config.cid, hid: h.hid, recvEnd: this.stream.recvOffset });
  }

  /** `resume` (§9.2): the connection continues on C1; held writes go first; reads continue from R. */
  private resume(): void {
    this.lastHid = this.handoff?.hid;
    this.handoff = undefined;
    this.sendingStopped = false;
    this.flushHeld('C1');
    this.pumpReads();
  }

  /** COMMIT sent (O20, O22, O26, O30, O34): the handle is rebound (§6.6). */
  private onCommit(): void {
    this.lastHid = this.handoff?.hid;
    if (this.held.length > 0 || this.heldShutdown) {
      this.held = [];
      this.heldShutdown = false;
      this.failWith('REBOUND', 'held writes cannot be sent: the connection moved to the successor', '6.4');
    }
    if (this.readWant !== undefined) this.end();
  }

  /** Reads on a rebound (or failed) handle end (§6.6). */
  private terminalRead(): boolean {
    if (!this.machine.terminal) return false;
    this.ended = false;
    this.end();
    return true;
  }

  /** Whether the origin may send DATA/FIN on C1 now (§6.7). */
  private maySend(): boolean {
    const s = this.machine.state;
    return (s === 'OPEN' || s === 'SUSPENDING') && !this.sendingStopped;
  }

  /** OPEN/app-write is the hot path: DATA on C1 without the table (there is no row for writes). */
  private appWrite(data: Uint8Array): void {
    if (this.maySend()) {
      if (this.stream.finSent !== undefined) {
        this.failWith('CLOSED', 'write after shutdown', '9.7');
        return;
      }
      this.sendData('C1', data);
      return;
    }
    const s = this.machine.state;
    if (s === 'REBOUND' || s === 'LEFT') {
      this.failWith('REBOUND', 'write on a rebound handle', '6.6');
      return;
    }
    if (s === 'CLOSED') {
      this.failWith('CLOSED', 'write after close', '9.7');
      return;
    }
    if (s === 'FAILED') {
      this.emit({ kind: 'fail', error: this.error ?? new RebindError('CLOSED', 'origin: connection failed', { section: '9.7' }) });
      return;
    }
    this.holdWrite(data);
  }
}
