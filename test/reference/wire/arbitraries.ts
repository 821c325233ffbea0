/**
 * fast-check arbitraries for valid messages of every type (spec §4, §5), shared by the property,
 * cross-check and fuzz tests.
 */
import fc from 'fast-check';
import type { Message } from '../../../reference/wire/messages.js';

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const utf8Length = (s: string) => Buffer.byteLength(s, 'utf8');

export const u16 = fc.integer({ min: 0, max: 0xffff });
export const u32 = fc.integer({ min: 0, max: 0xffff_ffff });
export const hid = fc.integer({ min: 1, max: 0xffff_ffff });
export const u64 = fc.oneof(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.constantFrom(0n, 1n, 2n ** 53n + 1n, 2n ** 64n - 1n));

/** DATA and COPY bytes end at or below 2^64 (§6.4): pull an offset down so the frame stays valid. */
function withinStream<T extends { offset: bigint; data: Uint8Array }>(m: T): T {
  const last = 2n ** 64n - BigInt(m.data.length);
  return m.offset > last ? { ...m, offset: last } : m;
}
export const bytes16 = fc.uint8Array({ minLength: 16, maxLength: 16 });
export const cid = bytes16.filter((b) => b.some((x) => x !== 0));
export const data = fc.uint8Array({ minLength: 1, maxLength: 64 });

/** Text of `min..max` UTF-8 bytes: ASCII, any Unicode, and occasional long strings. */
function text(min: number, max: number): fc.Arbitrary<string> {
  return fc
    .oneof(
      fc.string({ minLength: min, maxLength: 40 }),
      fc.string({ unit: 'binary', minLength: min, maxLength: 40 }),
      fc.string({ unit: 'grapheme', minLength: min, maxLength: 20 }),
      fc.integer({ min: Math.max(min, 1000), max }).map((n) => 'a'.repeat(n)),
    )
    .filter((s) => !LONE_SURROGATE.test(s) && utf8Length(s) >= min && utf8Length(s) <= max);
}
export const addr = text(1, 1024);
export const reason = text(0, 1024);

const hello = fc.boolean().chain((acceptor) =>
  fc.record({
    type: fc.constant('HELLO' as const),
    fast: fc.boolean(),
    acceptor: fc.constant(acceptor),
    cid: acceptor ? cid : fc.constant(new Uint8Array(16)),
    maxPayload: fc.integer({ min: 1024, max: 16_777_216 }),
    credits: u32,
  }),
);

/** Any valid message. */
export const message: fc.Arbitrary<Message> = fc.oneof(
  hello,
  fc.record({ type: fc.constant('DATA' as const), offset: u64, data }).map(withinStream),
  fc.record({ type: fc.constant('FIN' as const), offset: u64 }),
  fc.record({ type: fc.constant('SUSPEND' as const), fast: fc.constant(false as const), hid }),
  fc.record({ type: fc.constant('SUSPEND' as const), fast: fc.constant(true as const), hid, sendEnd: u64, token: bytes16, addr }),
  fc.record({ type: fc.constant('SUSPENDED' as const), hid, sendEnd: u64, recvOffset: u64 }),
  fc.record({ type: fc.constant('REBIND' as const), hid, sendEnd: u64, token: bytes16, addr }),
  fc.record({ type: fc.constant('ATTACH' as const), peerFin: fc.boolean(), cid, hid, token: bytes16, recvOffset: u64, sendOffset: u64, credits: u32 }),
  fc.record({ type: fc.constant('ATTACHED' as const), hid, recvOffset: u64, sendOffset: u64, credits: u32 }),
  fc.record({ type: fc.constant('REBOUND' as const), hid }),
  fc.record({ type: fc.constant('ABORT' as const), hid, code: u16 }),
  fc.record({ type: fc.constant('REFUSE' as const), hid: u32, code: u16 }),
  fc.record({ type: fc.constant('ERROR' as const), code: u16, reason }),
  fc.record({ type: fc.constant('CREDIT' as const), credits: hid }),
  fc.record({ type: fc.constant('JOIN' as const), pid: u32, addr }),
  fc.record({ type: fc.constant('NEED' as const), cid, trigger: fc.constantFrom(3 as const, 4 as const) }),
  fc.record({ type: fc.constant('ORDER' as const), fast: fc.boolean(), originFin: fc.boolean(), cid, hid, token: bytes16, sendEnd: u64 }),
  fc.record({ type: fc.constant('COPY' as const), cid, hid, offset: u64, data }).map(withinStream),
  fc.record({ type: fc.constant('COPIED' as const), peerFin: fc.boolean(), cid, hid, recvEnd: u64 }),
  fc.record({ type: fc.constant('COMMIT' as const), cid, hid }),
  fc.record({ type: fc.constant('REVOKE' as const), cid, hid, code: u16 }),
  fc.record({ type: fc.constant('RELEASE' as const), cid }),
);
