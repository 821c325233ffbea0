/**
 * The peer's engine (spec §7.3): the far end. On SUSPEND it stops sending on C1 and reports where
 * (SUSPENDED); with the token (REBIND, or SUSPEND(fast)) it connects C2 to the successor and
 * ATTACHes; on ATTACHED with agreeing offsets it commits (REBOUND) and continues on C2 — it is the
 * arbiter (§6.6). Any failure before that aborts (ABORT on C1) and resumes on C1 (§9.2). Driven by
 * the peer table of `spec/tables/states.json` at run time.
 *
 * After the commit the engine emits `switch`: the connection that was C2 is called C1 from then on
 * (§7.3, "C2 is the next handoff's C1").
 *
 * @module
 */
import { RebindError, type ErrorName } from '../errors.js';
import type { AttachMessage, Message } from '../wire/messages.js';
import { Engine } from './engine.js';
import { TableMachine, type Action } from './machine.js';
import type { Channel, EngineConfig, Input } from './types.js';

/** The handoff the peer takes part in. */
interface PeerHandoff {
  readonly hid: number;
  readonly fast: boolean;
  token?: Uint8Array;
  addr?: string;
  /** The ATTACH it sent (or will send once C2 is connected). */
  attach?: AttachMessage;
  /** ATTACH waits for `connected` (§6.2 f). */
  attachPending: boolean;
  /** ATTACHED with agreeing offsets arrived: committed (§6.6). */
  committed: boolean;
}

/** Sans-IO peer engine for one connection (§7.3). */
export class PeerEngine extends Engine {
  protected readonly machine: TableMachine;
  private handoff: PeerHandoff | undefined;
  /** Hids of handoffs that ended here (aborted or committed): their late frames are tolerated (§7.5). */
  private readonly endedHids = new Set<number>();
  private current: Message | undefined;
  /** The message that is being handled arrived on this channel. */
  private currentChannel: Channel = 'C1';
  /** Close requested by the application during a handoff: done when it ends (§9.7). */
  private closeDeferred = false;

  constructor(config: EngineConfig) {
    super(config);
    const sends = new Set(['SUSPENDED', 'ATTACH', 'REBOUND', 'ABORT', 'ERROR']);
    this.machine = new TableMachine({
      role: 'peer',
      emit: (e) => this.emit(e),
      ...(config.timers !== undefined ? { timers: config.timers } : {}),
      canSend: (name) => sends.has(name),
      guards: {
        fast: () => this.current?.type === 'SUSPEND' && this.current.fast,
        offerFast: () => this.config.offerFast ?? this.config.fast === true,
        offsetsOk: () => this.offsetsOk(),
      },
      verbs: {
        ...this.commonVerbs(),
        send: (a) => this.sendVerb(a),
        connect: () => this.emit({ kind: 'connect', addr: this.handoff!.addr! }),
        accept: () => this.acceptIncoming(this.current as never, (e) => this.failConnection('C1', e)),
        resume: () => this.resume(),
        close: (a) => this.emit({ kind: 'close', channel: a.arg as Channel }),
      },
    });
  }

  /** The hid of the handoff under way, if any. */
  get hid(): number | undefined {
    return this.handoff?.hid;
  }

  protected canDeliver(): boolean {
    return true; // the peer's application reads whatever arrived in order (§6.7)
  }

  protected input(input: Input): void {
    switch (input.kind) {
      case 'recv':
        this.current = input.message;
        this.currentChannel = input.channel;
        if (input.channel === 'C1') this.recvC1(input.message);
        else if (input.channel === 'C2') this.recvC2(input.message);
        return;
      case 'timer':
        this.step(`timer ${input.timer}`);
        return;
      case 'lost':
        if (this.machine.terminal || input.channel === 'L') return;
        if (input.channel === 'C2' && this.handoff === undefined) return;
        this.step(`lost ${input.channel}`);
        return;
      case 'connect-failed':
        this.step('connect-failed');
        return;
      case 'malformed':
        // §3.4: on C1 the connection fails with the decoding error (on C2 before the commit it is a lost C2, P14).
        if (this.machine.terminal) return;
        if (input.channel === 'C1') this.failConnection('C1', input.error);
        else if (this.handoff !== undefined) this.step('lost C2');
        return;
      case 'connected':
        if (this.handoff?.attachPending === true) {
          this.handoff.attachPending = false;
          this.send('C2', this.handoff.attach!);
        }
        return;
      case 'app-write':
        this.appWrite(input.data);
        return;
      case 'app-read':
        this.appRead(input.max);
        return;
      case 'app-shutdown':
        if (this.machine.state === 'OPEN') this.sendFin('C1');
        else if (!this.machine.terminal) this.heldShutdown = true;
        return;
      case 'app-close':
        if (this.machine.state === 'OPEN') this.close();
        else if (!this.machine.terminal) this.closeDeferred = true;
        return;
      default:
        return; // triggers: a peer defers its own (§2.4, §9.8); this engine plays only the peer
    }
  }

  private close(): void {
    this.sendFin('C1');
    this.emit({ kind: 'close', channel: 'C1' });
  }

  /** DATA/FIN on C1 in OPEN: the hot path, equal to row P3 (accept, stay OPEN) without the table lookup. */
  private recvC1(message: Message): void {
    const state = this.machine.state;
    if ((message.type === 'DATA' || message.type === 'FIN') && state === 'OPEN') {
      this.acceptIncoming(message, (e) => this.failConnection('C1', e));
      return;
    }
    if (this.machine.terminal) return;
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
      case 'SUSPEND':
        if (state === 'OPEN') {
          // §6.4: in the fast order sendEnd = bytes received from the origin.
          if (message.fast && (this.config.offerFast ?? this.config.fast === true) && message.sendEnd !== this.received()) {
            this.failConnection('C1', new RebindError('STREAM_GAP', `SUSPEND(fast) sendEnd=${message.sendEnd}, received ${this.received()}`, { section: '6.4' }));
            return;
          }
          this.handoff = { hid: message.hid, fast: message.fast, attachPending: false, committed: false, ...(message.fast ? { token: message.token, addr: message.addr } : {}) };
        }
        this.event('recv SUSPEND', 'C1', message);
        if (this.machine.state === 'OPEN' && !this.handoff?.committed) this.handoff = undefined; // P21: CAPABILITY
        return;
      case 'REBIND':
        if (this.endedHids.has(message.hid) && state === 'OPEN') {
          this.event('recv REBIND', 'C1', message); // P23: crossed our ABORT
          return;
        }
        if (state === 'SUSPENDED' && this.handoff !== undefined) {
          if (message.hid !== this.handoff.hid) {
            this.failConnection('C1', new RebindError('HANDOFF_MISMATCH', `REBIND hid=${message.hid}, expected ${this.handoff.hid}`, { section: '2.2' }));
            return;
          }
          if (message.sendEnd !== this.received()) {
            this.failConnection('C1', new RebindError('STREAM_GAP', `REBIND sendEnd=${message.sendEnd}, received ${this.received()}`, { section: '6.4' }));
            return;
          }
          this.handoff.token = message.token;
          this.handoff.addr = message.addr;
        }
        this.event('recv REBIND', 'C1', message);
        return;
      case 'ABORT':
        if (this.handoff === undefined || message.hid !== this.handoff.hid) {
          if (this.endedHids.has(message.hid) || state === 'OPEN') return; // tolerated (§7.5, P4)
        }
        this.event('recv ABORT', 'C1', message);
        return;
      default:
        this.event(`recv ${message.type}`, 'C1', message);
    }
  }

  private recvC2(message: Message): void {
    if (this.machine.terminal || this.handoff === undefined) return; // crossed a close (§7.5)
    if (message.type === 'ATTACHED' && this.handoff.attach !== undefined && message.hid === this.handoff.hid) {
      // Guard offsetsOk decides P11/P19 against P22; record the commit before `resume` runs.
      this.handoff.committed = this.offsetsOk();
    }
    if (message.type === 'CREDIT') return;
    this.event(`recv ${message.type}`, 'C2', message);
  }

  private received(): bigint {
    return this.stream.finReceived ?? this.stream.recvOffset;
  }

  private offsetsOk(): boolean {
    const a = this.handoff?.attach;
    const m = this.current;
    if (a === undefined || m?.type !== 'ATTACHED') return false;
    return m.hid === a.hid && m.recvOffset === a.sendOffset && m.sendOffset === a.recvOffset;
  }

  private event(event: string, channel: Channel, message: Message): void {
    if (this.step(event)) return;
    this.unexpected(channel, message);
  }

  /** §7.5: ERROR(UNEXPECTED_MESSAGE) on that channel, close it, fail. */
  private unexpected(channel: Channel, message: Message): void {
    if (channel === 'L') return;
    this.failConnection(channel, new RebindError('UNEXPECTED_MESSAGE', `peer in ${this.machine.state} received ${message.type} on ${channel}`, { section: '7.5' }));
  }

  private failConnection(channel: Channel, error: RebindError): void {
    if (!this.machine.terminal) {
      this.send(channel, this.errorFrame(error.errorName, error.message));
      this.emit({ kind: 'close', channel });
      if (channel === 'C2') this.emit({ kind: 'close', channel: 'C1' });
      else if (this.handoff?.attach !== undefined) this.emit({ kind: 'close', channel: 'C2' });
    }
    this.error ??= error;
    this.emit({ kind: 'fail', error });
    if (this.machine.state !== 'FAILED') this.machine.finish('FAILED', '7.5');
  }

  private sendVerb(a: Action): void {
    const h = this.handoff;
    const hid = h?.hid ?? 0;
    switch (a.arg) {
      case 'SUSPENDED':
        this.send('C1', { type: 'SUSPENDED', hid, sendEnd: this.stream.sendOffset, recvOffset: this.received() });
        return;
      case 'ATTACH': {
        const attach: AttachMessage = {
          type: 'ATTACH', peerFin: this.stream.finSent !== undefined, cid: this.config.cid, hid, token: h!.token!,
          recvOffset: this.received(), sendOffset: this.stream.sendOffset, credits: 0,
        };
        h!.attach = attach;
        h!.attachPending = true; // goes out on `connected` (§6.2 f: ATTACH is C2's first frame)
        return;
      }
      case 'REBOUND':
        this.send('C1', { type: 'REBOUND', hid });
        return;
      case 'ABORT':
        this.send('C1', { type: 'ABORT', hid, code: this.code(a.code) });
        return;
      case 'ERROR':
        // P22: on C2, the successor's channel; otherwise on the channel the message came from.
        this.send(this.machine.state === 'ATTACHING' ? 'C2' : this.currentChannel, this.errorFrame(a.code as ErrorName, `peer: ${a.code ?? ''}`));
        return;
      default:
        throw new RebindError('UNSUPPORTED', `peer cannot send ${a.arg ?? '?'}`, { section: '7.3' });
    }
  }

  /**
   * `resume`: after an abort the connection continues on C1 from Yp (§9.2); after the commit
   * (P11, P19) on C2, which becomes C1 (`switch`). Held writes go first, then a held FIN/close.
   */
  private resume(): void {
    const h = this.handoff;
    this.handoff = undefined;
    if (h !== undefined) this.endedHids.add(h.hid);
    if (h?.committed === true) this.emit({ kind: 'switch' });
    this.flushHeld('C1');
    if (this.closeDeferred) {
      this.closeDeferred = false;
      this.close();
    }
  }

  /** OPEN/app-write is the hot path (DATA on the current connection); held while suspended or attaching (§6.7). */
  private appWrite(data: Uint8Array): void {
    const s = this.machine.state;
    if (s === 'OPEN') {
      if (this.stream.finSent !== undefined) {
        this.failWith('CLOSED', 'write after shutdown', '9.7');
        return;
      }
      this.sendData('C1', data);
      return;
    }
    if (s === 'FAILED') {
      this.emit({ kind: 'fail', error: this.error ?? new RebindError('CLOSED', 'peer: connection failed', { section: '9.7' }) });
      return;
    }
    this.holdWrite(data);
  }
}
