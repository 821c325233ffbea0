/**
 * Byte-stream accounting of one connection end (spec §6.4): the two directions are numbered from
 * 0 at C1 establishment and keep counting across every rebind. This class keeps the next send
 * offset, the next expected receive offset, how far the application has read (R of §6.4), and the
 * received-but-unread bytes the origin's copy takes from (§6.5). It never copies payload bytes:
 * received chunks are kept as the views the host passed in and handed out as (sub)views.
 *
 * @module
 */
import { RebindError } from '../errors.js';
import type { DataMessage } from '../wire/messages.js';

/** The receive and send side of one end's byte stream. */
export class ByteStream {
  /** Offset of the next byte this end sends (§6.4: Xo / Yp when sending stops). */
  sendOffset: bigint;
  /** Offset of the next byte expected from the other end (= bytes received). */
  recvOffset: bigint;
  /** How far the application has read (R, §6.4); `recvOffset − readOffset` bytes are unread. */
  readOffset: bigint;
  /** Where this end's FIN was sent, if it was (§4.3, §9.7). */
  finSent: bigint | undefined;
  /** Where the other end's FIN arrived, if it did. */
  finReceived: bigint | undefined;
  /** Unread received bytes, oldest first, covering [readOffset, recvOffset). */
  private readonly unread: Uint8Array[] = [];

  constructor(send = 0n, recv = 0n) {
    this.sendOffset = send;
    this.recvOffset = recv;
    this.readOffset = recv;
  }

  /** Bytes received and not yet read. */
  get unreadBytes(): bigint {
    return this.recvOffset - this.readOffset;
  }

  /**
   * The §6.4 check for an incoming DATA (or FIN): its offset must equal the bytes of that direction
   * received so far, and nothing may follow a FIN. Returns the error, or undefined when it fits.
   */
  checkIncoming(offset: bigint, what: 'DATA' | 'FIN' | 'COPY'): RebindError | undefined {
    if (this.finReceived !== undefined) {
      return new RebindError('OFFSET_MISMATCH', `${what} at offset ${offset} after FIN at ${this.finReceived}`, { section: '6.4', detail: { offset, expected: this.recvOffset } });
    }
    if (offset !== this.recvOffset) {
      return new RebindError('OFFSET_MISMATCH', `${what} at offset ${offset}, expected ${this.recvOffset}`, { section: '6.4', detail: { offset, expected: this.recvOffset } });
    }
    return undefined;
  }

  /** Keeps received bytes as unread (after {@link checkIncoming}); no copy. */
  receive(data: Uint8Array): void {
    if (data.length === 0) return;
    this.unread.push(data);
    this.recvOffset += BigInt(data.length);
  }

  /** Marks the bytes of a DATA as received and read at once (the hot path: delivered directly). */
  receiveRead(length: number): void {
    this.recvOffset += BigInt(length);
    this.readOffset = this.recvOffset;
  }

  /**
   * Gives back bytes the application was handed but did not consume (a Node stream's read buffer
   * at close or handoff): they count as unread again, so the copy (§6.5) carries them.
   */
  unshift(data: Uint8Array): void {
    if (data.length === 0) return;
    const length = BigInt(data.length);
    if (length > this.readOffset) throw new RebindError('INVALID_ARGUMENT', 'cannot give back more bytes than were read', { section: '6.5' });
    this.unread.unshift(data);
    this.readOffset -= length;
  }

  /** The other end's FIN at `offset` (checked by {@link checkIncoming}). */
  receiveFin(offset: bigint): void {
    this.finReceived = offset;
  }

  /** Takes up to `max` unread bytes for the application (a view when possible). */
  take(max: number = Number.POSITIVE_INFINITY): Uint8Array | undefined {
    const first = this.unread[0];
    if (first === undefined || max <= 0) return undefined;
    let out: Uint8Array;
    if (first.length <= max) {
      // Whole chunks: one view when there is only one, else join as many as fit.
      if (this.unread.length === 1 || first.length === max) {
        out = first;
        this.unread.shift();
      } else {
        let total = 0;
        let n = 0;
        while (n < this.unread.length && total + this.unread[n]!.length <= max) total += this.unread[n++]!.length;
        out = new Uint8Array(total);
        let at = 0;
        for (const chunk of this.unread.splice(0, n)) {
          out.set(chunk, at);
          at += chunk.length;
        }
      }
    } else {
      out = first.subarray(0, max);
      this.unread[0] = first.subarray(max);
    }
    this.readOffset += BigInt(out.length);
    return out;
  }

  /**
   * The unread bytes [readOffset, recvOffset) as frames of at most `max` bytes each, for COPY
   * (§6.5): small received chunks are joined, a chunk that fills a frame alone is a view.
   */
  unreadChunks(max: number): Array<{ offset: bigint; data: Uint8Array }> {
    const out: Array<{ offset: bigint; data: Uint8Array }> = [];
    let offset = this.readOffset;
    let parts: Uint8Array[] = [];
    let size = 0;
    const flush = (): void => {
      if (size === 0) return;
      const data = parts.length === 1 ? parts[0]! : joinBytes(parts, size);
      out.push({ offset, data });
      offset += BigInt(size);
      parts = [];
      size = 0;
    };
    for (const chunk of this.unread) {
      let at = 0;
      while (at < chunk.length) {
        const n = Math.min(chunk.length - at, max - size);
        parts.push(at === 0 && n === chunk.length ? chunk : chunk.subarray(at, at + n));
        size += n;
        at += n;
        if (size === max) flush();
      }
    }
    flush();
    return out;
  }

  /** DATA frames for `data` from the send offset, each at most `max` bytes (views), advancing it. */
  frames(data: Uint8Array, max: number): DataMessage[] {
    const out: DataMessage[] = [];
    if (data.length <= max) {
      out.push({ type: 'DATA', offset: this.sendOffset, data });
      this.sendOffset += BigInt(data.length);
      return out;
    }
    for (let at = 0; at < data.length; at += max) {
      const part = data.subarray(at, Math.min(data.length, at + max));
      out.push({ type: 'DATA', offset: this.sendOffset, data: part });
      this.sendOffset += BigInt(part.length);
    }
    return out;
  }
}

/** Contiguity of the copy at the successor (§6.4 invariant 4, §6.5): COPY frames held by offset. */
export class CopyBuffer {
  /** Offset of the first copied byte (R), once known. */
  start: bigint | undefined;
  /** Offset after the last copied byte. */
  end: bigint | undefined;
  readonly chunks: Uint8Array[] = [];

  /** OFFSET_MISMATCH unless `offset` continues the copy (§6.4). */
  check(offset: bigint): RebindError | undefined {
    if (this.end !== undefined && offset !== this.end) {
      return new RebindError('OFFSET_MISMATCH', `COPY at offset ${offset}, expected ${this.end}`, { section: '6.5', detail: { offset, expected: this.end } });
    }
    return undefined;
  }

  add(offset: bigint, data: Uint8Array): void {
    if (this.start === undefined) this.start = offset;
    this.end = offset + BigInt(data.length);
    this.chunks.push(data);
  }

  /** STREAM_GAP unless the copy ends at `recvEnd` (an empty copy ends anywhere, §6.5). */
  checkEnd(recvEnd: bigint): RebindError | undefined {
    if (this.end !== undefined && this.end !== recvEnd) {
      return new RebindError('STREAM_GAP', `the copy ends at ${this.end}, COPIED.recvEnd is ${recvEnd}`, { section: '6.4', detail: { end: this.end, recvEnd } });
    }
    return undefined;
  }
}

/** Joins byte arrays into one of `size` bytes. */
function joinBytes(parts: readonly Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
