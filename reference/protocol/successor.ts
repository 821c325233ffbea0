/**
 * The successor's engine (spec §7.2): holds a dormant handle (nothing on the wire, ¶0032); on T3/T4
 * asks the origin for the connection (NEED); receives the copy and the order on L in either order;
 * verifies the peer's ATTACH on its rebind listener (§8.2) and answers ATTACHED; holds the copy and
 * the peer's C2 data and delivers nothing before COMMIT (§6.6). On COMMIT it becomes the owner and,
 * for later handoffs, an origin whose C1 is this C2 (§10.1): see {@link SuccessorEngine.origin}.
 * Driven by the successor table of `spec/tables/states.json` at run time.
 *
 * C2 links: a rebind listener may hold several C2s at once (the real peer, a stranger, §8.3); each
 * `recv`/`lost` on C2 names its `link`, and the answers go back on that link.
 *
 * @module
 */
import { timingSafeEqual } from 'node:crypto';
import { ERRORS, RebindError, type ErrorName } from '../errors.js';
import type { AttachMessage, Message, OrderMessage } from '../wire/messages.js';
import { Engine } from './engine.js';
import { TableMachine, type Action } from './machine.js';
import { OriginEngine } from './origin.js';
import { ByteStream, CopyBuffer } from './stream.js';
import type { Channel, Effect, EngineConfig, Input } from './types.js';

/** Timers of the supplementary rows that states.json does not have yet (§8.3 hold time); NEED comes from the table. */
export const SUPPLEMENTARY_TIMERS: Readonly<Record<string, number>> = { HOLD: 2000 };

/** The link name used when the host gives none. */
const DEFAULT_LINK = 'C2';

/** Sans-IO successor engine for one connection (§7.2). */
export class SuccessorEngine extends Engine {
  protected readonly machine: TableMachine;
  /** The ORDER received (§5.3), and whether its token is still armed (§8.2). */
  private order: OrderMessage | undefined;
  private armed = false;
  /** Tokens of this cid consumed, and expired (revoked, timed out, disarmed), for REFUSE codes (§8.2). */
  private readonly consumed: Uint8Array[] = [];
  private readonly expired: Uint8Array[] = [];
  private copy = new CopyBuffer();
  private copied: { recvEnd: bigint; peerFin: boolean } | undefined;
  /** The copy failed a check before ATTACHED: the order is disarmed, ATTACH → REFUSE(STREAM_GAP) (X5, §6.5). */
  private copyBroken = false;
  /** The accepted ATTACH and the C2 link it came on. */
  private attach: AttachMessage | undefined;
  private boundLink: string | undefined;
  /** Bytes of the peer's stream received on C2 (from ATTACH.sendOffset), held until COMMIT (§6.6). */
  private c2: ByteStream | undefined;
  /** An ATTACH that arrived before ORDER (X2, §8.3). */
  private heldAttach: { message: AttachMessage; link: string } | undefined;
  private needSent = false;
  private current: Message | undefined;
  private currentLink: string = DEFAULT_LINK;
  /** After OWNER: the origin of later handoffs, fed every input (§10.1). */
  private owner: OriginEngine | undefined;
  private readonly ownerConfig: Partial<EngineConfig>;

  /**
   * @param config  the connection record (§2.3): cid, fast, timers, maxPayload, token generator
   * @param ownerConfig  what the origin of later handoffs uses once this successor owns the
   *   connection (§10.1): its successor's `addr`, timers... (hid defaults to the committed hid + 2)
   */
  constructor(config: EngineConfig, ownerConfig: Partial<EngineConfig> = {}) {
    super(config);
    this.ownerConfig = ownerConfig;
    const sends = new Set(['NEED', 'RELEASE', 'ATTACHED', 'REFUSE', 'ERROR']);
    this.machine = new TableMachine({
      role: 'successor',
      emit: (e) => this.emit(e),
      timers: { ...SUPPLEMENTARY_TIMERS, ...(config.timers ?? {}) },
      canSend: (name) => sends.has(name),
      guards: {
        fast: () => this.current?.type === 'ORDER' && this.current.fast,
        tokenOk: () => this.tokenOk(),
      },
      verbs: {
        ...this.commonVerbs(),
        send: (a) => this.sendVerb(a),
        hold: () => this.hold(),
        check: () => this.check(),
        consume: () => this.consume(),
        deliver: () => this.deliverAll(),
        close: (a) => this.closeVerb(a.arg as Channel),
      },
    });
  }

  /** The C2 link whose ATTACH was accepted (consumed the token, §8.2); after `switch` it is C1. */
  get attachedLink(): string | undefined {
    return this.boundLink;
  }

  /** Once the successor owns the connection: the origin engine of later handoffs (§10.1). */
  get origin(): OriginEngine | undefined {
    return this.owner;
  }

  /** The state of this role's table; after OWNER, the state of {@link origin} as `OWNER/…`. */
  override get state(): string {
    return this.owner === undefined ? this.machine.state : `OWNER/${this.owner.state}`;
  }

  /** Terminal: before OWNER, this table's terminal states; after it, those of {@link origin}. */
  override get terminal(): boolean {
    return this.owner === undefined ? this.machine.terminal : this.owner.terminal;
  }

  /** Application writes are held (before ATTACHED), or the owner's are (§6.7). */
  override get holding(): boolean {
    return this.owner === undefined ? super.holding : this.owner.holding;
  }

  protected canDeliver(): boolean {
    return false; // nothing before COMMIT (§6.6); after it the owner engine reads
  }

  override handle(input: Input): Effect[] {
    if (this.owner === undefined) return super.handle(input);
    if (input.kind === 'recv' && input.channel === 'C2') {
      // The rebind listener still answers as an owner (row S12 from OWNER, §8.3): REFUSE, close.
      this.out = [];
      const link = input.link ?? DEFAULT_LINK;
      if (input.message.type === 'ATTACH') this.refuse(input.message, link, this.refuseCode(input.message));
      else this.emit({ kind: 'close', channel: 'C2', link });
      return this.out;
    }
    return this.owner.handle(input);
  }

  protected input(input: Input): void {
    const state = this.machine.state;
    switch (input.kind) {
      case 'recv':
        this.current = input.message;
        this.currentLink = input.link ?? DEFAULT_LINK;
        if (input.channel === 'L') this.recvL(input.message);
        else if (input.channel === 'C2') this.recvC2(input.message, this.currentLink);
        break;
      case 'trigger':
        this.trigger(input.trigger === 'T4' ? 4 : 3);
        break;
      case 'timer':
        this.timer(input.timer);
        break;
      case 'lost':
        if (input.channel === 'L') this.step('lost L');
        else if (input.channel === 'C2') this.lostC2(input.link ?? DEFAULT_LINK);
        break;
      case 'malformed':
        // §3.4: on C2 after a valid ATTACH the connection fails with the decoding error; before, that C2 was a stranger's.
        if (input.channel === 'C2' && (input.link ?? DEFAULT_LINK) === this.boundLink && !this.machine.terminal) this.failBound(input.error);
        else if (input.channel === 'C2') this.lostC2(input.link ?? DEFAULT_LINK);
        break;
      case 'app-read':
        if (state === 'DORMANT') this.trigger(3); // T3 (§2.4): the read waits
        this.readWant = input.max ?? Number.POSITIVE_INFINITY;
        if (this.machine.terminal && state !== 'OWNER') this.emit({ kind: 'fail', error: this.handleError() });
        break;
      case 'app-write':
        this.appWrite(input.data);
        break;
      case 'app-shutdown':
        if (this.boundLink !== undefined && !this.machine.terminal) this.sendFin('C2', this.boundLink);
        else this.heldShutdown = true;
        break;
      case 'app-close':
        // S2 in DORMANT; during a handoff the close is deferred until it ends (§9.7).
        if (!this.step('app close') && !this.machine.terminal) this.closeDeferred = true;
        break;
      default:
        break;
    }
    this.afterStep(state);
  }

  /** The NEED timer runs in NEEDED, COPYING, COPIED (§9.1); entering OWNER hands over to the origin engine. */
  private afterStep(before: string): void {
    const state = this.machine.state;
    const waiting = (s: string): boolean => s === 'NEEDED' || s === 'COPYING' || s === 'COPIED';
    if (waiting(before) && !waiting(state)) this.machine.stopTimer('NEED');
    if (this.heldAttach !== undefined && this.machine.terminal && state !== 'OWNER') {
      // The handoff ended while an early ATTACH waited (its HOLD timer stopped with the others): too late (§8.3).
      const held = this.heldAttach;
      this.heldAttach = undefined;
      this.refuse(held.message, held.link, 'TOKEN_EXPIRED');
    }
    if (this.heldAttach !== undefined && !this.machine.terminal && !(this.machine.defers('recv ATTACH') ?? this.order === undefined)) {
      // X2: the state no longer defers ATTACH (ORDER arrived): evaluate the held one now.
      const held = this.heldAttach;
      this.heldAttach = undefined;
      this.machine.stopTimer('HOLD');
      this.recvC2(held.message, held.link);
      this.afterStep(this.machine.state);
      return;
    }
    if (state === 'OWNER' && this.owner === undefined) this.becomeOwner();
  }

  private trigger(kind: 3 | 4): void {
    if (this.machine.state === 'DORMANT') this.needKind = kind;
    this.step('trigger');
  }

  private needKind: 3 | 4 = 3;
  /** The application closed its handle during the handoff: the owner closes once it owns (§9.7). */
  private closeDeferred = false;

  private timer(name: string): void {
    const state = this.machine.state;
    if (name === 'NEED' && this.machine.find('timer NEED') === undefined) {
      // Supplementary row X3 (§9.1), for a table without S33: no ORDER or REVOKE came.
      if (state === 'NEEDED' || state === 'COPYING' || state === 'COPIED') {
        this.machine.running.delete('NEED');
        this.failWith('TIMEOUT', 'no ORDER after NEED', '9.1');
        this.machine.moveTo('FAILED', 'X3');
      }
      return;
    }
    if (name === 'HOLD') {
      this.machine.running.delete('HOLD');
      const held = this.heldAttach;
      this.heldAttach = undefined;
      if (held !== undefined) this.refuse(held.message, held.link, 'TOKEN_INVALID');
      return;
    }
    if (name === 'ARMED') this.expire();
    this.step(`timer ${name}`);
  }

  private recvL(message: Message): void {
    const state = this.machine.state;
    if ('cid' in message && !this.sameCid(message.cid)) return; // another connection's: not ours (§7.5)
    if ('hid' in message && this.order !== undefined && message.hid !== this.order.hid) return; // HANDOFF_MISMATCH on L: ignored (§2.2)
    switch (message.type) {
      case 'ORDER':
        if (state !== 'COPIED' && state !== 'DORMANT' && state !== 'NEEDED') {
          this.step('recv ORDER'); // S31 in a terminal state; otherwise no row: ignored (§7.5)
          return;
        }
        this.order = message;
        if (!this.step('recv ORDER')) {
          this.order = undefined;
          return;
        }
        this.armed = !this.copyBroken;
        return;
      case 'REVOKE':
        if (this.machine.terminal) {
          this.step('recv REVOKE'); // S31: it crossed our RELEASE or failure (§7.5)
          return;
        }
        if (message.code === ERRORS.COLLISION.code && ['ORDERED', 'READY', 'NEEDED', 'COPYING', 'COPIED', 'DORMANT'].includes(state)) {
          // Supplementary row X4 (§9.8): back to waiting, keep the handle.
          this.machine.stopTimer('ARMED');
          this.expire();
          this.order = undefined;
          this.copy = new CopyBuffer();
          this.copied = undefined;
          this.copyBroken = false;
          this.machine.moveTo(this.needSent ? 'NEEDED' : 'DORMANT', 'X4');
          return;
        }
        this.expire();
        this.step('recv REVOKE');
        return;
      case 'COPIED':
        if (this.machine.terminal) {
          this.step('recv COPIED');
          return;
        }
        this.copied = { recvEnd: message.recvEnd, peerFin: message.peerFin };
        this.step('recv COPIED');
        return;
      default:
        this.step(`recv ${message.type}`); // unexpected on L: ignored (§7.5)
    }
  }

  private recvC2(message: Message, link: string): void {
    const state = this.machine.state;
    if (message.type === 'ATTACH') {
      if (link === this.boundLink) {
        this.failBound(new RebindError('UNEXPECTED_MESSAGE', 'a second ATTACH on the attached C2', { section: '7.5' }));
        return;
      }
      if (!this.sameCid(message.cid)) {
        // §8.2 step 1: no handle for that cid.
        this.refuse(message, link, 'UNKNOWN_CONNECTION');
        return;
      }
      // X2 / the table's `defer` (§8.3): hold one early ATTACH until ORDER arrives or the hold time passes.
      const deferred = this.machine.defers('recv ATTACH') ?? (this.order === undefined && ['DORMANT', 'NEEDED', 'COPYING', 'COPIED'].includes(state));
      if (deferred) {
        if (this.heldAttach === undefined) {
          this.heldAttach = { message, link };
          this.machine.startTimer('HOLD');
        } else {
          this.refuse(message, link, 'TOKEN_INVALID'); // at most one held ATTACH per cid (§8.3)
        }
        return;
      }
      this.current = message;
      this.currentLink = link;
      if (this.step('recv ATTACH')) return;
      // No row (e.g. a terminal state of an older table, X7): refuse with the code of §8.2.
      this.refuse(message, link, this.machine.terminal ? 'TOKEN_EXPIRED' : this.refuseCode(message));
      return;
    }
    if (link !== this.boundLink) {
      // Before a valid ATTACH: close that C2 without any state change (§7.5, §3.4).
      this.emit({ kind: 'close', channel: 'C2', link });
      return;
    }
    if (message.type === 'CREDIT') return;
    if (message.type === 'DATA' || message.type === 'FIN') {
      if (!this.step('recv DATA')) this.failBound(new RebindError('UNEXPECTED_MESSAGE', `DATA on C2 in ${state}`, { section: '7.5' }));
      return;
    }
    if (message.type === 'ERROR') {
      // S34 (§4.12); for a table without it, supplementary row X11: as `lost C2`.
      if (!this.step('recv ERROR')) this.step('lost C2');
      return;
    }
    this.failBound(new RebindError('UNEXPECTED_MESSAGE', `${message.type} on C2 in ${state}`, { section: '7.5' }));
  }

  private lostC2(link: string): void {
    if (link === this.boundLink) {
      this.step('lost C2');
      return;
    }
    if (this.heldAttach?.link === link) {
      this.heldAttach = undefined;
      this.machine.stopTimer('HOLD');
    }
  }

  /** After a valid ATTACH: ERROR on C2, close it, fail (§6.4, §7.5). */
  private failBound(error: RebindError): void {
    if (!this.machine.terminal) {
      this.send('C2', this.errorFrame(error.errorName, error.message), this.boundLink);
      this.emit({ kind: 'close', channel: 'C2', ...(this.boundLink !== undefined ? { link: this.boundLink } : {}) });
    }
    this.error ??= error;
    this.emit({ kind: 'fail', error });
    if (this.machine.state !== 'FAILED') this.machine.finish('FAILED', '7.5');
  }

  private sameCid(cid: Uint8Array): boolean {
    return cid.length === this.config.cid.length && timingSafeEqual(cid, this.config.cid);
  }

  /** Constant-time token comparison (§8.2). */
  private static tokenEq(a: Uint8Array, b: Uint8Array): boolean {
    return a.length === 16 && b.length === 16 && timingSafeEqual(a, b);
  }

  /** Guard `tokenOk` (§8.2): cid, hid and token match the armed ORDER, and it is unused. */
  private tokenOk(): boolean {
    const m = this.current;
    if (m?.type !== 'ATTACH' || this.order === undefined || !this.armed) return false;
    // Evaluate the token comparison even when cid/hid differ: no early exit on the secret.
    const tokenMatch = SuccessorEngine.tokenEq(m.token, this.order.token);
    return tokenMatch && this.sameCid(m.cid) && m.hid === this.order.hid;
  }

  /** The REFUSE code of §8.2 for an ATTACH that is not `tokenOk`. */
  private refuseCode(m: AttachMessage): ErrorName {
    if (!this.sameCid(m.cid)) return 'UNKNOWN_CONNECTION';
    if (this.consumed.some((t) => SuccessorEngine.tokenEq(m.token, t))) return 'TOKEN_REPLAYED';
    if (this.order !== undefined && this.copyBroken && m.hid === this.order.hid && SuccessorEngine.tokenEq(m.token, this.order.token)) return 'STREAM_GAP';
    if (this.expired.some((t) => SuccessorEngine.tokenEq(m.token, t))) return 'TOKEN_EXPIRED';
    return 'TOKEN_INVALID';
  }

  /** REFUSE on that C2 and close it; no state change (row S12, §8.3). */
  private refuse(m: AttachMessage, link: string, code: ErrorName): void {
    this.send('C2', { type: 'REFUSE', hid: m.hid, code: ERRORS[code].code }, link);
    this.emit({ kind: 'close', channel: 'C2', link });
  }

  /** The armed token becomes expired (revoked, timed out, disarmed, §8.3). */
  private expire(): void {
    if (this.order !== undefined && this.armed) this.expired.push(this.order.token);
    this.armed = false;
  }

  private sendVerb(a: Action): void {
    switch (a.arg) {
      case 'NEED':
        this.needSent = true;
        this.send('L', { type: 'NEED', cid: this.config.cid, trigger: this.needKind });
        return;
      case 'RELEASE':
        this.send('L', { type: 'RELEASE', cid: this.config.cid });
        return;
      case 'ATTACHED': {
        const attach = this.attach!;
        this.send('C2', { type: 'ATTACHED', hid: attach.hid, recvOffset: attach.sendOffset, sendOffset: this.order!.sendEnd, credits: 0 }, this.boundLink);
        // §6.7: the successor may send on C2 from ATTACHED, from Xo, unless originFin.
        if (this.order!.originFin) {
          this.stream.finSent = this.order!.sendEnd;
          if (this.held.length > 0) this.failWith('CLOSED', 'the origin had sent FIN: writes fail', '9.7');
          this.held = [];
        } else if (this.held.length > 0 || this.heldShutdown) {
          this.flushHeld('C2', this.boundLink);
        }
        return;
      }
      case 'REFUSE': {
        const m = this.current as AttachMessage;
        this.send('C2', { type: 'REFUSE', hid: m.hid, code: ERRORS[(a.code as ErrorName | undefined) ?? this.refuseCode(m)].code }, this.currentLink);
        return;
      }
      case 'ERROR':
        this.send('C2', this.errorFrame(a.code as ErrorName, `successor: ${a.code ?? ''}`), this.boundLink);
        return;
      default:
        throw new RebindError('UNSUPPORTED', `successor cannot send ${a.arg ?? '?'}`, { section: '7.2' });
    }
  }

  private closeVerb(channel: Channel): void {
    // S12 closes the C2 the refused ATTACH came on; the other rows the attached C2.
    const link = this.machine.busy && this.current?.type === 'ATTACH' && this.currentLink !== this.boundLink ? this.currentLink : this.boundLink;
    this.emit(link === undefined ? { kind: 'close', channel } : { kind: 'close', channel, link });
  }

  /** `hold` (S3, S5, S8, S13, S14, S16): a COPY into the copy buffer, a C2 DATA/FIN into the C2 stream. */
  private hold(): boolean {
    const m = this.current;
    if (m?.type === 'COPY') {
      if (this.copy.check(m.offset) === undefined) this.copy.add(m.offset, m.data);
      return true;
    }
    if (m?.type === 'DATA' || m?.type === 'FIN') {
      const c2 = this.c2!;
      const problem = c2.checkIncoming(m.offset, m.type);
      if (problem !== undefined) {
        this.failBound(problem);
        return false;
      }
      if (m.type === 'DATA') c2.receive(m.data);
      else c2.receiveFin(m.offset);
    }
    return true;
  }

  /** `check E` (§6.4): on COPY contiguity, on COPIED the copy's end, on ATTACH the offsets. */
  private check(): boolean {
    const m = this.current;
    let problem: RebindError | undefined;
    if (m?.type === 'COPY') problem = this.copy.check(m.offset);
    else if (m?.type === 'COPIED') {
      problem = this.copy.checkEnd(m.recvEnd);
      if (problem === undefined && this.attach !== undefined && (m.recvEnd !== this.attach.sendOffset || m.peerFin !== this.attach.peerFin)) {
        problem = new RebindError('STREAM_GAP', `COPIED recvEnd=${m.recvEnd}, ATTACH sendOffset=${this.attach.sendOffset}`, { section: '6.4' });
      }
    } else if (m?.type === 'ATTACH') {
      const c = this.copied;
      if (c === undefined || m.sendOffset !== c.recvEnd || m.recvOffset !== this.order!.sendEnd || m.peerFin !== c.peerFin || this.copyBroken) {
        problem = new RebindError('STREAM_GAP', `ATTACH sendOffset=${m.sendOffset} recvOffset=${m.recvOffset}, copy ends at ${c?.recvEnd ?? '?'}, ORDER.sendEnd=${this.order!.sendEnd}`, { section: '6.4' });
      }
    }
    if (problem === undefined) return true;
    if (this.attach !== undefined && m?.type !== 'ATTACH') {
      // After ATTACHED (fast order): ERROR(STREAM_GAP) on C2, close, fail (§6.4).
      this.failBound(new RebindError('STREAM_GAP', problem.message, { section: '6.4' }));
      return false;
    }
    if (m?.type === 'ATTACH') {
      // The real peer's ATTACH, but the offsets do not meet: REFUSE(STREAM_GAP); the token is consumed (§8.3).
      this.attach = undefined;
      this.boundLink = undefined;
      this.c2 = undefined;
      this.refuse(m, this.currentLink, 'STREAM_GAP');
      return false;
    }
    // X5 (§6.5): the copy is broken before ATTACHED: disarm; a later ATTACH is refused with STREAM_GAP.
    this.copyBroken = true;
    this.expire();
    if (m?.type === 'COPIED') return true; // S4/S9 still record that the copy ended
    return false;
  }

  /** `consume token` (§8.2): at once, before ATTACHED; the C2 it came on is now the connection's. */
  private consume(): void {
    const m = this.current as AttachMessage;
    this.consumed.push(this.order!.token);
    this.armed = false;
    this.attach = m;
    this.boundLink = this.currentLink;
    this.c2 = new ByteStream(this.order!.sendEnd, m.sendOffset);
    this.stream.sendOffset = this.order!.sendEnd;
  }

  /** `deliver` (S17, S22, S24): the copy first, then the C2 data, whatever order they arrived in (§6.6). */
  private deliverAll(): void {
    const attach = this.attach!;
    const c2 = this.c2!;
    const start = this.copy.start ?? attach.sendOffset;
    const stream = new ByteStream(this.stream.sendOffset, start);
    for (const chunk of this.copy.chunks) stream.receive(chunk);
    let chunk: Uint8Array | undefined;
    while ((chunk = c2.take()) !== undefined) stream.receive(chunk);
    if (this.copied?.peerFin === true) stream.receiveFin(this.copied.recvEnd);
    if (c2.finReceived !== undefined) stream.receiveFin(c2.finReceived);
    stream.finSent = this.stream.finSent;
    this.ownedStream = stream;
  }

  private ownedStream: ByteStream | undefined;

  /** OWNER (§10.1): from now on an origin whose C1 is this C2 (`switch`). */
  private becomeOwner(): void {
    const stream = this.ownedStream!;
    const hid = this.ownerConfig.hid ?? this.attach!.hid + 2;
    const cfg: EngineConfig = { ...this.config, ...this.ownerConfig, hid };
    this.owner = new OriginEngine(cfg, stream);
    this.owner.streamingReads = this.streamingReads;
    this.emit({ kind: 'switch' });
    const want = this.readWant;
    this.readWant = undefined;
    if (want !== undefined) this.out.push(...this.owner.handle({ kind: 'app-read', max: want }));
    if (this.heldShutdown) this.out.push(...this.owner.handle({ kind: 'app-shutdown' }));
    if (this.closeDeferred) this.out.push(...this.owner.handle({ kind: 'app-close' }));
  }

  /** The error of a handle that was revoked, released or failed. */
  private handleError(): RebindError {
    const s = this.machine.state;
    if (this.error !== undefined) return this.error;
    return new RebindError(s === 'REVOKED' ? 'REVOKED' : 'CLOSED', `successor handle is ${s}`, { section: s === 'REVOKED' ? '9.2' : '9.7' });
  }

  /** Writes before the successor owns are held and sent on C2 after ATTACHED from ORDER.sendEnd (§6.7); T4 on a dormant handle. */
  private appWrite(data: Uint8Array): void {
    const s = this.machine.state;
    if (this.machine.terminal) {
      this.emit({ kind: 'fail', error: this.handleError() });
      return;
    }
    if (s === 'DORMANT') this.trigger(4); // T4 (§2.4)
    if (this.boundLink !== undefined) {
      if (this.order?.originFin === true) {
        this.failWith('CLOSED', 'the origin had sent FIN: the successor may not send', '9.7');
        return;
      }
      this.sendData('C2', data, this.boundLink);
      return;
    }
    this.holdWrite(data);
  }
}
