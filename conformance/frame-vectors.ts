/**
 * Checks a golden frame vector file (`vectors/frames/*.json`, schema
 * `urn:rebind:schema:frame-vectors`) against the reference codec (spec §3–§5).
 *
 * 1. The file must validate against its schema (`VECTOR_SCHEMA`); nothing else is checked otherwise.
 * 2. Bookkeeping (`VECTOR_SCHEMA`): ids and tcIds unique, `numberOfTests` equal to the count, every
 *    flag a test uses listed in `notes`.
 * 3. Each valid test (`VECTOR_EXPECTATION`): its hex decodes, using every byte, to its message,
 *    and its message encodes to its hex.
 * 4. Each invalid test (`VECTOR_EXPECTATION`): decoding its hex as exactly one frame fails with the
 *    stated error (bytes after a complete frame are `FRAME_BAD_LENGTH`, as in `decodeFrame`).
 *
 * Results are data: a list of diagnostics, empty when the file is good.
 *
 * @module
 */
import { diagnostic, type Diagnostic } from '../reference/diagnostics.js';
import { RebindError } from '../reference/errors.js';
import { describeSchemaErrors, validateWith } from '../reference/schemas.js';
import { encodeFrame, messageFromJson, messageToJson, tryDecodeFrame } from '../reference/wire/codec.js';
import type { Message } from '../reference/wire/messages.js';

/** The `$id` of the frame vector schema. */
export const FRAME_VECTORS_SCHEMA_ID = 'urn:rebind:schema:frame-vectors';

/** One test of a frame vector file (after schema validation). */
export interface FrameVectorTest {
  readonly tcId: number;
  readonly id: string;
  readonly comment: string;
  readonly flags: readonly string[];
  readonly hex: string;
  readonly result: 'valid' | 'invalid';
  readonly message?: unknown;
  readonly error?: string;
}

/** A frame vector file (after schema validation). */
export interface FrameVectorFile {
  readonly name: string;
  readonly section: string;
  readonly numberOfTests: number;
  readonly notes: Readonly<Record<string, string>>;
  readonly testGroups: readonly { readonly type: string; readonly section: string; readonly tests: readonly FrameVectorTest[] }[];
}

/** The bytes of a vector's hex (spaces between bytes are allowed and ignored). */
export function vectorBytes(hex: string): Uint8Array {
  const clean = hex.replace(/ /g, '');
  const out = new Uint8Array(clean.length / 2);
  out.set(Buffer.from(clean, 'hex'));
  return out;
}

function hexOf(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex');
}

/** Decodes exactly one frame, as data: the message, or the error's name. */
function decodeOne(bytes: Uint8Array): { message: Message } | { error: string; detail: string } {
  const result = tryDecodeFrame(bytes);
  if (!result.ok) return { error: result.error.errorName, detail: result.error.message };
  if (result.size !== bytes.length) return { error: 'FRAME_BAD_LENGTH', detail: `${bytes.length - result.size} bytes after the frame` };
  return { message: result.message };
}

/**
 * Checks one frame vector file. `source` names it in the diagnostics.
 */
export function checkFrameVectorFile(json: unknown, source: string): Diagnostic[] {
  const schema = validateWith(FRAME_VECTORS_SCHEMA_ID, json);
  if (!schema.valid) {
    return describeSchemaErrors(schema.errors).map((line) => diagnostic('VECTOR_SCHEMA', `not a frame vector file: ${line}`, '13.3', { source }));
  }
  const file = json as FrameVectorFile;
  const out: Diagnostic[] = [];
  const ids = new Set<string>();
  const tcIds = new Set<number>();
  let count = 0;
  for (const group of file.testGroups) {
    for (const test of group.tests) {
      count++;
      const name = `tcId ${test.tcId} (${test.id})`;
      if (ids.has(test.id)) out.push(diagnostic('VECTOR_SCHEMA', `${name}: duplicate id`, '13.3', { source }));
      if (tcIds.has(test.tcId)) out.push(diagnostic('VECTOR_SCHEMA', `${name}: duplicate tcId`, '13.3', { source }));
      ids.add(test.id);
      tcIds.add(test.tcId);
      for (const flag of test.flags) {
        if (!Object.prototype.hasOwnProperty.call(file.notes, flag)) {
          out.push(diagnostic('VECTOR_SCHEMA', `${name}: flag ${flag} is not described in notes`, '13.3', { source }));
        }
      }
      for (const problem of checkTest(test)) out.push(diagnostic('VECTOR_EXPECTATION', `${name}: ${problem}`, group.section, { source }));
    }
  }
  if (count !== file.numberOfTests) {
    out.push(diagnostic('VECTOR_SCHEMA', `numberOfTests is ${file.numberOfTests} but the file has ${count} tests`, '13.3', { source }));
  }
  return out;
}

/** What is wrong with one test, as sentences (empty when it holds). */
function checkTest(test: FrameVectorTest): string[] {
  const bytes = vectorBytes(test.hex);
  const decoded = decodeOne(bytes);
  if (test.result === 'invalid') {
    if ('message' in decoded) return [`expected ${test.error}, but the frame decodes to ${JSON.stringify(messageToJson(decoded.message))}`];
    return decoded.error === test.error ? [] : [`expected ${test.error}, got ${decoded.error}: ${decoded.detail}`];
  }

  const problems: string[] = [];
  let expected: Message;
  try {
    expected = messageFromJson(test.message);
  } catch (error) {
    return [`its message is not valid: ${error instanceof RebindError ? error.message : String(error)}`];
  }
  if ('error' in decoded) {
    problems.push(`expected the frame to decode, got ${decoded.error}: ${decoded.detail}`);
  } else {
    const got = JSON.stringify(messageToJson(decoded.message));
    const want = JSON.stringify(messageToJson(expected));
    if (got !== want) problems.push(`decodes to ${got}, expected ${want}`);
  }
  try {
    const encoded = hexOf(encodeFrame(expected));
    const want = hexOf(bytes);
    if (encoded !== want) problems.push(`its message encodes to ${encoded}, expected ${want}`);
  } catch (error) {
    problems.push(`its message does not encode: ${error instanceof RebindError ? error.message : String(error)}`);
  }
  return problems;
}
