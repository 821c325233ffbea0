/**
 * A deliberately naive second codec (in the spirit of js-libp2p-yamux's codec.spec.ts): every
 * layout of design notes §3 written out by hand, byte by byte, with no table and no cleverness.
 * Tests and the fuzzer cross-check reference/wire/codec.ts against it. It shares nothing with the
 * real codec but the message types.
 */
import type { Message } from '../../../reference/wire/messages.js';

type FrameErrorName =
  | 'FRAME_TRUNCATED'
  | 'FRAME_TOO_LARGE'
  | 'FRAME_UNKNOWN_TYPE'
  | 'FRAME_BAD_VERSION'
  | 'FRAME_BAD_LENGTH'
  | 'FRAME_BAD_FLAGS'
  | 'FRAME_BAD_FIELD';

// ---- encoding: arrays of numbers, one push per byte

function u8(n: number): number[] {
  return [n & 0xff];
}
function u16(n: number): number[] {
  return [(n >> 8) & 0xff, n & 0xff];
}
function u32(n: number): number[] {
  return [Math.floor(n / 0x1000000) & 0xff, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];
}
function u64(n: bigint): number[] {
  const out: number[] = [];
  for (let shift = 56n; shift >= 0n; shift -= 8n) out.push(Number((n >> shift) & 0xffn));
  return out;
}
function raw(b: Uint8Array): number[] {
  return Array.from(b);
}
function text(s: string): number[] {
  const b = Array.from(new TextEncoder().encode(s));
  return [...u16(b.length), ...b];
}

function frame(type: number, flags: number, payload: number[]): Uint8Array {
  return new Uint8Array([1, type, ...u16(flags), ...u32(payload.length), ...payload]);
}

/** Encodes a valid message, by hand. */
export function naiveEncode(m: Message): Uint8Array {
  switch (m.type) {
    case 'HELLO':
      return frame(0x01, (m.fast ? 1 : 0) | (m.acceptor ? 2 : 0), [...raw(m.cid), ...u32(m.maxPayload), ...u32(m.credits)]);
    case 'DATA':
      return frame(0x02, 0, [...u64(m.offset), ...raw(m.data)]);
    case 'FIN':
      return frame(0x03, 0, u64(m.offset));
    case 'SUSPEND':
      if (m.fast) return frame(0x04, 1, [...u32(m.hid), ...u64(m.sendEnd), ...raw(m.token), ...text(m.addr)]);
      return frame(0x04, 0, u32(m.hid));
    case 'SUSPENDED':
      return frame(0x05, 0, [...u32(m.hid), ...u64(m.sendEnd), ...u64(m.recvOffset)]);
    case 'REBIND':
      return frame(0x06, 0, [...u32(m.hid), ...u64(m.sendEnd), ...raw(m.token), ...text(m.addr)]);
    case 'ATTACH':
      return frame(0x07, m.peerFin ? 1 : 0, [...raw(m.cid), ...u32(m.hid), ...raw(m.token), ...u64(m.recvOffset), ...u64(m.sendOffset), ...u32(m.credits)]);
    case 'ATTACHED':
      return frame(0x08, 0, [...u32(m.hid), ...u64(m.recvOffset), ...u64(m.sendOffset), ...u32(m.credits)]);
    case 'REBOUND':
      return frame(0x09, 0, u32(m.hid));
    case 'ABORT':
      return frame(0x0a, 0, [...u32(m.hid), ...u16(m.code)]);
    case 'REFUSE':
      return frame(0x0b, 0, [...u32(m.hid), ...u16(m.code)]);
    case 'ERROR':
      return frame(0x0c, 0, [...u16(m.code), ...text(m.reason)]);
    case 'CREDIT':
      return frame(0x0d, 0, u32(m.credits));
    case 'JOIN':
      return frame(0x41, 0, [...u32(m.pid), ...text(m.addr)]);
    case 'NEED':
      return frame(0x42, 0, [...raw(m.cid), ...u8(m.trigger)]);
    case 'ORDER':
      return frame(0x43, (m.fast ? 1 : 0) | (m.originFin ? 2 : 0), [...raw(m.cid), ...u32(m.hid), ...raw(m.token), ...u64(m.sendEnd)]);
    case 'COPY':
      return frame(0x44, 0, [...raw(m.cid), ...u32(m.hid), ...u64(m.offset), ...raw(m.data)]);
    case 'COPIED':
      return frame(0x45, m.peerFin ? 1 : 0, [...raw(m.cid), ...u32(m.hid), ...u64(m.recvEnd)]);
    case 'COMMIT':
      return frame(0x46, 0, [...raw(m.cid), ...u32(m.hid)]);
    case 'REVOKE':
      return frame(0x47, 0, [...raw(m.cid), ...u32(m.hid), ...u16(m.code)]);
    case 'RELEASE':
      return frame(0x48, 0, raw(m.cid));
  }
}

// ---- decoding

class Short extends Error {}

/** Reads a payload front to back; any read past its end throws Short (a layout error). */
class Cursor {
  pos = 0;
  constructor(private readonly b: Uint8Array) {}
  private need(n: number): void {
    if (this.pos + n > this.b.length) throw new Short();
  }
  u8(): number {
    this.need(1);
    return this.b[this.pos++] as number;
  }
  u16(): number {
    return this.u8() * 256 + this.u8();
  }
  u32(): number {
    return this.u16() * 65536 + this.u16();
  }
  u64(): bigint {
    return (BigInt(this.u32()) << 32n) + BigInt(this.u32());
  }
  bytes(n: number): Uint8Array {
    this.need(n);
    const out = this.b.slice(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  rest(): Uint8Array {
    return this.bytes(this.b.length - this.pos);
  }
  /** u16 length + bytes; the text, or null if it is not UTF-8 (judged later, after the layout). */
  text(): { value: string | null; length: number } {
    const length = this.u16();
    const bytes = this.bytes(length);
    try {
      return { value: new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes), length };
    } catch {
      return { value: null, length };
    }
  }
  done(): boolean {
    return this.pos === this.b.length;
  }
}

const KNOWN_TYPES = [0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48];
const ALLOWED_FLAGS: Record<number, number> = { 0x01: 3, 0x04: 1, 0x07: 1, 0x43: 3, 0x45: 1 };

const zero = (b: Uint8Array) => b.every((x) => x === 0);
const addrOk = (t: { value: string | null; length: number }) => t.value !== null && t.length >= 1 && t.length <= 1024;
const reasonOk = (t: { value: string | null; length: number }) => t.value !== null && t.length <= 1024;

/**
 * Decodes exactly one frame with the default 1 MiB limit: the message and its size, or the name
 * of the error, following the order of checks of §3.4.
 */
export function naiveDecode(b: Uint8Array): { message: Message; size: number } | { error: FrameErrorName } {
  if (b.length < 8) return { error: 'FRAME_TRUNCATED' };
  if (b[0] !== 1) return { error: 'FRAME_BAD_VERSION' };
  const type = b[1] as number;
  if (!KNOWN_TYPES.includes(type)) return { error: 'FRAME_UNKNOWN_TYPE' };
  const flags = (b[2] as number) * 256 + (b[3] as number);
  const length = (b[4] as number) * 2 ** 24 + (b[5] as number) * 2 ** 16 + (b[6] as number) * 256 + (b[7] as number);
  if (length > 1048576) return { error: 'FRAME_TOO_LARGE' };
  if (b.length < 8 + length) return { error: 'FRAME_TRUNCATED' };
  if ((flags & ~(ALLOWED_FLAGS[type] ?? 0)) !== 0) return { error: 'FRAME_BAD_FLAGS' };

  const c = new Cursor(b.slice(8, 8 + length));
  let message: Message;
  let fieldsOk: boolean;
  try {
    switch (type) {
      case 0x01: {
        const m = { type: 'HELLO' as const, fast: (flags & 1) !== 0, acceptor: (flags & 2) !== 0, cid: c.bytes(16), maxPayload: c.u32(), credits: c.u32() };
        fieldsOk = m.maxPayload >= 1024 && m.maxPayload <= 16777216 && m.acceptor !== zero(m.cid);
        message = m;
        break;
      }
      case 0x02: {
        const m = { type: 'DATA' as const, offset: c.u64(), data: c.rest() };
        fieldsOk = m.data.length >= 1 && m.offset + BigInt(m.data.length) <= 2n ** 64n;
        message = m;
        break;
      }
      case 0x03:
        message = { type: 'FIN', offset: c.u64() };
        fieldsOk = true;
        break;
      case 0x04: {
        const hid = c.u32();
        if ((flags & 1) === 0) {
          message = { type: 'SUSPEND', fast: false, hid };
          fieldsOk = hid >= 1;
        } else {
          const sendEnd = c.u64();
          const token = c.bytes(16);
          const addr = c.text();
          message = { type: 'SUSPEND', fast: true, hid, sendEnd, token, addr: addr.value ?? '' };
          fieldsOk = hid >= 1 && addrOk(addr);
        }
        break;
      }
      case 0x05: {
        const m = { type: 'SUSPENDED' as const, hid: c.u32(), sendEnd: c.u64(), recvOffset: c.u64() };
        fieldsOk = m.hid >= 1;
        message = m;
        break;
      }
      case 0x06: {
        const hid = c.u32();
        const sendEnd = c.u64();
        const token = c.bytes(16);
        const addr = c.text();
        message = { type: 'REBIND', hid, sendEnd, token, addr: addr.value ?? '' };
        fieldsOk = hid >= 1 && addrOk(addr);
        break;
      }
      case 0x07: {
        const m = { type: 'ATTACH' as const, peerFin: (flags & 1) !== 0, cid: c.bytes(16), hid: c.u32(), token: c.bytes(16), recvOffset: c.u64(), sendOffset: c.u64(), credits: c.u32() };
        fieldsOk = !zero(m.cid) && m.hid >= 1;
        message = m;
        break;
      }
      case 0x08: {
        const m = { type: 'ATTACHED' as const, hid: c.u32(), recvOffset: c.u64(), sendOffset: c.u64(), credits: c.u32() };
        fieldsOk = m.hid >= 1;
        message = m;
        break;
      }
      case 0x09: {
        const m = { type: 'REBOUND' as const, hid: c.u32() };
        fieldsOk = m.hid >= 1;
        message = m;
        break;
      }
      case 0x0a: {
        const m = { type: 'ABORT' as const, hid: c.u32(), code: c.u16() };
        fieldsOk = m.hid >= 1;
        message = m;
        break;
      }
      case 0x0b:
        message = { type: 'REFUSE', hid: c.u32(), code: c.u16() };
        fieldsOk = true;
        break;
      case 0x0c: {
        const code = c.u16();
        const reason = c.text();
        message = { type: 'ERROR', code, reason: reason.value ?? '' };
        fieldsOk = reasonOk(reason);
        break;
      }
      case 0x0d: {
        const m = { type: 'CREDIT' as const, credits: c.u32() };
        fieldsOk = m.credits >= 1;
        message = m;
        break;
      }
      case 0x41: {
        const pid = c.u32();
        const addr = c.text();
        message = { type: 'JOIN', pid, addr: addr.value ?? '' };
        fieldsOk = addrOk(addr);
        break;
      }
      case 0x42: {
        const cid = c.bytes(16);
        const trigger = c.u8();
        message = { type: 'NEED', cid, trigger: trigger as 3 | 4 };
        fieldsOk = !zero(cid) && (trigger === 3 || trigger === 4);
        break;
      }
      case 0x43: {
        const m = { type: 'ORDER' as const, fast: (flags & 1) !== 0, originFin: (flags & 2) !== 0, cid: c.bytes(16), hid: c.u32(), token: c.bytes(16), sendEnd: c.u64() };
        fieldsOk = !zero(m.cid) && m.hid >= 1;
        message = m;
        break;
      }
      case 0x44: {
        const m = { type: 'COPY' as const, cid: c.bytes(16), hid: c.u32(), offset: c.u64(), data: c.rest() };
        fieldsOk = !zero(m.cid) && m.hid >= 1 && m.data.length >= 1 && m.offset + BigInt(m.data.length) <= 2n ** 64n;
        message = m;
        break;
      }
      case 0x45: {
        const m = { type: 'COPIED' as const, peerFin: (flags & 1) !== 0, cid: c.bytes(16), hid: c.u32(), recvEnd: c.u64() };
        fieldsOk = !zero(m.cid) && m.hid >= 1;
        message = m;
        break;
      }
      case 0x46: {
        const m = { type: 'COMMIT' as const, cid: c.bytes(16), hid: c.u32() };
        fieldsOk = !zero(m.cid) && m.hid >= 1;
        message = m;
        break;
      }
      case 0x47: {
        const m = { type: 'REVOKE' as const, cid: c.bytes(16), hid: c.u32(), code: c.u16() };
        fieldsOk = !zero(m.cid) && m.hid >= 1;
        message = m;
        break;
      }
      default: {
        const m = { type: 'RELEASE' as const, cid: c.bytes(16) };
        fieldsOk = !zero(m.cid);
        message = m;
        break;
      }
    }
  } catch (error) {
    if (error instanceof Short) return { error: 'FRAME_BAD_LENGTH' };
    throw error;
  }
  if (!c.done()) return { error: 'FRAME_BAD_LENGTH' };
  if (!fieldsOk) return { error: 'FRAME_BAD_FIELD' };
  return { message, size: 8 + length };
}
