import { describe, expect, it } from 'vitest';
import { RebindError, type ErrorName } from '../../../reference/errors.js';
import { validateWith } from '../../../reference/schemas.js';
import {
  FrameReader,
  decodeFrame,
  encodeFrame,
  messageFromJson,
  messageToJson,
  tryDecodeFrame,
} from '../../../reference/wire/codec.js';
import type { Message } from '../../../reference/wire/messages.js';

const hex = (h: string): Uint8Array => new Uint8Array(Buffer.from(h.replace(/ /g, ''), 'hex'));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const bytes = (...values: number[]): Uint8Array => new Uint8Array(values);

const CID = hex('c1c2c3c4c5c6c7c8c9cacbcccdcecfd0');
const TOKEN = hex('7f000000000000000000000000000001');
const CID_HEX = 'c1c2c3c4c5c6c7c8c9cacbcccdcecfd0';
const TOKEN_HEX = '7f000000000000000000000000000001';

/** One byte-exact fixture per message type (values differ from vectors/frames on purpose). */
const FIXTURES: readonly (readonly [Message, string])[] = [
  [{ type: 'HELLO', fast: false, acceptor: true, cid: CID, maxPayload: 4096, credits: 8 }, `0101 0002 00000018 ${CID_HEX} 00001000 00000008`],
  [{ type: 'DATA', offset: 0x0102030405060708n, data: bytes(0xde, 0xad) }, '0102 0000 0000000a 0102030405060708 dead'],
  [{ type: 'FIN', offset: 1n }, '0103 0000 00000008 0000000000000001'],
  [{ type: 'SUSPEND', fast: false, hid: 0x01020304 }, '0104 0000 00000004 01020304'],
  [{ type: 'SUSPEND', fast: true, hid: 7, sendEnd: 256n, token: TOKEN, addr: 'h:1' }, `0104 0001 00000021 00000007 0000000000000100 ${TOKEN_HEX} 0003 683a31`],
  [{ type: 'SUSPENDED', hid: 9, sendEnd: 2n, recvOffset: 3n }, '0105 0000 00000014 00000009 0000000000000002 0000000000000003'],
  [{ type: 'REBIND', hid: 11, sendEnd: 0n, token: TOKEN, addr: 'ü' }, `0106 0000 00000020 0000000b 0000000000000000 ${TOKEN_HEX} 0002 c3bc`],
  [{ type: 'ATTACH', peerFin: true, cid: CID, hid: 2, token: TOKEN, recvOffset: 10n, sendOffset: 20n, credits: 3 }, `0107 0001 00000038 ${CID_HEX} 00000002 ${TOKEN_HEX} 000000000000000a 0000000000000014 00000003`],
  [{ type: 'ATTACHED', hid: 2, recvOffset: 20n, sendOffset: 10n, credits: 0 }, '0108 0000 00000018 00000002 0000000000000014 000000000000000a 00000000'],
  [{ type: 'REBOUND', hid: 0xffffffff }, '0109 0000 00000004 ffffffff'],
  [{ type: 'ABORT', hid: 1, code: 0x0206 }, '010a 0000 00000006 00000001 0206'],
  [{ type: 'REFUSE', hid: 4, code: 0x0302 }, '010b 0000 00000006 00000004 0302'],
  [{ type: 'ERROR', code: 0x0101, reason: 'short' }, '010c 0000 00000009 0101 0005 73686f7274'],
  [{ type: 'CREDIT', credits: 0xffffffff }, '010d 0000 00000004 ffffffff'],
  [{ type: 'JOIN', pid: 1, addr: '@' }, '0141 0000 00000007 00000001 0001 40'],
  [{ type: 'NEED', cid: CID, trigger: 4 }, `0142 0000 00000011 ${CID_HEX} 04`],
  [{ type: 'ORDER', fast: true, originFin: true, cid: CID, hid: 6, token: TOKEN, sendEnd: 99n }, `0143 0003 0000002c ${CID_HEX} 00000006 ${TOKEN_HEX} 0000000000000063`],
  [{ type: 'COPY', cid: CID, hid: 6, offset: 5n, data: bytes(0) }, `0144 0000 0000001d ${CID_HEX} 00000006 0000000000000005 00`],
  [{ type: 'COPIED', peerFin: false, cid: CID, hid: 6, recvEnd: 6n }, `0145 0000 0000001c ${CID_HEX} 00000006 0000000000000006`],
  [{ type: 'COMMIT', cid: CID, hid: 6 }, `0146 0000 00000014 ${CID_HEX} 00000006`],
  [{ type: 'REVOKE', cid: CID, hid: 6, code: 0x0401 }, `0147 0000 00000016 ${CID_HEX} 00000006 0401`],
  [{ type: 'RELEASE', cid: CID }, `0148 0000 00000010 ${CID_HEX}`],
];

function decodeError(input: Uint8Array, options?: { maxPayload?: number; channel?: 'wire' | 'local' }): RebindError {
  const result = tryDecodeFrame(input, options);
  if (result.ok) throw new Error(`expected an error, decoded ${result.message.type}`);
  return result.error;
}

function thrown(f: () => unknown): RebindError {
  try {
    f();
  } catch (error) {
    if (error instanceof RebindError) return error;
    throw error;
  }
  throw new Error('expected a throw');
}

describe('byte-exact fixtures (§4, §5)', () => {
  it('covers every type, and both SUSPEND layouts', () => {
    expect(new Set(FIXTURES.map(([m]) => m.type)).size).toBe(21);
  });

  it.each(FIXTURES.map(([m, h]) => [`${m.type}${'fast' in m && m.type === 'SUSPEND' ? (m.fast ? ' fast' : ' slow') : ''}`, m, h] as const))('%s', (_name, message, h) => {
    expect(toHex(encodeFrame(message))).toBe(h.replace(/ /g, ''));
    const decoded = decodeFrame(hex(h));
    expect(decoded).toEqual(message);
    const result = tryDecodeFrame(hex(h + ' 0102'));
    expect(result).toEqual({ ok: true, message, size: hex(h).length });
  });

  it('decodes into plain objects with flags always present', () => {
    expect(decodeFrame(hex('0145 0000 0000001c' + CID_HEX + '00000001 0000000000000001'))).toHaveProperty('peerFin', false);
    expect(Object.keys(decodeFrame(hex(FIXTURES[4]?.[1] ?? '')))).toEqual(['type', 'fast', 'hid', 'sendEnd', 'token', 'addr']);
  });

  it('decodes data as a view of the input, cid and token as copies', () => {
    const input = hex(`0144 0000 0000001d ${CID_HEX} 00000006 0000000000000005 61`);
    const message = decodeFrame(input) as Extract<Message, { type: 'COPY' }>;
    expect(message.data.buffer).toBe(input.buffer);
    expect(message.cid.buffer).not.toBe(input.buffer);
  });

  it('decodes a Buffer into plain Uint8Arrays', () => {
    const input = Buffer.from(hex(`0144 0000 0000001d ${CID_HEX} 00000006 0000000000000005 61`));
    const message = decodeFrame(input) as Extract<Message, { type: 'COPY' }>;
    expect(Object.getPrototypeOf(message.cid)).toBe(Uint8Array.prototype);
    expect(Object.getPrototypeOf(message.data)).toBe(Uint8Array.prototype);
    input[8] = 0; // the cid was copied
    expect(message.cid[0]).toBe(0xc1);
  });

  it('decodes from a view with a non-zero byteOffset', () => {
    const big = hex('ffff 0109 0000 00000004 00000005 ffff');
    expect(decodeFrame(big.subarray(2, 14))).toEqual({ type: 'REBOUND', hid: 5 });
  });
});

describe('decoding errors and their order (§3.4)', () => {
  const cases: [string, string, ErrorName, Record<string, unknown>][] = [
    ['empty input', '', 'FRAME_TRUNCATED', { offset: 0, needed: 8, available: 0 }],
    ['short header with a bad version', '02 09 0000 000000', 'FRAME_TRUNCATED', { offset: 0 }],
    ['bad version', '00 09 0000 00000004 00000001', 'FRAME_BAD_VERSION', { offset: 0, version: 0 }],
    ['unknown type', '01 0e 0000 00000000', 'FRAME_UNKNOWN_TYPE', { offset: 1, typeByte: 14 }],
    ['too large, header only', '01 02 0000 00100001', 'FRAME_TOO_LARGE', { offset: 4, type: 'DATA', length: 1048577, limit: 1048576 }],
    ['truncated payload', '01 09 0000 00000004 000000', 'FRAME_TRUNCATED', { offset: 11, type: 'REBOUND', needed: 12, available: 11 }],
    ['flags before a truncated payload? no: truncation first', '01 09 0001 00000004 00', 'FRAME_TRUNCATED', {}],
    ['undefined flag', '01 09 0001 00000004 00000001', 'FRAME_BAD_FLAGS', { offset: 2, type: 'REBOUND', flags: 1 }],
    ['flags before length', '01 09 0100 00000003 000001', 'FRAME_BAD_FLAGS', {}],
    ['fixed length wrong', '01 09 0000 00000005 00000001 00', 'FRAME_BAD_LENGTH', { offset: 12, type: 'REBOUND', extra: 1 }],
    ['fixed length short', '01 09 0000 00000003 000001', 'FRAME_BAD_LENGTH', { offset: 8, type: 'REBOUND', field: 'hid' }],
    ['length before field', '01 09 0000 00000005 00000000 00', 'FRAME_BAD_LENGTH', {}],
    ['hid 0', '01 09 0000 00000004 00000000', 'FRAME_BAD_FIELD', { offset: 8, type: 'REBOUND', field: 'hid' }],
    ['first bad field wins', `01 47 0000 00000016 ${'00'.repeat(16)} 00000000 0401`, 'FRAME_BAD_FIELD', { field: 'cid', offset: 8 }],
    ['second field', `01 47 0000 00000016 ${CID_HEX} 00000000 0401`, 'FRAME_BAD_FIELD', { field: 'hid', offset: 24 }],
    ['bad UTF-8 addr', '01 41 0000 00000007 00000001 0001 ff', 'FRAME_BAD_FIELD', { field: 'addr', offset: 12 }],
  ];
  it.each(cases)('%s', (_name, h, name, detail) => {
    const error = decodeError(hex(h));
    expect(error).toBeInstanceOf(RebindError);
    expect(error.errorName).toBe(name);
    expect(error.code).toBe(`ERR_${name}`);
    expect(error.detail).toMatchObject(detail);
  });

  it('decides FRAME_TOO_LARGE from the header against options.maxPayload (inclusive limit)', () => {
    const data = encodeFrame({ type: 'DATA', offset: 0n, data: new Uint8Array(2000) });
    expect(decodeError(data, { maxPayload: 2007 }).errorName).toBe('FRAME_TOO_LARGE');
    expect(tryDecodeFrame(data, { maxPayload: 2008 }).ok).toBe(true);
    expect(decodeError(data.subarray(0, 8), { maxPayload: 2007 }).errorName).toBe('FRAME_TOO_LARGE');
  });

  it('restricts types to one channel when asked', () => {
    const release = hex(`0148 0000 00000010 ${CID_HEX}`);
    expect(decodeError(release, { channel: 'wire' }).errorName).toBe('FRAME_UNKNOWN_TYPE');
    expect(tryDecodeFrame(release, { channel: 'local' }).ok).toBe(true);
    expect(decodeError(hex('0109 0000 00000004 00000001'), { channel: 'local' }).errorName).toBe('FRAME_UNKNOWN_TYPE');
  });

  it('keeps a UTF-8 byte order mark in text instead of stripping it', () => {
    const m = decodeFrame(hex('010c 0000 00000007 0406 0003 efbbbf')) as Extract<Message, { type: 'ERROR' }>;
    expect(m.reason).toBe('\ufeff');
  });

  it('decodeFrame throws the error and rejects trailing bytes', () => {
    expect(thrown(() => decodeFrame(hex('01 09 0000 00000004 00000000'))).errorName).toBe('FRAME_BAD_FIELD');
    const trailing = thrown(() => decodeFrame(hex('01 09 0000 00000004 00000001 00')));
    expect(trailing.errorName).toBe('FRAME_BAD_LENGTH');
    expect(trailing.detail).toMatchObject({ offset: 12, extra: 1, type: 'REBOUND' });
  });

  it('throws INVALID_ARGUMENT only on misuse', () => {
    expect(thrown(() => tryDecodeFrame('0109' as unknown as Uint8Array)).errorName).toBe('INVALID_ARGUMENT');
    expect(thrown(() => tryDecodeFrame(new Uint8Array(8), { maxPayload: 16777217 })).errorName).toBe('INVALID_ARGUMENT');
    expect(thrown(() => tryDecodeFrame(new Uint8Array(8), { maxPayload: 1.5 })).errorName).toBe('INVALID_ARGUMENT');
  });
});

describe('encodeFrame validation', () => {
  const good: Message = { type: 'SUSPEND', fast: true, hid: 1, sendEnd: 1n, token: TOKEN, addr: 'x' };
  const bad = (patch: Record<string, unknown>, base: Message = good) => thrown(() => encodeFrame({ ...base, ...patch } as unknown as Message));

  it('FRAME_BAD_FIELD for values the spec forbids (§3.2)', () => {
    expect(bad({ hid: 0 }).errorName).toBe('FRAME_BAD_FIELD');
    expect(bad({ addr: '' }).errorName).toBe('FRAME_BAD_FIELD');
    expect(bad({ addr: 'é'.repeat(513) }).errorName).toBe('FRAME_BAD_FIELD'); // 1026 bytes, 513 characters
    expect(bad({ addr: '\ud800' }).errorName).toBe('FRAME_BAD_FIELD'); // a lone surrogate has no UTF-8 form
    expect(bad({ trigger: 5 }, { type: 'NEED', cid: CID, trigger: 3 }).errorName).toBe('FRAME_BAD_FIELD');
    expect(bad({ data: new Uint8Array(0) }, { type: 'DATA', offset: 0n, data: bytes(1) }).errorName).toBe('FRAME_BAD_FIELD');
    expect(bad({ cid: new Uint8Array(16) }, { type: 'RELEASE', cid: CID }).errorName).toBe('FRAME_BAD_FIELD');
    expect(bad({ reason: 'r'.repeat(1025) }, { type: 'ERROR', code: 1, reason: '' }).errorName).toBe('FRAME_BAD_FIELD');
    expect(bad({ credits: 0 }, { type: 'CREDIT', credits: 1 }).errorName).toBe('FRAME_BAD_FIELD');
  });

  it('HELLO: the cid is all zero exactly when the acceptor flag is clear', () => {
    const hello: Message = { type: 'HELLO', fast: false, acceptor: false, cid: new Uint8Array(16), maxPayload: 1024, credits: 0 };
    expect(() => encodeFrame(hello)).not.toThrow();
    expect(bad({ acceptor: true }, hello).errorName).toBe('FRAME_BAD_FIELD');
    expect(bad({ cid: CID }, hello).errorName).toBe('FRAME_BAD_FIELD');
    expect(() => encodeFrame({ ...hello, acceptor: true, cid: CID })).not.toThrow();
    expect(bad({ maxPayload: 1023 }, hello).errorName).toBe('FRAME_BAD_FIELD');
  });

  it('INVALID_ARGUMENT for values that are not of the field type', () => {
    expect(thrown(() => encodeFrame(null as unknown as Message)).errorName).toBe('INVALID_ARGUMENT');
    expect(bad({ type: 'NOPE' }).errorName).toBe('INVALID_ARGUMENT');
    expect(bad({ hid: 1.5 }).errorName).toBe('INVALID_ARGUMENT');
    expect(bad({ hid: 2 ** 32 }).errorName).toBe('INVALID_ARGUMENT');
    expect(bad({ hid: -1 }).errorName).toBe('INVALID_ARGUMENT');
    expect(bad({ sendEnd: 1 }).errorName).toBe('INVALID_ARGUMENT');
    expect(bad({ sendEnd: 2n ** 64n }).errorName).toBe('INVALID_ARGUMENT');
    expect(bad({ sendEnd: -1n }).errorName).toBe('INVALID_ARGUMENT');
    expect(bad({ token: new Uint8Array(15) }).errorName).toBe('INVALID_ARGUMENT');
    expect(bad({ token: TOKEN_HEX }).errorName).toBe('INVALID_ARGUMENT');
    expect(bad({ fast: 1 }).errorName).toBe('INVALID_ARGUMENT');
    expect(bad({ addr: undefined }).errorName).toBe('INVALID_ARGUMENT');
    expect(bad({ code: 0x10000 }, { type: 'ABORT', hid: 1, code: 0 }).errorName).toBe('INVALID_ARGUMENT');
    // fast-only fields on a slow SUSPEND
    expect(thrown(() => encodeFrame({ type: 'SUSPEND', fast: false, hid: 1, sendEnd: 1n } as unknown as Message)).detail).toMatchObject({ field: 'sendEnd' });
  });

  it('FRAME_TOO_LARGE above options.maxPayload or the 16 MiB ceiling', () => {
    const data: Message = { type: 'DATA', offset: 0n, data: new Uint8Array(100) };
    expect(encodeFrame(data, { maxPayload: 108 })).toHaveLength(116);
    expect(thrown(() => encodeFrame(data, { maxPayload: 107 })).errorName).toBe('FRAME_TOO_LARGE');
    expect(thrown(() => encodeFrame({ type: 'DATA', offset: 0n, data: new Uint8Array(16 * 1024 * 1024) })).errorName).toBe('FRAME_TOO_LARGE');
  });
});

describe('JSON form (design notes §3)', () => {
  it('matches the design notes example', () => {
    const token = new Uint8Array(16);
    const json = messageToJson({ type: 'SUSPEND', fast: true, hid: 1, sendEnd: 1200n, token, addr: 'tcp://127.0.0.1:40123' });
    expect(JSON.stringify(json)).toBe(`{"type":"SUSPEND","fast":true,"hid":1,"sendEnd":"1200","token":"${'0'.repeat(32)}","addr":"tcp://127.0.0.1:40123"}`);
    expect(messageToJson({ type: 'SUSPEND', fast: false, hid: 1 })).toEqual({ type: 'SUSPEND', fast: false, hid: 1 });
  });

  it.each(FIXTURES.map(([m]) => [m.type, m] as const))('%s round-trips and validates against the schema', (_name, message) => {
    const json = messageToJson(message);
    expect(validateWith('urn:rebind:schema:message', json).valid).toBe(true);
    expect(JSON.parse(JSON.stringify(json))).toEqual(json);
    expect(messageFromJson(json)).toEqual(message);
  });

  it('reads u64 values beyond 2^53 exactly', () => {
    const m = messageFromJson({ type: 'FIN', offset: '18446744073709551615' });
    expect(m).toEqual({ type: 'FIN', offset: 2n ** 64n - 1n });
  });

  const rejects: [string, unknown, RegExp][] = [
    ['not an object', 42, /must be object|must match/],
    ['unknown type', { type: 'NOPE' }, /must match exactly one schema|must be equal to constant/],
    ['missing field', { type: 'SUSPEND', fast: false }, /must have required property 'hid'/],
    ['extra field', { type: 'SUSPEND', fast: false, hid: 1, sendEnd: '5' }, /must NOT have additional properties|must match/],
    ['u64 as number', { type: 'FIN', offset: 5 }, /\/offset must be string/],
    ['u64 with leading zero', { type: 'FIN', offset: '05' }, /\/offset must match pattern/],
    ['u64 overflow', { type: 'FIN', offset: '18446744073709551616' }, /\/offset must be at most 18446744073709551615/],
    ['upper-case hex', { type: 'RELEASE', cid: CID_HEX.toUpperCase() }, /\/cid must match pattern/],
    ['zero cid', { type: 'RELEASE', cid: '0'.repeat(32) }, /\/cid must NOT be valid/],
    ['hid 0', { type: 'REBOUND', hid: 0 }, /\/hid must be >= 1/],
    ['trigger 5', { type: 'NEED', cid: CID_HEX, trigger: 5 }, /\/trigger must be <= 4/],
    ['HELLO acceptor with zero cid', { type: 'HELLO', fast: false, acceptor: true, cid: '0'.repeat(32), maxPayload: 1024, credits: 0 }, /\/cid/],
    ['addr over 1024 bytes', { type: 'JOIN', pid: 1, addr: 'é'.repeat(600) }, /addr is 1200 bytes/],
    ['empty data', { type: 'DATA', offset: '0', data: '' }, /\/data must match pattern/],
  ];
  it.each(rejects)('messageFromJson rejects %s with INVALID_ARGUMENT and the schema errors', (_name, json, pattern) => {
    const error = thrown(() => messageFromJson(json));
    expect(error.errorName).toBe('INVALID_ARGUMENT');
    const errors = error.detail.errors as string[];
    expect(Array.isArray(errors)).toBe(true);
    expect(errors.join('\n')).toMatch(pattern);
  });
});

describe('FrameReader (§11.1)', () => {
  const frames = FIXTURES.map(([, h]) => hex(h));
  const stream = Buffer.concat(frames);

  it('returns every complete frame and keeps partial ones', () => {
    const reader = new FrameReader();
    expect(reader.push(stream.subarray(0, frames[0]!.length + 3))).toEqual([FIXTURES[0]![0]]);
    expect(reader.bufferedBytes).toBe(3);
    const rest = reader.push(stream.subarray(frames[0]!.length + 3));
    expect(rest).toEqual(FIXTURES.slice(1).map(([m]) => m));
    expect(reader.bufferedBytes).toBe(0);
    expect(() => reader.end()).not.toThrow();
  });

  it('one byte at a time', () => {
    const reader = new FrameReader();
    const out: Message[] = [];
    for (let i = 0; i < stream.length; i++) out.push(...reader.push(stream.subarray(i, i + 1)));
    expect(out).toEqual(FIXTURES.map(([m]) => m));
  });

  it('decodes data in place when a frame lies in one chunk, and copies it once when it spans chunks', () => {
    const frame = hex('0102 0000 0000000a 0000000000000000 abcd');
    const inPlace = new FrameReader().push(frame)[0] as Extract<Message, { type: 'DATA' }>;
    expect(inPlace.data.buffer).toBe(frame.buffer);
    const reader = new FrameReader();
    reader.push(frame.subarray(0, 5));
    const spanned = reader.push(frame.subarray(5))[0] as Extract<Message, { type: 'DATA' }>;
    expect(spanned.data.buffer).not.toBe(frame.buffer);
    expect(toHex(spanned.data)).toBe('abcd');
  });

  it('rejects an oversized length as soon as the header is in, before buffering the payload', () => {
    const reader = new FrameReader({ maxPayload: 4096 });
    expect(reader.push(hex('0102 0000'))).toEqual([]);
    const error = thrown(() => reader.push(hex('00001001')));
    expect(error.errorName).toBe('FRAME_TOO_LARGE');
    expect(error.detail).toMatchObject({ length: 4097, limit: 4096, streamOffset: 0 });
    expect(reader.bufferedBytes).toBe(0);
  });

  it('after an error it is failed: every later push throws the same error', () => {
    const reader = new FrameReader();
    const good = hex('0109 0000 00000004 00000001');
    const bad = hex('0109 0000 00000004 00000000');
    const error = thrown(() => reader.push(Buffer.concat([good, good, bad, good])));
    expect(error.errorName).toBe('FRAME_BAD_FIELD');
    expect(error.detail).toMatchObject({ streamOffset: 24, field: 'hid', decodedBefore: [{ type: 'REBOUND', hid: 1 }, { type: 'REBOUND', hid: 1 }] });
    expect(reader.error).toBe(error);
    expect(thrown(() => reader.push(good))).toBe(error);
    expect(thrown(() => reader.end())).toBe(error);
  });

  it('end() inside a frame is FRAME_TRUNCATED', () => {
    const reader = new FrameReader();
    reader.push(hex('0109 0000 000000'));
    expect(thrown(() => reader.end()).errorName).toBe('FRAME_TRUNCATED');
  });

  it('accepts empty chunks and restricts the channel', () => {
    const reader = new FrameReader({ channel: 'local' });
    expect(reader.push(new Uint8Array(0))).toEqual([]);
    expect(thrown(() => reader.push(hex('0109 0000 00000004 00000001'))).errorName).toBe('FRAME_UNKNOWN_TYPE');
  });

  it('stays linear with many tiny chunks of one large frame', () => {
    const big = encodeFrame({ type: 'DATA', offset: 0n, data: new Uint8Array(200_000).fill(7) });
    const reader = new FrameReader();
    const started = performance.now();
    let out: Message[] = [];
    for (let i = 0; i < big.length; i += 2) out = out.concat(reader.push(big.subarray(i, i + 2)));
    expect(out).toHaveLength(1);
    expect((out[0] as Extract<Message, { type: 'DATA' }>).data.length).toBe(200_000);
    // 100,000 pushes; a quadratic reader would take minutes here.
    expect(performance.now() - started).toBeLessThan(5_000);
  });
});
