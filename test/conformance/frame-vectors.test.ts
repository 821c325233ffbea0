import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkFrameVectorFile, vectorBytes } from '../../conformance/frame-vectors.js';
import { packageRoot } from '../../reference/schemas.js';

const path = join(packageRoot(), 'vectors', 'frames', 'frames.json');
const text = readFileSync(path, 'utf8');

/** A fresh, mutable copy of the golden file. */
function golden(): { numberOfTests: number; testGroups: { type: string; tests: Record<string, unknown>[] }[]; notes: Record<string, string> } {
  return JSON.parse(text);
}

function testById(file: ReturnType<typeof golden>, id: string): Record<string, unknown> {
  const found = file.testGroups.flatMap((g) => g.tests).find((t) => t.id === id);
  if (!found) throw new Error(`no test ${id}`);
  return found;
}

describe('checkFrameVectorFile', () => {
  it('accepts the golden file vectors/frames/frames.json', () => {
    expect(checkFrameVectorFile(JSON.parse(text), 'frames.json')).toEqual([]);
  });

  it('covers every message type with a valid test and every frame error with an invalid one', () => {
    const file = golden();
    const validTypes = new Set(file.testGroups.flatMap((g) => g.tests.filter((t) => t.result === 'valid').map((t) => (t.message as { type: string }).type)));
    expect(validTypes.size).toBe(21);
    const errors = new Set(file.testGroups.flatMap((g) => g.tests.map((t) => t.error)).filter(Boolean));
    expect([...errors].sort()).toEqual(['FRAME_BAD_FIELD', 'FRAME_BAD_FLAGS', 'FRAME_BAD_LENGTH', 'FRAME_BAD_VERSION', 'FRAME_TOO_LARGE', 'FRAME_TRUNCATED', 'FRAME_UNKNOWN_TYPE']);
    for (const group of file.testGroups.filter((g) => g.type !== 'HEADER')) {
      expect(group.tests.some((t) => t.error === 'FRAME_TRUNCATED'), group.type).toBe(true);
    }
  });

  it('reports a file that is not a vector file as VECTOR_SCHEMA, located at the source', () => {
    const diagnostics = checkFrameVectorFile({ name: 'x' }, 'bad.json');
    expect(diagnostics.length).toBeGreaterThan(0);
    expect(diagnostics.every((d) => d.code === 'VECTOR_SCHEMA' && d.source === 'bad.json')).toBe(true);
    expect(diagnostics.map((d) => d.message).join('\n')).toMatch(/numberOfTests/);
  });

  it('reports a message that is not a valid JSON message as VECTOR_SCHEMA', () => {
    const file = golden();
    (testById(file, 'frame.fin.offset-1200').message as Record<string, unknown>).offset = 1200;
    const diagnostics = checkFrameVectorFile(file, 'doctored.json');
    expect(diagnostics.map((d) => d.code)).toContain('VECTOR_SCHEMA');
  });

  it('reports a doctored file: wrong hex, wrong error, wrong message, duplicates and count', () => {
    const file = golden();
    // a valid test whose hex no longer matches its message (sendEnd 1200 → 1201)
    const fast = testById(file, 'frame.suspend.fast');
    fast.hex = String(fast.hex).replace('00000000000004b0', '00000000000004b1');
    // an invalid test that states the wrong error
    testById(file, 'frame.rebound.hid-0').error = 'FRAME_BAD_LENGTH';
    // an invalid test whose frame is in fact valid
    testById(file, 'frame.need.trigger-5').hex = '0142000000000011 00112233445566778899aabbccddeeff 03';
    // a valid test whose message differs from its frame
    (testById(file, 'frame.copy.basic').message as Record<string, unknown>).data = '616264';
    // duplicate id and tcId, wrong count, unknown flag
    const rebound = testById(file, 'frame.rebound.basic');
    const copy = { ...rebound };
    file.testGroups[0]?.tests.push(copy);
    testById(file, 'frame.credit.basic').flags = ['Mystery'];

    const diagnostics = checkFrameVectorFile(file, 'doctored.json');
    const messages = diagnostics.map((d) => `${d.code} ${d.message}`);
    expect(messages).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^VECTOR_EXPECTATION tcId \d+ \(frame\.suspend\.fast\): decodes to .*"sendEnd":"1201"/),
        expect.stringMatching(/^VECTOR_EXPECTATION tcId \d+ \(frame\.suspend\.fast\): its message encodes to .*04b0/),
        expect.stringMatching(/^VECTOR_EXPECTATION tcId \d+ \(frame\.rebound\.hid-0\): expected FRAME_BAD_LENGTH, got FRAME_BAD_FIELD/),
        expect.stringMatching(/^VECTOR_EXPECTATION tcId \d+ \(frame\.need\.trigger-5\): expected FRAME_BAD_FIELD, but the frame decodes to .*"trigger":3/),
        expect.stringMatching(/^VECTOR_EXPECTATION tcId \d+ \(frame\.copy\.basic\): decodes to .*"data":"616263"/),
        expect.stringMatching(/^VECTOR_EXPECTATION tcId \d+ \(frame\.copy\.basic\): its message encodes to \S*616264, expected/),
        expect.stringMatching(/^VECTOR_SCHEMA tcId \d+ \(frame\.rebound\.basic\): duplicate id/),
        expect.stringMatching(/^VECTOR_SCHEMA tcId \d+ \(frame\.rebound\.basic\): duplicate tcId/),
        expect.stringMatching(/^VECTOR_SCHEMA numberOfTests is \d+ but the file has \d+ tests/),
        expect.stringMatching(/^VECTOR_SCHEMA tcId \d+ \(frame\.credit\.basic\): flag Mystery is not described in notes/),
      ]),
    );
    expect(diagnostics).toHaveLength(10);
    const expectation = diagnostics.find((d) => d.code === 'VECTOR_EXPECTATION' && d.message.includes('rebound.hid-0'));
    expect(expectation).toMatchObject({ source: 'doctored.json', section: '4.9', severity: 'error' });
  });

  it('reads hex with spaces between bytes', () => {
    expect([...vectorBytes('01 0203 04')]).toEqual([1, 2, 3, 4]);
    expect(vectorBytes('')).toHaveLength(0);
  });
});
