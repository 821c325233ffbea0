/**
 * The transport's FrameSplitter against the codec's FrameReader (spec §3.4, §11.1): on random
 * streams of valid frames, with or without garbage, cut at random places, both give the same
 * messages, the same error and the same error details. With `sliceData`, the stream bytes and
 * their offsets are the same, DATA bytes just arrive in more pieces.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { RebindError } from '../../../reference/errors.js';
import { FrameSplitter } from '../../../reference/transport/splitter.js';
import { FrameReader, HEADER_SIZE, encodeFrame, messageToJson, type Message } from '../../../reference/wire/index.js';
import { message } from '../wire/arbitraries.js';

interface Outcome {
  messages: unknown[];
  error?: { name: string; streamOffset: unknown; decodedBefore: unknown[] };
}

/** Runs chunks through a reader-like object the way the transport does. */
function run(reader: { push(c: Uint8Array): Message[]; end(): void }, chunks: Uint8Array[], end: boolean): Outcome {
  const messages: unknown[] = [];
  try {
    for (const chunk of chunks) for (const m of reader.push(chunk)) messages.push(messageToJson(m));
    if (end) reader.end();
    return { messages };
  } catch (e) {
    const error = e as RebindError;
    const decodedBefore = (error.detail.decodedBefore as Message[]).map((m) => messageToJson(m));
    messages.push(...decodedBefore);
    // Later calls throw the same error.
    expect(() => reader.push(new Uint8Array(1))).toThrow(error);
    return { messages, error: { name: error.errorName, streamOffset: error.detail.streamOffset, decodedBefore } };
  }
}

/** Cuts `bytes` at the given fractions. */
function cut(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((f) => Math.floor(f * bytes.length)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let last = 0;
  for (const p of [...points, bytes.length]) {
    if (p > last) chunks.push(bytes.subarray(last, p));
    last = Math.max(last, p);
  }
  return chunks;
}

/** One byte per (offset, byte) of DATA, other messages as JSON: what a byte-stream consumer sees. */
function flatten(messages: unknown[]): unknown[] {
  const out: unknown[] = [];
  for (const m of messages as { type: string; offset: string; data: string }[]) {
    if (m.type !== 'DATA') {
      out.push(m);
      continue;
    }
    for (let i = 0; i < m.data.length / 2; i++) out.push(`${BigInt(m.offset) + BigInt(i)}:${m.data.slice(2 * i, 2 * i + 2)}`);
  }
  return out;
}

const bigData = fc.record({
  type: fc.constant('DATA' as const),
  offset: fc.bigInt({ min: 0n, max: 2n ** 63n }),
  data: fc.uint8Array({ minLength: 1, maxLength: 3000 }),
});
const frames = fc.array(fc.oneof(message, bigData), { minLength: 0, maxLength: 12 });
const cuts = fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 12 });
const stream = (list: Message[]): Uint8Array => Buffer.concat(list.map((m) => encodeFrame(m)));

describe('FrameSplitter ≡ FrameReader', () => {
  it('valid frames cut anywhere: the same messages', () => {
    fc.assert(
      fc.property(frames, cuts, fc.constantFrom<'wire' | 'local' | undefined>(undefined, 'wire', 'local'), (list, at, channel) => {
        const bytes = stream(list);
        const chunks = cut(bytes, at);
        const expected = run(new FrameReader({ channel }), chunks, true);
        expect(run(new FrameSplitter({ channel }), chunks, true)).toEqual(expected);
      }),
      { numRuns: 300 },
    );
  });

  it('with garbage inserted or the stream cut short: the same messages, error, streamOffset and decodedBefore', () => {
    fc.assert(
      fc.property(
        frames,
        fc.uint8Array({ minLength: 1, maxLength: 24 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.integer({ min: 0, max: 30 }),
        cuts,
        fc.constantFrom(1024, 1_048_576),
        (list, garbage, where, shorten, at, maxPayload) => {
          const clean = stream(list);
          const p = Math.floor(where * clean.length);
          const dirty = Buffer.concat([clean.subarray(0, p), garbage, clean.subarray(p)]);
          const bytes = dirty.subarray(0, Math.max(0, dirty.length - shorten));
          const chunks = cut(bytes, at);
          const expected = run(new FrameReader({ maxPayload, channel: 'wire' }), chunks, true);
          expect(run(new FrameSplitter({ maxPayload, channel: 'wire' }), chunks, true)).toEqual(expected);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('with one byte changed anywhere (headers of frames that span chunks included): the same outcome', () => {
    const spanning = fc.array(fc.oneof(bigData, message), { minLength: 1, maxLength: 6 });
    fc.assert(
      fc.property(spanning, fc.double({ min: 0, max: 0.999, noNaN: true }), fc.integer({ min: 0, max: 255 }), fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 20 }), (list, where, value, at) => {
        const bytes = Buffer.from(stream(list));
        bytes[Math.floor(where * bytes.length)] = value;
        const chunks = cut(bytes, at);
        const expected = run(new FrameReader({ maxPayload: 2048, channel: 'wire' }), chunks, true);
        expect(run(new FrameSplitter({ maxPayload: 2048, channel: 'wire' }), chunks, true)).toEqual(expected);
      }),
      { numRuns: 1000 },
    );
  });

  it.each([1024, 1025])('a frame that spans chunks with payload length %i against a limit of 1024', (length) => {
    const frame = Buffer.from(encodeFrame({ type: 'DATA', offset: 0n, data: new Uint8Array(length - 8).fill(1) }));
    const chunks = [frame.subarray(0, 3), frame.subarray(3, 9), frame.subarray(9, 500), frame.subarray(500)];
    const expected = run(new FrameReader({ maxPayload: 1024 }), chunks, true);
    expect(expected.error?.name ?? 'ok').toBe(length === 1024 ? 'ok' : 'FRAME_TOO_LARGE');
    expect(run(new FrameSplitter({ maxPayload: 1024 }), chunks, true)).toEqual(expected);
    // Only the header has arrived: the limit is checked from it alone, before the payload (§3.3).
    const early = run(new FrameSplitter({ maxPayload: 1024 }), chunks.slice(0, 2), false);
    expect(early.error?.name ?? 'ok').toBe(length === 1024 ? 'ok' : 'FRAME_TOO_LARGE');
  });

  it('an error inside a frame assembled from chunks reports where that frame starts', () => {
    const first = encodeFrame({ type: 'FIN', offset: 1n });
    const bad = Buffer.from(encodeFrame({ type: 'ERROR', code: 1, reason: 'x'.repeat(300) }));
    bad.writeUInt16BE(400, HEADER_SIZE + 2); // the reason's length no longer fits: FRAME_BAD_LENGTH
    const bytes = Buffer.concat([first, bad]);
    const chunks = [bytes.subarray(0, 20), bytes.subarray(20, 200), bytes.subarray(200)];
    const expected = run(new FrameReader(), chunks, true);
    expect(expected.error).toMatchObject({ name: 'FRAME_BAD_LENGTH', streamOffset: 16 });
    expect(run(new FrameSplitter(), chunks, true)).toEqual(expected);
  });

  it('a header announcing too much fails as soon as its 8 bytes are in (FRAME_TOO_LARGE, §3.3)', () => {
    const splitter = new FrameSplitter({ maxPayload: 1024 });
    const header = Uint8Array.of(1, 2, 0, 0, 0, 0, 0x10, 0x00);
    expect(splitter.push(header.subarray(0, 5))).toEqual([]);
    expect(() => splitter.push(header.subarray(5))).toThrow(expect.objectContaining({ code: 'ERR_FRAME_TOO_LARGE' }));
    expect(() => splitter.end()).toThrow(expect.objectContaining({ code: 'ERR_FRAME_TOO_LARGE' }));
  });
});

describe('FrameSplitter with sliceData', () => {
  it('valid frames cut anywhere: the same bytes at the same offsets, other messages unchanged', () => {
    fc.assert(
      fc.property(frames, cuts, (list, at) => {
        const chunks = cut(stream(list), at);
        const expected = run(new FrameReader(), chunks, true);
        const sliced = run(new FrameSplitter({ sliceData: true }), chunks, true);
        expect(sliced.error).toBeUndefined();
        expect(flatten(sliced.messages)).toEqual(flatten(expected.messages));
      }),
      { numRuns: 300 },
    );
  });

  it('a large DATA frame over many chunks arrives as views, without copies', () => {
    const data = Uint8Array.from({ length: 10_000 }, (_, i) => i & 0xff);
    const bytes = encodeFrame({ type: 'DATA', offset: 100n, data });
    const splitter = new FrameSplitter({ sliceData: true });
    const got: Message[] = [];
    const chunks = [bytes.subarray(0, 5), bytes.subarray(5, 20), bytes.subarray(20, 4000), bytes.subarray(4000)];
    for (const chunk of chunks) got.push(...splitter.push(chunk));
    expect(got.map((m) => (m as { offset: bigint }).offset)).toEqual([100n, 104n, 4084n]);
    expect(Buffer.concat(got.map((m) => (m as { data: Uint8Array }).data)).equals(Buffer.from(data))).toBe(true);
    expect((got[1] as { data: Uint8Array }).data.buffer).toBe(bytes.buffer); // a view of the received bytes
    expect(splitter.bufferedBytes).toBe(0);
    splitter.end();
  });

  it('a stream that ends inside a DATA frame delivers what arrived, then FRAME_TRUNCATED', () => {
    const bytes = encodeFrame({ type: 'DATA', offset: 0n, data: new Uint8Array(100).fill(7) });
    const splitter = new FrameSplitter({ sliceData: true });
    expect(splitter.push(bytes.subarray(0, 50)).map((m) => (m as { data: Uint8Array }).data.length)).toEqual([34]);
    expect(() => splitter.end()).toThrow(expect.objectContaining({ code: 'ERR_FRAME_TRUNCATED', detail: expect.objectContaining({ available: 50, streamOffset: 0 }) }));
  });

  it('a DATA frame with flag bits is FRAME_BAD_FLAGS once its first 16 bytes are in', () => {
    const bytes = Buffer.from(encodeFrame({ type: 'DATA', offset: 0n, data: new Uint8Array(100) }));
    bytes[3] = 1;
    const splitter = new FrameSplitter({ sliceData: true });
    expect(() => splitter.push(bytes.subarray(0, 40))).toThrow(expect.objectContaining({ code: 'ERR_FRAME_BAD_FLAGS' }));
    const assembled = new FrameSplitter({ sliceData: true }); // the same frame spread over chunks
    assembled.push(bytes.subarray(0, 3));
    expect(() => assembled.push(bytes.subarray(3, 40))).toThrow(expect.objectContaining({ code: 'ERR_FRAME_BAD_FLAGS' }));
  });
});

// Regression, found by the property test above in CI: a DATA frame whose bytes end past offset 2^64
// was sliced into pieces whose offsets no longer fit a u64. It is refused as the codec refuses it (§6.4).
describe('regression: DATA ending beyond offset 2^64 with sliceData', () => {
  it('fails with FRAME_BAD_FIELD instead of producing an offset past u64', () => {
    // DATA, no flags, payload 10: offset 2^64-1, then the two bytes "ab".
    const fixed = Buffer.from('01020000' + '0000000a' + 'ffffffffffffffff' + '6162', 'hex');
    const splitter = new FrameSplitter({ sliceData: true });
    let error: unknown;
    try {
      splitter.push(fixed.subarray(0, 17));
      splitter.push(fixed.subarray(17));
    } catch (e) {
      error = e;
    }
    expect((error as RebindError).errorName).toBe('FRAME_BAD_FIELD');
  });
});
