/**
 * A {@link FrameConnection} over one RC queue pair (spec §11.2): one frame per SEND, receive
 * buffers of `maxPayload + 8` bytes, and the credit scheme of §11.2, kept entirely inside the
 * transport so that the protocol engine is the same as over TCP.
 *
 * - **First frames.** The first frame this end sends (HELLO on C1; ATTACH or ATTACHED on C2) uses
 *   the buffer the other end posted for it and needs no credit. If it is a HELLO, ATTACH or
 *   ATTACHED, this transport writes its own `credits` into it (the engine sends 0, as on TCP):
 *   the number of receive buffers it posted beyond the one for the other end's first frame. The
 *   other end's first frame sets this end's send credits (it must announce at least 3).
 * - **Credits.** Each later frame consumes one credit; DATA waits while fewer than 3 are held,
 *   other frames while fewer than 2 (the last ones are reserved for control frames and CREDIT).
 *   Frames leave in the order they were queued; CREDIT frames are the transport's own and go
 *   ahead of queued frames, needing one credit. DATA frames queued by `sendData` while the sender
 *   waited (for credits or a send slot) leave merged, when their offsets are contiguous, as one
 *   DATA frame of up to 1 MiB within the other end's limit (§4.2: DATA boundaries carry no meaning).
 * - **Receive buffers** are reposted once their frame is delivered (the frame is copied out of
 *   the registered buffer first), so `pause()` withholds credits and slows the sender down. A
 *   reposted buffer is *unannounced* until a CREDIT announces it; CREDIT is sent when §11.2 says it
 *   MUST (the other end holds < 3 credits and a buffer was used by a non-CREDIT frame, or it holds
 *   0), or SHOULD (half of the posted buffers are unannounced), never for buffers used by CREDIT
 *   frames alone while the other end still holds a credit. Received CREDIT frames are consumed
 *   here and not delivered.
 * - **Framing errors.** A receive completion is decoded as exactly one frame: shorter than its
 *   header says is `FRAME_TRUNCATED`, longer is `FRAME_BAD_LENGTH`, then the codec's checks (§3.4).
 *   A frame beyond the credits this end granted is an overrun: `TRANSPORT_FAILED`.
 * - **Lost** (§11.2): DISCONNECTED closes without error after the frames received before it;
 *   a failed completion or device removal closes with `TRANSPORT_FAILED`.
 *
 * @module
 */
import { EventEmitter } from 'node:events';
import { RebindError } from '../../errors.js';
import { FrameType, HEADER_SIZE, MAX_PAYLOAD_DEFAULT, PROTOCOL_VERSION, decodeFrame, encodeFrame, type Message } from '../../wire/index.js';
import { checkMaxPayload } from '../socket.js';
import { checkDataArguments, type FrameConnection, type FrameConnectionEvents } from '../transport.js';
import type { RcEndpoint, RcHandlers, RcOptions } from './rc.js';

const SECTION = '11.2';
/** Header + offset of a DATA frame (§4.2). */
const DATA_PREFIX = HEADER_SIZE + 8;
/** `send` returns false above this many queued bytes; 'drain' follows when they fall below. */
const HIGH_WATER_MARK = 1024 * 1024;
/** The smallest `credits` a first frame may announce (§11.2). */
export const MIN_CREDITS = 3;
/** The first frames that carry `credits` (§4.1, §4.7, §4.8). */
const FIRST_FRAMES = new Set(['HELLO', 'ATTACH', 'ATTACHED']);

/** Options of an {@link RdmaFrameConnection}. */
export interface RdmaConnectionOptions {
  /** This end's payload limit (§3.3): receive buffers are this + 8 bytes. */
  readonly maxPayload: number;
  /** Receive buffers announced in this end's first frame (≥ 3); one more is posted for the other end's first frame. */
  readonly credits: number;
}

/** The buffer sizes of the QP under a connection with these options. */
export function rcOptionsFor(options: RdmaConnectionOptions): RcOptions {
  return { recvCount: options.credits + 1, recvSize: options.maxPayload + HEADER_SIZE, sendCount: options.credits + 1 };
}

/** One frame waiting to be sent: its bytes in one or two pieces (a DATA header and a view of the data). */
interface Outgoing {
  readonly type: FrameType;
  readonly parts: readonly Uint8Array[];
  readonly length: number;
  /** A DATA frame made by `sendData`: its stream offset and data bytes (it may be merged, see {@link RdmaFrameConnection}). */
  readonly offset?: bigint;
  readonly dataLength?: number;
}

/**
 * The largest DATA payload made by merging queued `sendData` frames: fewer, larger SENDs while the
 * sender waits for credits (each SEND costs completions, credits and a pass through the engine at
 * the other end), without growing a send slot beyond 1 MiB of registered memory (the figures are
 * in docs/rdma-lab.md).
 */
const MERGE_LIMIT = 1024 * 1024 - DATA_PREFIX;

/** See the module comment. Made by the RDMA transport (index.ts) around an {@link RcEndpoint}. */
export class RdmaFrameConnection extends EventEmitter<FrameConnectionEvents> implements FrameConnection {
  readonly transport = 'rdma';
  readonly #endpoint: RcEndpoint;
  readonly #maxPayload: number;
  readonly #credits: number;
  #peerMaxPayload = MAX_PAYLOAD_DEFAULT;

  // Sending (§11.2 credits).
  #queue: Outgoing[] = [];
  #queueHead = 0;
  #queuedBytes = 0;
  #corked = 0;
  #pumping = false;
  #needDrain = false;
  /** A first frame has been queued (its credits field is ours). */
  #firstQueued = false;
  #sentFirst = false;
  /** Frames this end may still send into the other end's buffers. */
  #sendCredits = 0;
  #creditFramesSent = 0;
  #creditFramesReceived = 0;

  // Receiving.
  #receivedFirst = false;
  /** Frames the other end may still send into this end's buffers (granted minus received). */
  #peerCredits: number;
  /** Reposted buffers not yet announced by a CREDIT, and whether one was used by a non-CREDIT frame. */
  #unannounced = 0;
  #unannouncedByFrames = false;
  #pending: { message: Message; index: number }[] = [];
  #pendingHead = 0;
  #paused = false;
  /** Frames are held until the connection has been handed to its user (see {@link activate}). */
  #held = true;
  #delivering = false;

  // Closing.
  #userClosed = false;
  #ending = false;
  #discard = false;
  #transportClosed = false;
  #closeEmitted = false;
  #closeError: RebindError | undefined;
  #endWaiters: (() => void)[] = [];

  constructor(endpoint: RcEndpoint, options: RdmaConnectionOptions) {
    super();
    this.#endpoint = endpoint;
    this.#maxPayload = options.maxPayload;
    this.#credits = options.credits;
    this.#peerCredits = options.credits;
  }

  /** The endpoint's callbacks (rc.ts). */
  get handlers(): RcHandlers {
    return {
      onReceive: (index, length) => this.#onReceive(index, length),
      onSendComplete: () => this.#pump(),
      onClose: (error) => this.#onTransportClose(error),
    };
  }

  /** Starts delivering frames (called once the user holds the connection and has its listeners). */
  activate(): void {
    this.#held = false;
    this.#deliver();
  }

  get localAddress(): string {
    return this.#endpoint.localAddress;
  }

  get remoteAddress(): string {
    return this.#endpoint.remoteAddress;
  }

  get closed(): boolean {
    return this.#userClosed || this.#transportClosed || this.#closeEmitted;
  }

  get bufferedAmount(): number {
    return this.#queuedBytes;
  }

  get peerMaxPayload(): number {
    return this.#peerMaxPayload;
  }

  setPeerMaxPayload(bytes: number): void {
    this.#peerMaxPayload = checkMaxPayload(bytes, 'peerMaxPayload');
  }

  /** Credit bookkeeping (§11.2), for tests and diagnostics. */
  get creditState(): { sendCredits: number; peerCredits: number; unannounced: number; creditFramesSent: number; creditFramesReceived: number } {
    return {
      sendCredits: this.#sendCredits,
      peerCredits: this.#peerCredits,
      unannounced: this.#unannounced,
      creditFramesSent: this.#creditFramesSent,
      creditFramesReceived: this.#creditFramesReceived,
    };
  }

  setKeepAlive(keep: boolean): void {
    this.#endpoint.setKeepAlive(keep);
  }

  // -------------------------------------------------------------------------------------------
  // Sending.

  send(message: Message): boolean {
    this.#checkOpen();
    if (message?.type === 'CREDIT') {
      throw new RebindError('INVALID_ARGUMENT', 'CREDIT frames are the RDMA transport’s own (§11.2); the engine does not send them', { section: SECTION });
    }
    let outgoing: Message = message;
    if (!this.#firstQueued) {
      this.#firstQueued = true;
      // §11.2: the first frame announces the buffers this end posted for the other end's frames.
      if (FIRST_FRAMES.has(message.type)) outgoing = { ...message, credits: this.#credits } as Message;
    }
    const frame = encodeFrame(outgoing, { maxPayload: this.#peerMaxPayload });
    if (this.#transportClosed) return false; // lost; 'close' is on its way
    return this.#enqueue({ type: frame[1] as FrameType, parts: [frame], length: frame.length });
  }

  sendData(offset: bigint, data: Uint8Array): boolean {
    this.#checkOpen();
    checkDataArguments(offset, data);
    if (this.#transportClosed) return false;
    this.#firstQueued = true;
    // §11.2 "Large writes": DATA frames of at most maxPayload − 8 data bytes, copied into a send slot when posted.
    const piece = this.#peerMaxPayload - 8;
    let ok = true;
    this.#corked++;
    try {
      for (let pos = 0; pos < data.length; pos += piece) {
        const n = Math.min(piece, data.length - pos);
        const header = new Uint8Array(DATA_PREFIX);
        const view = new DataView(header.buffer);
        header[0] = PROTOCOL_VERSION; // §3.1
        header[1] = FrameType.DATA;
        view.setUint32(4, 8 + n);
        view.setBigUint64(HEADER_SIZE, offset + BigInt(pos)); // §4.2
        ok = this.#enqueue({ type: FrameType.DATA, parts: [header, data.subarray(pos, pos + n)], length: DATA_PREFIX + n, offset: offset + BigInt(pos), dataLength: n });
      }
    } finally {
      this.#corked--;
    }
    this.#pump();
    return ok;
  }

  cork(): void {
    this.#corked++;
  }

  uncork(): void {
    if (this.#corked > 0) this.#corked--;
    this.#pump();
  }

  #checkOpen(): void {
    if (this.#userClosed || this.#closeEmitted) {
      throw new RebindError('CLOSED', 'the rdma connection is closed', { section: SECTION });
    }
  }

  #enqueue(outgoing: Outgoing): boolean {
    this.#queue.push(outgoing);
    this.#queuedBytes += outgoing.length;
    this.#pump();
    const ok = this.#queuedBytes < HIGH_WATER_MARK;
    if (!ok) this.#needDrain = true;
    return ok;
  }

  /** The credits this end writes into its first frame (§11.2); traces show them (§13.1). */
  get firstFrameCredits(): number {
    return this.#credits;
  }

  /** Sends what credits and send slots allow: CREDIT first, then queued frames in order (§11.2). */
  #pump(): void {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (this.#endpoint.state === 'established') {
        if (this.#creditDue()) {
          if (!this.#sendCredit()) break;
          continue;
        }
        if (this.#corked > 0) break;
        const head = this.#queue[this.#queueHead];
        if (head === undefined) break;
        // §11.2 reservations: DATA needs 3 credits, other frames 2; the first frame needs none.
        if (this.#sentFirst && this.#sendCredits < (head.type === FrameType.DATA ? 3 : 2)) break;
        const { frame, count, length } = this.#merged(head);
        if (!this.#transmit(frame)) break;
        for (let i = 0; i < count; i++) this.#queue[this.#queueHead++] = undefined as unknown as Outgoing;
        this.#queuedBytes -= length;
        if (this.#queueHead === this.#queue.length) {
          this.#queue = [];
          this.#queueHead = 0;
        }
      }
    } finally {
      this.#pumping = false;
    }
    if (this.#needDrain && this.#queuedBytes < HIGH_WATER_MARK && !this.#transportClosed) {
      this.#needDrain = false;
      this.emit('drain');
    }
    // end(): everything queued has been sent and acknowledged by the other HCA.
    if (this.#ending && this.#queuedBytes === 0 && this.#endpoint.sendsInFlight === 0 && this.#endpoint.state === 'established') {
      this.#endpoint.disconnect();
    }
  }

  /**
   * The frame to send for queue head `head`: itself, or — for a `sendData` frame followed in the
   * queue by more `sendData` frames at contiguous offsets — one DATA frame carrying them all (up to
   * {@link MERGE_LIMIT} and the other end's limit, §3.3): DATA boundaries carry no meaning (§4.2),
   * and a frame that waited for credits is sent with what queued behind it. `count` queue entries
   * of `length` queued bytes are consumed.
   */
  #merged(head: Outgoing): { frame: Outgoing; count: number; length: number } {
    if (head.offset === undefined || head.dataLength === undefined) return { frame: head, count: 1, length: head.length };
    const limit = Math.min(MERGE_LIMIT, this.#peerMaxPayload - 8);
    let total = head.dataLength;
    let length = head.length;
    let end = this.#queueHead + 1;
    for (; end < this.#queue.length; end++) {
      const next = this.#queue[end] as Outgoing;
      if (next.dataLength === undefined || next.offset !== head.offset + BigInt(total) || total + next.dataLength > limit) break;
      total += next.dataLength;
      length += next.length;
    }
    const count = end - this.#queueHead;
    if (count === 1) return { frame: head, count, length };
    const header = new Uint8Array(DATA_PREFIX);
    const view = new DataView(header.buffer);
    header[0] = PROTOCOL_VERSION; // §3.1
    header[1] = FrameType.DATA;
    view.setUint32(4, 8 + total);
    view.setBigUint64(HEADER_SIZE, head.offset); // §4.2
    const parts: Uint8Array[] = [header];
    for (let i = this.#queueHead; i < end; i++) parts.push(...(this.#queue[i] as Outgoing).parts.slice(1));
    return { frame: { type: FrameType.DATA, parts, length: DATA_PREFIX + total }, count, length };
  }

  /** Copies a frame into a free send slot and posts it; false when no slot is free. */
  #transmit(frame: Outgoing): boolean {
    const slot = this.#endpoint.acquireSendSlot(frame.length);
    if (slot === undefined) return false;
    const buffer = this.#endpoint.sendBuffer(slot);
    let at = 0;
    for (const part of frame.parts) {
      buffer.set(part, at);
      at += part.length;
    }
    this.#endpoint.postSend(slot, frame.length);
    if (this.#sentFirst) this.#sendCredits--;
    else this.#sentFirst = true;
    return true;
  }

  /** Whether §11.2 asks for a CREDIT now (and one can be sent). */
  #creditDue(): boolean {
    if (!this.#sentFirst || this.#unannounced === 0 || this.#sendCredits < 1) return false;
    // MUST NOT: only buffers used by CREDIT frames, while the other end still holds a credit.
    if (!this.#unannouncedByFrames && this.#peerCredits >= 1) return false;
    const must = (this.#peerCredits < 3 && this.#unannouncedByFrames) || this.#peerCredits === 0;
    const should = this.#unannounced * 2 >= this.#credits + 1;
    return must || should;
  }

  #sendCredit(): boolean {
    const frame = encodeFrame({ type: 'CREDIT', credits: this.#unannounced });
    if (!this.#transmit({ type: FrameType.CREDIT, parts: [frame], length: frame.length })) return false;
    this.#peerCredits += this.#unannounced;
    this.#creditFramesSent++;
    this.#unannounced = 0;
    this.#unannouncedByFrames = false;
    return true;
  }

  // -------------------------------------------------------------------------------------------
  // Receiving.

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    this.#paused = false;
    this.#deliver();
  }

  #onReceive(index: number, length: number): void {
    if (this.#closeEmitted || this.#discard) return;
    let message: Message;
    try {
      // One completion is exactly one frame (§11.2); copied out so the buffer can be reposted.
      message = decodeFrame(this.#endpoint.recvBuffer(index).slice(0, length), { maxPayload: this.#maxPayload, channel: 'wire' });
    } catch (error) {
      this.#fail(error as RebindError);
      return;
    }
    if (!this.#receivedFirst) {
      this.#receivedFirst = true;
      if (FIRST_FRAMES.has(message.type)) {
        const credits = (message as { credits: number }).credits;
        if (credits < MIN_CREDITS) {
          this.#fail(new RebindError('FRAME_BAD_FIELD', `${message.type} announces ${credits} credits; RDMA needs at least ${MIN_CREDITS}`, { section: SECTION, detail: { type: message.type, credits } }));
          return;
        }
        this.#sendCredits += credits;
      }
    } else if (--this.#peerCredits < 0) {
      this.#fail(new RebindError('TRANSPORT_FAILED', 'the other end sent a frame without a credit: receive buffers overrun', { section: SECTION, detail: { type: message.type } }));
      return;
    }
    if (message.type === 'CREDIT') {
      this.#sendCredits += message.credits;
      this.#creditFramesReceived++;
      this.#repost(index, false);
      return;
    }
    this.#pending.push({ message, index });
    this.#deliver();
    // The other end's credits just dropped: a CREDIT may now be due (§11.2 MUST), even while paused.
    this.#pump();
  }

  /** Reposts a receive buffer; it is unannounced until the next CREDIT. */
  #repost(index: number, byFrame: boolean): void {
    this.#endpoint.postRecv(index);
    this.#unannounced++;
    if (byFrame) this.#unannouncedByFrames = true;
    this.#pump();
  }

  /** Delivers received frames until paused; emits 'close' once the transport is gone and they are all out. */
  #deliver(): void {
    if (this.#delivering) return;
    this.#delivering = true;
    try {
      while (!this.#paused && !this.#held && !this.#discard && this.#pendingHead < this.#pending.length) {
        const { message, index } = this.#pending[this.#pendingHead++] as { message: Message; index: number };
        if (!this.#transportClosed) this.#repost(index, true);
        this.emit('frame', message);
      }
    } finally {
      this.#delivering = false;
      if (this.#pendingHead === this.#pending.length) {
        this.#pending = [];
        this.#pendingHead = 0;
      }
    }
    if (this.#transportClosed && !this.#held && this.#pending.length === 0) this.#emitClose();
  }

  // -------------------------------------------------------------------------------------------
  // Closing.

  #fail(error: RebindError): void {
    this.#closeError ??= error;
    this.#endpoint.destroy(error);
  }

  #onTransportClose(error: RebindError | undefined): void {
    this.#transportClosed = true;
    if (error !== undefined) this.#closeError ??= error;
    this.#queue = [];
    this.#queueHead = 0;
    this.#queuedBytes = 0;
    if (this.#discard || this.#pending.length === 0) {
      if (!this.#held || this.#discard) this.#emitClose();
    } else this.#deliver();
  }

  #emitClose(): void {
    if (this.#closeEmitted) return;
    this.#closeEmitted = true;
    this.#pending = [];
    this.#pendingHead = 0;
    const error = this.#closeError;
    if (error === undefined) this.emit('close');
    else this.emit('close', error);
    for (const resolve of this.#endWaiters.splice(0)) resolve();
  }

  end(): Promise<void> {
    if (this.#closeEmitted) return Promise.resolve();
    this.#userClosed = true;
    this.#ending = true;
    this.#corked = 0;
    return new Promise((resolve) => {
      this.#endWaiters.push(resolve);
      // Graceful: queued frames are sent and acknowledged, then rdma_disconnect; 'close' follows DISCONNECTED.
      this.#pump();
      if (this.#transportClosed && this.#pending.length === 0) this.#emitClose();
    });
  }

  destroy(error?: RebindError): void {
    if (this.#closeEmitted) return;
    this.#userClosed = true;
    this.#discard = true;
    if (error !== undefined) this.#closeError ??= error;
    if (this.#transportClosed) this.#emitClose();
    else this.#endpoint.destroy(error); // → onClose → 'close'
  }
}
