// Property tests (fast-check) of reference/wire/codec.ts: round trips and stream chunking.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RebindError } from '../../../reference/errors.js';
import { validateWith } from '../../../reference/schemas.js';
import { FrameReader, decodeFrame, encodeFrame, messageFromJson, messageToJson, tryDecodeFrame } from '../../../reference/wire/codec.js';
import type { Message } from '../../../reference/wire/messages.js';
import { message } from './arbitraries.js';

/** Cuts `bytes` at the given points (any numbers; mapped into range) into chunks. */
function chunk(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let start = 0;
  for (const p of [...points, bytes.length]) {
    out.push(bytes.subarray(start, p));
    start = p;
  }
  return out;
}

describe('round trips', () => {
  it('decode(encode(m)) = m, using every byte', () => {
    fc.assert(
      fc.property(message, (m) => {
        const bytes = encodeFrame(m);
        expect(decodeFrame(bytes)).toEqual(m);
        expect(tryDecodeFrame(bytes)).toMatchObject({ ok: true, size: bytes.length });
      }),
      { numRuns: 3000 },
    );
  });

  it('the JSON form validates against the schema and reads back to m (through JSON text)', () => {
    fc.assert(
      fc.property(message, (m) => {
        const json = messageToJson(m);
        const schema = validateWith('urn:rebind:schema:message', json);
        expect(schema.errors).toEqual([]);
        expect(messageFromJson(JSON.parse(JSON.stringify(json)))).toEqual(m);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('FrameReader', () => {
  it('any chunking of a frame sequence yields the same messages', () => {
    fc.assert(
      fc.property(fc.array(message, { minLength: 0, maxLength: 12 }), fc.array(fc.nat(), { maxLength: 40 }), (messages, cuts) => {
        const stream = Buffer.concat(messages.map((m) => encodeFrame(m)));
        const reader = new FrameReader();
        const out: Message[] = [];
        for (const piece of chunk(new Uint8Array(stream), cuts)) out.push(...reader.push(piece));
        expect(out).toEqual(messages);
        expect(reader.bufferedBytes).toBe(0);
        reader.end();
      }),
      { numRuns: 500 },
    );
  });

  it('with a bad frame at the end, the frames before it are returned or reported, whatever the chunking', () => {
    const bad = new Uint8Array(Buffer.from('0109000000000004' + '00000000', 'hex')); // REBOUND hid 0
    fc.assert(
      fc.property(fc.array(message, { maxLength: 8 }), fc.array(fc.nat(), { maxLength: 30 }), (messages, cuts) => {
        const stream = new Uint8Array(Buffer.concat([...messages.map((m) => encodeFrame(m)), bad]));
        const reader = new FrameReader();
        const out: Message[] = [];
        let failure: RebindError | undefined;
        for (const piece of chunk(stream, cuts)) {
          try {
            out.push(...reader.push(piece));
          } catch (error) {
            if (!(error instanceof RebindError)) throw error;
            failure = error;
            break;
          }
        }
        expect(failure?.errorName).toBe('FRAME_BAD_FIELD');
        expect([...out, ...((failure?.detail.decodedBefore as Message[]) ?? [])]).toEqual(messages);
        expect(failure?.detail.streamOffset).toBe(stream.length - bad.length);
      }),
      { numRuns: 300 },
    );
  });
});
