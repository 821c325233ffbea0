// Cross-checks reference/wire/codec.ts against the hand-written naive codec (naive-codec.ts) on
// every golden vector and on random valid messages.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { vectorBytes } from '../../../conformance/frame-vectors.js';
import { packageRoot } from '../../../reference/schemas.js';
import { encodeFrame, messageFromJson, tryDecodeFrame } from '../../../reference/wire/codec.js';
import { message } from './arbitraries.js';
import { naiveDecode, naiveEncode } from './naive-codec.js';

interface VectorTest { id: string; hex: string; result: 'valid' | 'invalid'; message?: unknown; error?: string }
const file = JSON.parse(readFileSync(join(packageRoot(), 'vectors', 'frames', 'frames.json'), 'utf8')) as { testGroups: { tests: VectorTest[] }[] };
const tests = file.testGroups.flatMap((g) => g.tests);

/** The real codec's answer for exactly one frame, in the naive codec's shape. */
function realDecode(bytes: Uint8Array): ReturnType<typeof naiveDecode> {
  const result = tryDecodeFrame(bytes);
  if (!result.ok) return { error: result.error.errorName as 'FRAME_BAD_FIELD' };
  if (result.size !== bytes.length) return { error: 'FRAME_BAD_LENGTH' };
  return { message: result.message, size: result.size };
}

describe('naive codec agrees with the golden vectors', () => {
  it.each(tests.map((t) => [t.id, t] as const))('%s', (_id, test) => {
    const bytes = vectorBytes(test.hex);
    const naive = naiveDecode(bytes);
    const naiveExact = 'size' in naive && naive.size !== bytes.length ? { error: 'FRAME_BAD_LENGTH' } : naive;
    if (test.result === 'valid') {
      const expected = messageFromJson(test.message);
      expect(naiveExact).toEqual({ message: expected, size: bytes.length });
      expect(naiveEncode(expected)).toEqual(bytes);
    } else {
      expect(naiveExact).toEqual({ error: test.error });
    }
    expect(realDecode(bytes)).toEqual(naiveExact);
  });
});

describe('naive codec agrees with the real codec on random messages', () => {
  it('encodes to the same bytes and each decodes the other', () => {
    fc.assert(
      fc.property(message, (m) => {
        const real = encodeFrame(m);
        expect(naiveEncode(m)).toEqual(real);
        expect(naiveDecode(real)).toEqual({ message: m, size: real.length });
        expect(realDecode(naiveEncode(m))).toEqual({ message: m, size: real.length });
      }),
      { numRuns: 2000 },
    );
  });
});
