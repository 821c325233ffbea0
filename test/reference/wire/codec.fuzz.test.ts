// Fuzzing of the decoders (§3.4): over 100,000 inputs, random and mutated valid frames, from a
// fixed seed so that a failure reproduces. Every answer must be a message or a frame-class
// RebindError; never a throw, never a size past the input. The naive codec must agree, and a
// decoded frame must re-encode to exactly its bytes (the encoding is canonical) and its JSON form
// must validate against urn:rebind:schema:message.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { vectorBytes } from '../../../conformance/frame-vectors.js';
import { ERRORS, RebindError } from '../../../reference/errors.js';
import { describeSchemaErrors, packageRoot, validateWith } from '../../../reference/schemas.js';
import { FrameReader, encodeFrame, messageToJson, tryDecodeFrame } from '../../../reference/wire/codec.js';
import type { Message } from '../../../reference/wire/messages.js';
import { message } from './arbitraries.js';
import { naiveDecode } from './naive-codec.js';
import { mulberry32 } from '../../support/prng.js';

const prng = mulberry32;

const random = prng(0x5eed);
const int = (n: number) => Math.floor(random() * n); // 0..n-1
const pick = <T>(items: readonly T[]): T => items[int(items.length)] as T;
function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = int(256);
  return out;
}

const TYPES = [0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48];

/** Valid frames to mutate: every golden valid vector and random messages. */
const vectorFile = JSON.parse(readFileSync(join(packageRoot(), 'vectors', 'frames', 'frames.json'), 'utf8')) as {
  testGroups: { tests: { hex: string; result: string }[] }[];
};
const seeds: Uint8Array[] = [
  ...vectorFile.testGroups.flatMap((g) => g.tests.filter((t) => t.result === 'valid').map((t) => vectorBytes(t.hex))),
  ...fc.sample(message, { seed: 7, numRuns: 400 }).map((m) => encodeFrame(m)),
];

function setLength(frame: Uint8Array, length: number): void {
  new DataView(frame.buffer, frame.byteOffset).setUint32(4, length >>> 0);
}

/** One mutation of a valid frame: bit flips, truncation, extension, header or inner-length edits. */
function mutate(source: Uint8Array): Uint8Array {
  switch (int(7)) {
    case 0: {
      const out = source.slice();
      for (let i = 0, n = 1 + int(4); i < n; i++) {
        const at = int(out.length);
        out[at] = (out[at] as number) ^ (1 << int(8));
      }
      return out;
    }
    case 1:
      return source.slice(0, int(source.length));
    case 2: {
      const out = new Uint8Array(source.length + 1 + int(16));
      out.set(source);
      out.set(randomBytes(out.length - source.length), source.length);
      return out;
    }
    case 3: {
      const out = source.slice();
      const length = source.length - 8;
      setLength(out, pick([length - 1, length + 1, length + int(9) - 4, 0, 0xffffffff, 1048576, 1048577, int(2 ** 32), int(64)]));
      return out;
    }
    case 4: {
      const out = source.slice();
      out[2] = pick([0, 0, int(256)]);
      out[3] = int(256);
      return out;
    }
    case 5: {
      const out = source.slice();
      out[1] = random() < 0.7 ? pick(TYPES) : int(256);
      return out;
    }
    default: {
      // overwrite two payload bytes (often an inner u16 length of addr/reason) with edge values
      const out = source.slice();
      if (out.length > 9) {
        const at = 8 + int(out.length - 9);
        const value = pick([0, 1, 0x0400, 0x0401, 0xffff, int(65536)]);
        out[at] = value >> 8;
        out[at + 1] = value & 0xff;
      }
      return out;
    }
  }
}

/** Random input: fully random, or a plausible header over random payload. */
function randomInput(): Uint8Array {
  if (random() < 0.3) return randomBytes(int(48));
  const length = int(72);
  const out = new Uint8Array(8 + Math.max(0, length + int(9) - 4));
  out.set(randomBytes(out.length));
  out[0] = random() < 0.95 ? 1 : int(256);
  out[1] = pick(TYPES);
  out[2] = 0;
  out[3] = random() < 0.8 ? int(4) : int(256);
  setLength(out, length);
  return out;
}

const hexOf = (b: Uint8Array) => Buffer.from(b).toString('hex');
const sameBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && Buffer.compare(a, b) === 0;
const isFrameError = (e: unknown): e is RebindError => e instanceof RebindError && ERRORS[e.errorName].class === 'frame';

/** Checks one input; returns a description of what went wrong, or undefined. */
function check(input: Uint8Array): string | undefined {
  let result: ReturnType<typeof tryDecodeFrame>;
  try {
    result = tryDecodeFrame(input);
  } catch (error) {
    return `threw ${String(error)}`;
  }
  const naive = naiveDecode(input);
  if (!result.ok) {
    if (!isFrameError(result.error)) return `error not of the frame class: ${String(result.error)}`;
    if (!('error' in naive) || naive.error !== result.error.errorName) return `naive codec says ${JSON.stringify(naive, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))}, real ${result.error.errorName}`;
    return undefined;
  }
  if (result.size > input.length || result.size < 8) return `size ${result.size} for ${input.length} bytes`;
  if (!('message' in naive) || naive.size !== result.size) return `naive codec says ${'error' in naive ? naive.error : naive.size}, real decoded ${result.message.type}`;
  let again: Uint8Array;
  try {
    again = encodeFrame(result.message);
  } catch (error) {
    return `decoded ${result.message.type} does not re-encode: ${String(error)}`;
  }
  if (!sameBytes(again, input.subarray(0, result.size))) return `re-encodes to ${hexOf(again)}`;
  const schema = validateWith('urn:rebind:schema:message', messageToJson(result.message));
  if (!schema.valid) return `its JSON form fails the schema: ${describeSchemaErrors(schema.errors).join('; ')}`;
  return undefined;
}

describe('fuzzing tryDecodeFrame', () => {
  it('30,000 random inputs and 80,000 mutated valid frames', () => {
    const failures: string[] = [];
    const outcomes = new Map<string, number>();
    const run = (input: Uint8Array) => {
      const problem = check(input);
      if (problem !== undefined && failures.length < 5) failures.push(`${hexOf(input)}: ${problem}`);
      const r = tryDecodeFrame(input);
      const key = r.ok ? 'ok' : r.error.errorName;
      outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
    };
    for (let i = 0; i < 30_000; i++) run(randomInput());
    for (let i = 0; i < 80_000; i++) run(mutate(pick(seeds)));
    expect(failures).toEqual([]);
    // The fuzzer reaches every outcome, so none of the checks above is vacuous.
    expect([...outcomes.keys()].sort()).toEqual(
      ['FRAME_BAD_FIELD', 'FRAME_BAD_FLAGS', 'FRAME_BAD_LENGTH', 'FRAME_BAD_VERSION', 'FRAME_TOO_LARGE', 'FRAME_TRUNCATED', 'FRAME_UNKNOWN_TYPE', 'ok'],
    );
    for (const [key, count] of outcomes) expect(count, key).toBeGreaterThan(200);
  });
});

describe('fuzzing FrameReader', () => {
  /** What a reader must produce for a whole stream: frames until the first error, or the end. */
  function reference(stream: Uint8Array): { messages: Message[]; error?: string; leftover: number } {
    const messages: Message[] = [];
    let at = 0;
    while (at < stream.length) {
      const r = tryDecodeFrame(stream.subarray(at));
      if (r.ok) {
        messages.push(r.message);
        at += r.size;
      } else if (r.error.errorName === 'FRAME_TRUNCATED') {
        return { messages, leftover: stream.length - at };
      } else {
        return { messages, error: r.error.errorName, leftover: 0 };
      }
    }
    return { messages, leftover: 0 };
  }

  it('3,000 streams of valid and mutated frames in random chunks agree with frame-by-frame decoding', () => {
    const failures: string[] = [];
    let errors = 0;
    for (let i = 0; i < 3_000; i++) {
      const parts = Array.from({ length: 1 + int(5) }, () => (random() < 0.75 ? pick(seeds) : mutate(pick(seeds))));
      const stream = new Uint8Array(Buffer.concat(parts));
      const expected = reference(stream);
      const reader = new FrameReader();
      const got: Message[] = [];
      let error: unknown;
      for (let at = 0; at < stream.length && error === undefined; ) {
        const size = 1 + int(random() < 0.5 ? 8 : 200);
        try {
          got.push(...reader.push(stream.subarray(at, at + size)));
        } catch (e) {
          error = e;
        }
        at += size;
      }
      let problem: string | undefined;
      if (error !== undefined) {
        errors++;
        if (!isFrameError(error)) problem = `threw ${String(error)}`;
        else {
          got.push(...(error.detail.decodedBefore as Message[]));
          if (error.errorName !== expected.error) problem = `error ${error.errorName}, expected ${expected.error ?? 'none'}`;
        }
      } else if (expected.error !== undefined) {
        problem = `no error, expected ${expected.error}`;
      } else if (reader.bufferedBytes !== expected.leftover) {
        problem = `${reader.bufferedBytes} bytes left, expected ${expected.leftover}`;
      }
      if (problem === undefined) {
        try {
          expect(got).toEqual(expected.messages);
        } catch {
          problem = `messages differ: ${got.length} vs ${expected.messages.length}`;
        }
      }
      if (problem !== undefined && failures.length < 5) failures.push(`${hexOf(stream)}: ${problem}`);
    }
    expect(failures).toEqual([]);
    expect(errors).toBeGreaterThan(300);
  });
});
