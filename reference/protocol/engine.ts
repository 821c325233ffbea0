/**
 * What the three role engines share: the effect queue, the byte stream (§6.4), the application's
 * pending read and held writes (§6.7), and the verbs every role implements the same way.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { ERRORS, RebindError, type ErrorName } from '../errors.js';
import { HEADER, type Role } from '../tables.js';
import type { DataMessage, ErrorMessage, FinMessage, Message } from '../wire/messages.js';
import { TableMachine, type Action, type Verb } from './machine.js';
import { ByteStream } from './stream.js';
import type { Channel, Effect, EngineConfig, Input } from './types.js';

/** DATA header overhead: frame header (8) + offset (8) (§4.2). */
const DATA_OVERHEAD = HEADER.size + 8;

/** Base of {@link OriginEngine}, {@link SuccessorEngine} and {@link PeerEngine}. */
export abstract class Engine {
  readonly stream: ByteStream;
  protected readonly config: EngineConfig;
  protected readonly maxPayload: number;
  protected readonly newToken: () => Uint8Array;
  protected out: Effect[] = [];
  /** The application's outstanding read: its `max`, or undefined when none is pending. */
  protected readWant: number | undefined;
  /**
   * Streaming reads (the host's stream is flowing): a read that a DATA served directly stays armed
   * for the next DATA, so a host need not feed an `app-read` after every delivery; it calls
   * {@link pauseReads} when the application's buffer is full. Off by default (one read, one delivery).
   */
  streamingReads = false;

  /** Whether a read is pending (the next DATA may be delivered at once). */
  get readArmed(): boolean {
    return this.readWant !== undefined;
  }

  /** The application's buffer is full: no delivery until its next `app-read`. */
  pauseReads(): void {
    this.readWant = undefined;
  }
  /** Application writes held while this end may not send (§6.7), and a held shutdown (§9.7). */
  protected held: Uint8Array[] = [];
  protected heldShutdown = false;
  /** `end` was given to the application. */
  protected ended = false;
  /** The error the connection failed with on this role. */
  error: RebindError | undefined;
  protected abstract readonly machine: TableMachine;

  protected constructor(config: EngineConfig, stream?: ByteStream) {
    if (config.cid.length !== 16 || config.cid.every((b) => b === 0)) {
      throw new RebindError('INVALID_ARGUMENT', 'cid must be 16 bytes, not all zero', { section: '2.2' });
    }
    this.config = config;
    this.stream = stream ?? new ByteStream(config.offsets?.send ?? 0n, config.offsets?.recv ?? 0n);
    this.maxPayload = config.maxPayload ?? HEADER.maxPayloadDefault - DATA_OVERHEAD;
    if (!(this.maxPayload >= 1)) throw new RebindError('INVALID_ARGUMENT', `maxPayload must be >= 1 (got ${this.maxPayload})`, { section: '3.3' });
    this.newToken = config.token ?? (() => randomBytes(16));
  }

  /** The current state of this role's table (§7). */
  get state(): string {
    return this.machine.state;
  }

  /** Application writes are held (this end may not send now, §6.7): the host withholds the write callback. */
  get holding(): boolean {
    return this.held.length > 0 || this.heldShutdown;
  }

  /** Whether this role's table is in a terminal state (§7). */
  get terminal(): boolean {
    return this.machine.terminal;
  }

  /** The role of this engine. */
  get role(): Role {
    return this.machine.role;
  }

  /** Feeds one input; returns the effects, in order. */
  handle(input: Input): Effect[] {
    this.out = [];
    this.input(input);
    return this.out;
  }

  protected abstract input(input: Input): void;

  protected emit(effect: Effect): void {
    this.out.push(effect);
  }

  protected send(channel: Channel, message: Message, link?: string): void {
    this.out.push(link === undefined ? { kind: 'send', channel, message } : { kind: 'send', channel, message, link });
  }

  /** Runs a table event; returns whether a row applied. */
  protected step(event: string): boolean {
    return this.machine.step(event) !== undefined;
  }

  /** `fail CODE`: the connection fails on this role with a typed error (§12). */
  protected failWith(name: ErrorName, message: string, section?: string): void {
    const error = new RebindError(name, `${this.role}: ${message}`, section === undefined ? {} : { section });
    this.error ??= error;
    this.emit({ kind: 'fail', error });
  }

  protected errorFrame(name: ErrorName, reason = ''): ErrorMessage {
    return { type: 'ERROR', code: ERRORS[name].code, reason };
  }

  protected code(name: string | undefined): number {
    if (name === undefined || !Object.prototype.hasOwnProperty.call(ERRORS, name)) {
      throw new RebindError('UNSUPPORTED', `no error code "${String(name)}"`, { section: '12' });
    }
    return ERRORS[name as ErrorName].code;
  }

  /** Sends application bytes as DATA from the send offset (§4.2); never copies them. */
  protected sendData(channel: Channel, data: Uint8Array, link?: string): void {
    if (data.length === 0) return;
    for (const frame of this.stream.frames(data, this.maxPayload)) this.send(channel, frame, link);
  }

  /** Sends FIN at the send offset (§4.3, §9.7). */
  protected sendFin(channel: Channel, link?: string): void {
    if (this.stream.finSent !== undefined) return;
    this.stream.finSent = this.stream.sendOffset;
    const fin: FinMessage = { type: 'FIN', offset: this.stream.sendOffset };
    this.send(channel, fin, link);
  }

  /** Sends the held writes, then a held shutdown, on `channel`; tells the application it may write. */
  protected flushHeld(channel: Channel, link?: string): void {
    const held = this.held;
    this.held = [];
    for (const data of held) this.sendData(channel, data, link);
    if (this.heldShutdown) {
      this.heldShutdown = false;
      this.sendFin(channel, link);
    }
    this.emit({ kind: 'writable' });
  }

  /** A write while this end may not send: held (§6.7). A write after FIN is CLOSED (§9.7). */
  protected holdWrite(data: Uint8Array): void {
    if (this.stream.finSent !== undefined || this.heldShutdown) {
      this.failWith('CLOSED', 'write after shutdown', '9.7');
      return;
    }
    if (data.length > 0) this.held.push(data);
  }

  /** Whether the application may be given received bytes now. */
  protected abstract canDeliver(): boolean;

  /** Serves a pending read from the unread bytes, or ends the stream at the peer's FIN. */
  protected pumpReads(): void {
    if (this.readWant === undefined || !this.canDeliver()) return;
    const data = this.stream.take(this.readWant);
    if (data !== undefined) {
      this.readWant = undefined;
      this.emit({ kind: 'deliver', data });
      return;
    }
    if (this.stream.finReceived !== undefined && this.stream.unreadBytes === 0n) this.end();
  }

  /** The application's read side ends (FIN, or the handle was rebound). */
  protected end(): void {
    if (this.ended) return;
    this.ended = true;
    this.readWant = undefined;
    this.emit({ kind: 'end' });
  }

  protected appRead(max: number | undefined): void {
    if (this.ended) {
      this.emit({ kind: 'end' });
      return;
    }
    this.readWant = max ?? Number.POSITIVE_INFINITY;
    this.pumpReads();
  }

  /**
   * `accept` (rows O5, O8, P3, P6...): a DATA or FIN in order (§6.4). A DATA that meets a pending
   * read is delivered as is (no copy); otherwise it waits as unread. Returns false (the row stops)
   * after an OFFSET_MISMATCH, which `onFailure` turns into ERROR, close and fail (§6.4, §7.5).
   */
  protected acceptIncoming(message: DataMessage | FinMessage, onFailure: (e: RebindError) => void): boolean {
    const problem = this.stream.checkIncoming(message.offset, message.type === 'DATA' ? 'DATA' : 'FIN');
    if (problem !== undefined) {
      onFailure(problem);
      return false;
    }
    if (message.type === 'FIN') {
      this.stream.receiveFin(message.offset);
      this.pumpReads();
      return true;
    }
    const { data } = message;
    if (this.readWant !== undefined && this.canDeliver() && this.stream.unreadBytes === 0n && data.length <= this.readWant) {
      this.stream.receiveRead(data.length);
      if (!this.streamingReads) this.readWant = undefined;
      this.emit({ kind: 'deliver', data });
    } else {
      this.stream.receive(data);
      this.pumpReads();
    }
    return true;
  }

  /** The verbs whose meaning is the same for every role (§7 "Actions"). */
  protected commonVerbs(): Record<string, Verb> {
    return {
      start: (a: Action) => this.machine.startTimer(a.arg ?? ''),
      stop: (a: Action) => this.machine.stopTimer(a.arg ?? ''),
      fail: (a: Action) => this.failWith(a.arg as ErrorName, `connection failed: ${a.arg ?? ''} (row action "${a.text}")`),
    };
  }
}
