/**
 * The frame codec (spec §3, §4, §5): bytes ⇄ {@link Message}, a stream reader for byte-stream
 * transports (§11.1) and the JSON form of messages (design notes §3).
 *
 * The layouts are not written out per message: the codec walks the field list of
 * `spec/tables/messages.json` (via reference/tables.ts), so the table, the spec and the codec
 * cannot drift apart. `test/reference/wire/codec.test.ts` cross-checks it against a naive codec
 * written out by hand, and `vectors/frames/` pins the bytes.
 *
 * Decoding errors (§3.4) are checked in this order, so each input has exactly one answer:
 *
 * 1. fewer than 8 bytes (no complete header)            → `FRAME_TRUNCATED`
 * 2. version byte ≠ 1                                    → `FRAME_BAD_VERSION`
 * 3. type byte not in §4/§5 (or not of `options.channel`) → `FRAME_UNKNOWN_TYPE`
 * 4. payload length above the limit (header alone)       → `FRAME_TOO_LARGE`
 * 5. fewer bytes than header + payload length            → `FRAME_TRUNCATED`
 * 6. a flag bit the type does not define                 → `FRAME_BAD_FLAGS`
 * 7. the payload does not fit the layout (fixed size, inner u16 lengths, bytes left over)
 *                                                         → `FRAME_BAD_LENGTH`
 * 8. the first field (in layout order) out of range: table min/max, zero cid, empty data,
 *    invalid UTF-8, text length; then HELLO's cid/acceptor rule → `FRAME_BAD_FIELD`
 *
 * Ownership: a decoded `data` field is a view into the bytes given to the decoder (no copy); `cid`
 * and `token` are copies. Do not modify a buffer after decoding from it while its messages live,
 * or copy `data` first. {@link encodeFrame} returns a fresh buffer.
 *
 * @module
 */
import { RebindError, type ErrorName } from '../errors.js';
import { describeSchemaErrors, validateWith } from '../schemas.js';
import { MESSAGES, type FieldSpec, type MessageSpec } from '../tables.js';
import {
  ADDR_MAX_BYTES,
  HEADER_SIZE,
  MAX_PAYLOAD_CEILING,
  MAX_PAYLOAD_DEFAULT,
  PROTOCOL_VERSION,
  REASON_MAX_BYTES,
  type MessageName,
} from './frame.js';
import type { JsonMessage, Message } from './messages.js';

/** The JSON Schema of the JSON form (spec/schemas/message.schema.json). */
export const MESSAGE_SCHEMA_ID = 'urn:rebind:schema:message';

/** Options of the decoders. */
export interface DecodeOptions {
  /** Largest payload accepted, in bytes (§3.3); default 1 MiB, at most 16 MiB. */
  maxPayload?: number;
  /** Accept only the types of one channel (§4 wire on C1/C2, §5 local on L); default both. */
  channel?: 'wire' | 'local';
}

/** Options of {@link encodeFrame}. */
export interface EncodeOptions {
  /** Largest payload the receiver accepts (its HELLO.maxPayload); default 16 MiB, the ceiling. */
  maxPayload?: number;
}

/** The result of {@link tryDecodeFrame}: a message and the bytes it used, or the error. */
export type DecodeResult =
  | { readonly ok: true; readonly message: Message; readonly size: number }
  | { readonly ok: false; readonly error: RebindError };

// ---------------------------------------------------------------------------------------------
// Layouts, compiled once from the message table (§4, §5).

/** Sizes of the fixed-size field kinds (§3.2). */
const FIXED_SIZE: Readonly<Record<string, number>> = { u8: 1, u16: 2, u32: 4, u64: 8, cid: 16, token: 16 };

/** Largest value of each integer kind. */
const INT_MAX: Readonly<Record<string, number>> = { u8: 0xff, u16: 0xffff, u32: 0xffff_ffff };

const U64_MAX = 0xffff_ffff_ffff_ffffn;

/** UTF-8 byte limits of the text kinds (§3.2). */
const TEXT_BYTES: Readonly<Record<string, { min: number; max: number }>> = {
  addr: { min: 1, max: ADDR_MAX_BYTES },
  reason: { min: 0, max: REASON_MAX_BYTES },
};

interface Layout {
  readonly spec: MessageSpec;
  readonly name: MessageName;
  /** [flag name, mask], in bit order. */
  readonly flags: readonly (readonly [string, number])[];
  readonly flagMask: number;
}

const LAYOUT_BY_TYPE: (Layout | undefined)[] = new Array<Layout | undefined>(256).fill(undefined);
const LAYOUT_BY_NAME = new Map<string, Layout>();
for (const spec of MESSAGES) {
  const flags = Object.entries(spec.flags)
    .sort((a, b) => a[1] - b[1])
    .map(([flag, bit]) => [flag, 1 << bit] as const);
  const layout: Layout = { spec, name: spec.name as MessageName, flags, flagMask: flags.reduce((m, [, mask]) => m | mask, 0) };
  LAYOUT_BY_TYPE[spec.type] = layout;
  LAYOUT_BY_NAME.set(spec.name, layout);
}

/** Whether a field is in the frame, given the flags already decoded or set (a `when` field, §4.4). */
function present(field: FieldSpec, record: Readonly<Record<string, unknown>>): boolean {
  return field.when === undefined || record[field.when] === true;
}

// ---------------------------------------------------------------------------------------------
// Field ranges (§3.2 and the table's min/max/nonzero), shared by encoder and decoder.

/**
 * Why a well-typed value is out of range for its field, or `undefined` when it is fine.
 * `byteLength` is the UTF-8 length of a text field (`undefined` if it is not valid UTF-8).
 */
function rangeProblem(field: FieldSpec, value: unknown, byteLength?: number): string | undefined {
  switch (field.kind) {
    case 'u8':
    case 'u16':
    case 'u32': {
      const n = value as number;
      if (field.min !== undefined && n < field.min) return `${field.name} ${n} is below ${field.min}`;
      if (field.max !== undefined && n > field.max) return `${field.name} ${n} is above ${field.max}`;
      return undefined;
    }
    case 'cid':
    case 'token':
      return field.nonzero && isZero(value as Uint8Array) ? `${field.name} is all zero` : undefined;
    case 'addr':
    case 'reason': {
      const limits = TEXT_BYTES[field.kind] as { min: number; max: number };
      if (byteLength === undefined) return `${field.name} is not valid UTF-8`;
      if (byteLength < limits.min || byteLength > limits.max) {
        return `${field.name} is ${byteLength} bytes, not ${limits.min}..${limits.max}`;
      }
      return undefined;
    }
    case 'data':
      return (value as Uint8Array).length === 0 ? `${field.name} is empty` : undefined;
    default:
      return undefined; // u64: every value fits
  }
}

/** One past the largest stream offset: a byte stream never carries more than 2^64 bytes (§6.4). */
const STREAM_LIMIT = 2n ** 64n;

/**
 * Rules that span fields: HELLO's cid is all zero exactly when the acceptor flag is clear (§2.2,
 * §4.1); the bytes of a DATA or COPY frame end at or below 2^64, so every byte has a u64 offset
 * (§4.2, §5.4, §6.4).
 */
function crossFieldProblem(record: Readonly<Record<string, unknown>>): { field: string; problem: string } | undefined {
  if (record.type === 'DATA' || record.type === 'COPY') {
    const end = (record.offset as bigint) + BigInt((record.data as Uint8Array).length);
    return end > STREAM_LIMIT ? { field: 'offset', problem: `${record.type} bytes would end at offset ${end}, beyond 2^64` } : undefined;
  }
  if (record.type !== 'HELLO') return undefined;
  const zero = isZero(record.cid as Uint8Array);
  if (record.acceptor === true && zero) return { field: 'cid', problem: 'HELLO from the acceptor carries a zero cid' };
  if (record.acceptor !== true && !zero) return { field: 'cid', problem: 'HELLO from the connector carries a non-zero cid' };
  return undefined;
}

function isZero(bytes: Uint8Array): boolean {
  // 16-byte fields only: a short loop is cheaper than any allocation here.
  for (let i = 0; i < bytes.length; i++) if (bytes[i] !== 0) return false;
  return true;
}

// ---------------------------------------------------------------------------------------------
// Encoding (§3, §4, §5).

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Misuse of the API (§12 INVALID_ARGUMENT), citing the section whose rule was broken. */
function invalid(message: string, detail: Record<string, unknown> = {}, section = '3.2'): RebindError {
  return new RebindError('INVALID_ARGUMENT', message, { section, detail });
}

/** A checked field value, ready to write. */
interface Part {
  readonly field: FieldSpec;
  readonly value: unknown;
  /** The UTF-8 bytes of a text field. */
  readonly text?: Uint8Array;
}

/**
 * Checks a message as the encoder sees it and returns its layout, flag bits, field parts and
 * payload size. Throws `INVALID_ARGUMENT` for a value that is not of the field's type (wrong JS
 * type, integer outside its u8/u16/u32/u64 range, cid/token not 16 bytes, missing field) and
 * `FRAME_BAD_FIELD` for a value the type can carry but the spec forbids (§3.2 and the table).
 */
function checkMessage(message: Message): { layout: Layout; flags: number; parts: Part[]; size: number } {
  if (typeof message !== 'object' || message === null) throw invalid('a message must be an object');
  const record = message as unknown as Readonly<Record<string, unknown>>;
  const layout = typeof record.type === 'string' ? LAYOUT_BY_NAME.get(record.type) : undefined;
  if (!layout) throw invalid(`unknown message type ${JSON.stringify(record.type)}`, { type: record.type });
  const name = layout.name;

  let flags = 0;
  for (const [flag, mask] of layout.flags) {
    const value = record[flag];
    if (typeof value !== 'boolean') throw invalid(`${name}.${flag} must be a boolean`, { type: name, field: flag });
    if (value) flags |= mask;
  }

  const parts: Part[] = [];
  let size = 0;
  for (const field of layout.spec.fields) {
    const value = record[field.name];
    if (!present(field, record)) {
      if (value !== undefined) throw invalid(`${name}.${field.name} exists only when ${field.when} is set`, { type: name, field: field.name });
      continue;
    }
    const where = { type: name, field: field.name };
    let text: Uint8Array | undefined;
    switch (field.kind) {
      case 'u8':
      case 'u16':
      case 'u32':
        if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > (INT_MAX[field.kind] as number)) {
          throw invalid(`${name}.${field.name} must be an integer 0..${INT_MAX[field.kind]} (${field.kind})`, where);
        }
        break;
      case 'u64':
        if (typeof value !== 'bigint' || value < 0n || value > U64_MAX) throw invalid(`${name}.${field.name} must be a bigint 0..2^64-1 (u64)`, where);
        break;
      case 'cid':
      case 'token':
        if (!(value instanceof Uint8Array) || value.length !== 16) throw invalid(`${name}.${field.name} must be a 16-byte Uint8Array`, where);
        break;
      case 'addr':
      case 'reason':
        if (typeof value !== 'string') throw invalid(`${name}.${field.name} must be a string`, where);
        // TextEncoder would silently replace a lone surrogate by U+FFFD: refuse instead.
        if (!LONE_SURROGATE.test(value)) text = utf8Encoder.encode(value);
        break;
      case 'data':
        if (!(value instanceof Uint8Array)) throw invalid(`${name}.${field.name} must be a Uint8Array`, where);
        break;
    }
    const problem = rangeProblem(field, value, text?.length);
    if (problem !== undefined) throw new RebindError('FRAME_BAD_FIELD', `${name}: ${problem}`, { detail: where });
    parts.push(text === undefined ? { field, value } : { field, value, text });
    size += FIXED_SIZE[field.kind] ?? (text !== undefined ? 2 + text.length : (value as Uint8Array).length);
  }
  const cross = crossFieldProblem(record);
  if (cross !== undefined) throw new RebindError('FRAME_BAD_FIELD', cross.problem, { detail: { type: name, field: cross.field } });
  return { layout, flags, parts, size };
}

/**
 * Encodes one message as a frame (§3.1 header + the §4/§5 payload).
 *
 * @throws RebindError `INVALID_ARGUMENT` if a value is not of its field's type, `FRAME_BAD_FIELD`
 *   if it is out of the spec's range, `FRAME_TOO_LARGE` if the payload exceeds `options.maxPayload`.
 */
export function encodeFrame(message: Message, options: EncodeOptions = {}): Uint8Array {
  const limit = payloadLimit(options.maxPayload, MAX_PAYLOAD_CEILING);
  const { layout, flags, parts, size } = checkMessage(message);
  if (size > limit) {
    throw new RebindError('FRAME_TOO_LARGE', `${layout.name} payload of ${size} bytes exceeds the limit of ${limit}`, {
      detail: { type: layout.name, length: size, limit },
    });
  }
  const out = new Uint8Array(HEADER_SIZE + size);
  const view = new DataView(out.buffer);
  // §3.1 header
  out[0] = PROTOCOL_VERSION;
  out[1] = layout.spec.type;
  view.setUint16(2, flags);
  view.setUint32(4, size);
  // §4/§5 payload, fields in table order
  let pos = HEADER_SIZE;
  for (const { field, value, text } of parts) {
    switch (field.kind) {
      case 'u8':
        out[pos] = value as number;
        break;
      case 'u16':
        view.setUint16(pos, value as number);
        break;
      case 'u32':
        view.setUint32(pos, value as number);
        break;
      case 'u64':
        view.setBigUint64(pos, value as bigint);
        break;
      case 'cid':
      case 'token':
      case 'data':
        out.set(value as Uint8Array, pos);
        pos += (value as Uint8Array).length;
        continue;
      case 'addr':
      case 'reason': {
        const bytes = text as Uint8Array;
        view.setUint16(pos, bytes.length);
        out.set(bytes, pos + 2);
        pos += 2 + bytes.length;
        continue;
      }
    }
    pos += FIXED_SIZE[field.kind] as number;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Decoding (§3.4).

function payloadLimit(maxPayload: number | undefined, fallback: number): number {
  if (maxPayload === undefined) return fallback;
  if (!Number.isInteger(maxPayload) || maxPayload < 0 || maxPayload > MAX_PAYLOAD_CEILING) {
    throw invalid(`maxPayload must be an integer 0..${MAX_PAYLOAD_CEILING}`, { maxPayload }, '3.3');
  }
  return maxPayload;
}

function frameError(name: ErrorName, message: string, detail: Record<string, unknown>): { ok: false; error: RebindError } {
  return { ok: false, error: new RebindError(name, message, { detail }) };
}

/** A parsed header (§3.1) that passed checks 1–4. */
interface Header {
  readonly ok: true;
  readonly layout: Layout;
  readonly flags: number;
  readonly length: number;
}

/** Checks 1–4 of the precedence list: everything the 8 header bytes alone decide. */
function readHeader(bytes: Uint8Array, limit: number, channel: 'wire' | 'local' | undefined): Header | { ok: false; error: RebindError } {
  if (bytes.length < HEADER_SIZE) {
    return frameError('FRAME_TRUNCATED', `${bytes.length} bytes, a frame header needs ${HEADER_SIZE}`, { offset: 0, needed: HEADER_SIZE, available: bytes.length });
  }
  const version = bytes[0] as number;
  if (version !== PROTOCOL_VERSION) return frameError('FRAME_BAD_VERSION', `version ${version}, expected ${PROTOCOL_VERSION}`, { offset: 0, version });
  const type = bytes[1] as number;
  const layout = LAYOUT_BY_TYPE[type];
  if (!layout || (channel !== undefined && layout.spec.channel !== channel)) {
    const hex = `0x${type.toString(16).padStart(2, '0')}`;
    return frameError('FRAME_UNKNOWN_TYPE', `unknown frame type ${hex}${layout ? ` on the ${channel} channel` : ''}`, { offset: 1, typeByte: type });
  }
  const flags = ((bytes[2] as number) << 8) | (bytes[3] as number);
  // u32, big-endian; the top byte is multiplied, not shifted, so the result stays non-negative.
  const length = (bytes[4] as number) * 0x100_0000 + (((bytes[5] as number) << 16) | ((bytes[6] as number) << 8) | (bytes[7] as number));
  if (length > limit) {
    return frameError('FRAME_TOO_LARGE', `${layout.name} payload length ${length} exceeds the limit of ${limit}`, { offset: 4, type: layout.name, length, limit });
  }
  return { ok: true, layout, flags, length };
}

/**
 * Decodes the first frame of `bytes` (bytes after it are left alone; `size` says how many were
 * used). Never throws for bad input: the error comes back as data, with `detail.offset` the byte
 * of the frame it concerns. See the module comment for the order of checks.
 *
 * @throws RebindError `INVALID_ARGUMENT` only on misuse (not a Uint8Array, bad options).
 */
export function tryDecodeFrame(bytes: Uint8Array, options: DecodeOptions = {}): DecodeResult {
  if (!(bytes instanceof Uint8Array)) throw invalid('tryDecodeFrame needs a Uint8Array');
  const header = readHeader(bytes, payloadLimit(options.maxPayload, MAX_PAYLOAD_DEFAULT), options.channel);
  if (!header.ok) return header;
  const { layout, flags, length } = header;
  const end = HEADER_SIZE + length;
  if (bytes.length < end) {
    return frameError('FRAME_TRUNCATED', `${layout.name} frame of ${end} bytes, only ${bytes.length} available`, {
      offset: bytes.length, type: layout.name, needed: end, available: bytes.length,
    });
  }
  if ((flags & ~layout.flagMask) !== 0) {
    const hex = `0x${flags.toString(16).padStart(4, '0')}`;
    return frameError('FRAME_BAD_FLAGS', `${layout.name} flags ${hex} set bits the type does not define`, { offset: 2, type: layout.name, flags });
  }
  return decodePayload(layout, flags, bytes, end);
}

/**
 * Checks 7 and 8: walks the table's fields over the payload. Layout errors win over field errors,
 * so the first field error is kept until the layout is known to be sound.
 */
function decodePayload(layout: Layout, flags: number, bytes: Uint8Array, end: number): DecodeResult {
  const name = layout.name;
  const view = new DataView(bytes.buffer, bytes.byteOffset, end);
  const record: Record<string, unknown> = { type: name };
  for (const [flag, mask] of layout.flags) record[flag] = (flags & mask) !== 0;

  let fieldError: { ok: false; error: RebindError } | undefined;
  let pos = HEADER_SIZE;
  const badLength = (field: string, needed: number) =>
    frameError('FRAME_BAD_LENGTH', `${name} payload of ${end - HEADER_SIZE} bytes is too short for ${field}`, {
      offset: pos, type: name, field, needed, available: end - pos,
    });

  for (const field of layout.spec.fields) {
    if (!present(field, record)) continue;
    const at = pos;
    let value: unknown;
    let textBytes: number | undefined;
    switch (field.kind) {
      case 'u8':
      case 'u16':
      case 'u32':
      case 'u64':
      case 'cid':
      case 'token': {
        const size = FIXED_SIZE[field.kind] as number;
        if (pos + size > end) return badLength(field.name, size);
        value =
          field.kind === 'u8' ? bytes[pos]
          : field.kind === 'u16' ? view.getUint16(pos)
          : field.kind === 'u32' ? view.getUint32(pos)
          : field.kind === 'u64' ? view.getBigUint64(pos)
          : new Uint8Array(bytes.subarray(pos, pos + size)); // a copy, also when `bytes` is a Buffer
        pos += size;
        break;
      }
      case 'addr':
      case 'reason': {
        if (pos + 2 > end) return badLength(field.name, 2);
        const len = view.getUint16(pos);
        if (pos + 2 + len > end) return badLength(field.name, 2 + len);
        const raw = bytes.subarray(pos + 2, pos + 2 + len);
        try {
          value = utf8Decoder.decode(raw);
          textBytes = len;
        } catch {
          value = '';
        }
        pos += 2 + len;
        break;
      }
      case 'data':
        // A plain Uint8Array view (not a Buffer even when `bytes` is one): zero-copy.
        value = new Uint8Array(bytes.buffer, bytes.byteOffset + pos, end - pos);
        pos = end;
        break;
    }
    record[field.name] = value;
    if (fieldError === undefined) {
      const problem = rangeProblem(field, value, textBytes);
      if (problem !== undefined) fieldError = frameError('FRAME_BAD_FIELD', `${name}: ${problem}`, { offset: at, type: name, field: field.name });
    }
  }
  if (pos !== end) {
    return frameError('FRAME_BAD_LENGTH', `${name} payload has ${end - pos} bytes after its last field`, {
      offset: pos, type: name, extra: end - pos,
    });
  }
  if (fieldError !== undefined) return fieldError;
  const cross = crossFieldProblem(record);
  if (cross !== undefined) return frameError('FRAME_BAD_FIELD', cross.problem, { offset: HEADER_SIZE, type: name, field: cross.field });
  return { ok: true, message: record as unknown as Message, size: end };
}

/**
 * Decodes exactly one frame: like {@link tryDecodeFrame}, but throws the error, and bytes after
 * the frame are `FRAME_BAD_LENGTH`.
 *
 * @throws RebindError a frame-class error (§3.4), or `INVALID_ARGUMENT` on misuse.
 */
export function decodeFrame(bytes: Uint8Array, options: DecodeOptions = {}): Message {
  const result = tryDecodeFrame(bytes, options);
  if (!result.ok) throw result.error;
  if (result.size !== bytes.length) {
    throw new RebindError('FRAME_BAD_LENGTH', `${bytes.length - result.size} bytes after the ${result.message.type} frame`, {
      detail: { offset: result.size, type: result.message.type, extra: bytes.length - result.size },
    });
  }
  return result.message;
}

// ---------------------------------------------------------------------------------------------
// Byte streams (§11.1).

/**
 * Splits a byte stream (TCP, the local channel) into messages. Chunks are queued without copying;
 * a frame is copied once into a buffer of its own only when it spans chunks, otherwise it is decoded
 * in place (its `data` is then a view into the chunk: do not reuse a chunk's memory while its
 * messages live). A payload length above the limit fails the reader as soon as the 8 header bytes
 * are in, before any of the payload is buffered.
 *
 * After an error the reader is failed: {@link FrameReader.push} throws that error, now and on every
 * later call. Its `detail` has `streamOffset` (where the bad frame starts in the stream) and
 * `decodedBefore` (the frames completed by the failing push before the bad one, in order), so
 * what a receiver sees does not depend on how the stream was chunked.
 */
export class FrameReader {
  readonly #limit: number;
  readonly #channel: 'wire' | 'local' | undefined;
  /** Queued chunks; `#chunks[#first]` is read from byte `#head`, earlier ones are consumed. */
  #chunks: Uint8Array[] = [];
  #first = 0;
  #head = 0;
  #buffered = 0;
  /** Bytes of the stream consumed by complete frames. */
  #consumed = 0;
  #error: RebindError | undefined;

  constructor(options: DecodeOptions = {}) {
    this.#limit = payloadLimit(options.maxPayload, MAX_PAYLOAD_DEFAULT);
    this.#channel = options.channel;
  }

  /** Bytes received but not yet part of a complete frame. */
  get bufferedBytes(): number {
    return this.#buffered;
  }

  /** The error that failed the reader, if any. */
  get error(): RebindError | undefined {
    return this.#error;
  }

  /**
   * Adds bytes from the stream and returns every frame they complete, in order.
   *
   * @throws RebindError the first decoding error of the stream (§3.4); then the reader is failed.
   */
  push(chunk: Uint8Array): Message[] {
    if (this.#error) throw this.#error;
    if (!(chunk instanceof Uint8Array)) throw invalid('FrameReader.push needs a Uint8Array');
    if (chunk.length > 0) {
      this.#chunks.push(chunk);
      this.#buffered += chunk.length;
    }
    const messages: Message[] = [];
    while (this.#buffered >= HEADER_SIZE) {
      const header = this.#peek(HEADER_SIZE);
      const head = readHeader(header, this.#limit, this.#channel);
      if (!head.ok) throw this.#fail(head.error, messages);
      const size = HEADER_SIZE + head.length;
      if (this.#buffered < size) break;
      const result = tryDecodeFrame(this.#take(size), { maxPayload: this.#limit });
      if (!result.ok) throw this.#fail(result.error, messages);
      this.#consumed += size;
      messages.push(result.message);
    }
    return messages;
  }

  /**
   * Declares the end of the stream.
   *
   * @throws RebindError `FRAME_TRUNCATED` if a frame is incomplete, or the reader's earlier error.
   */
  end(): void {
    if (this.#error) throw this.#error;
    if (this.#buffered > 0) {
      throw this.#fail(new RebindError('FRAME_TRUNCATED', `the stream ended inside a frame (${this.#buffered} bytes buffered)`, {
        detail: { available: this.#buffered },
      }), []);
    }
  }

  #fail(error: RebindError, decodedBefore: Message[]): RebindError {
    const message = error.message.replace(/ \(§[0-9.]+\)$/, '');
    this.#error = new RebindError(error.errorName, message, {
      section: error.section,
      detail: { ...error.detail, streamOffset: this.#consumed, decodedBefore },
      cause: error,
    });
    this.#chunks = [];
    this.#first = 0;
    this.#buffered = 0;
    return this.#error;
  }

  /** The first `n` buffered bytes without consuming them (`n` ≤ buffered); copies only across chunks. */
  #peek(n: number): Uint8Array {
    const first = this.#chunks[this.#first] as Uint8Array;
    if (first.length - this.#head >= n) return first.subarray(this.#head, this.#head + n);
    const out = new Uint8Array(n);
    let filled = 0;
    let start = this.#head;
    for (let i = this.#first; filled < n; i++) {
      const chunk = this.#chunks[i] as Uint8Array;
      const piece = chunk.subarray(start, Math.min(chunk.length, start + n - filled));
      out.set(piece, filled);
      filled += piece.length;
      start = 0;
    }
    return out;
  }

  /** Consumes the first `n` buffered bytes (`n` ≤ buffered): a view when they lie in one chunk. */
  #take(n: number): Uint8Array {
    const out = this.#peek(n);
    let left = n;
    while (left > 0) {
      const available = (this.#chunks[this.#first] as Uint8Array).length - this.#head;
      if (available > left) {
        this.#head += left;
        break;
      }
      left -= available;
      this.#first++;
      this.#head = 0;
    }
    // Drop consumed chunks in batches, so that many tiny chunks cost linear time, not quadratic.
    if (this.#first === this.#chunks.length) {
      this.#chunks = [];
      this.#first = 0;
    } else if (this.#first >= 1024 && this.#first * 2 >= this.#chunks.length) {
      this.#chunks = this.#chunks.slice(this.#first);
      this.#first = 0;
    }
    this.#buffered -= n;
    return out;
  }
}

// ---------------------------------------------------------------------------------------------
// The JSON form (design notes §3, spec/schemas/message.schema.json).

function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex');
}

function fromHex(hex: string): Uint8Array {
  const buffer = Buffer.from(hex, 'hex');
  const out = new Uint8Array(buffer.length); // an owned buffer, not a slice of Node's pool
  out.set(buffer);
  return out;
}

/**
 * The JSON form of a message: `type`, then the flags in bit order, then the fields in layout order;
 * u64 as a decimal string, cid/token/data as lower-case hex.
 *
 * @throws RebindError like {@link encodeFrame} if the message is not valid.
 */
export function messageToJson(message: Message): JsonMessage {
  const { layout, parts } = checkMessage(message);
  const record = message as unknown as Readonly<Record<string, unknown>>;
  const json: Record<string, unknown> = { type: layout.name };
  for (const [flag] of layout.flags) json[flag] = record[flag];
  for (const { field, value } of parts) {
    json[field.name] = typeof value === 'bigint' ? value.toString() : value instanceof Uint8Array ? toHex(value) : value;
  }
  return json as JsonMessage;
}

/**
 * Reads the JSON form of a message, validated against `urn:rebind:schema:message`.
 *
 * @throws RebindError `INVALID_ARGUMENT` with `detail.errors` (one line per schema error) when
 *   the value is not a valid message.
 */
export function messageFromJson(json: unknown): Message {
  const result = validateWith(MESSAGE_SCHEMA_ID, json);
  const record = json as Readonly<Record<string, unknown>>;
  const layout = typeof json === 'object' && json !== null && typeof record.type === 'string' ? LAYOUT_BY_NAME.get(record.type) : undefined;
  if (!result.valid) {
    // For a known type the errors of its own definition are clearer than oneOf's summary.
    const errors = layout ? validateWith(`${MESSAGE_SCHEMA_ID}#/$defs/${layout.name}`, json).errors : result.errors;
    const lines = describeSchemaErrors(errors.length > 0 ? errors : result.errors);
    throw invalid(`not a valid message: ${lines[0] ?? 'schema mismatch'}`, { errors: lines });
  }
  const message: Record<string, unknown> = { type: (layout as Layout).name };
  for (const [flag] of (layout as Layout).flags) message[flag] = record[flag];
  for (const field of (layout as Layout).spec.fields) {
    if (!present(field, message)) continue;
    const value = record[field.name];
    if (field.kind === 'u64') {
      const n = BigInt(value as string);
      if (n > U64_MAX) throw invalid(`${field.name} ${value as string} does not fit in a u64`, { errors: [`/${field.name} must be at most 18446744073709551615`] });
      message[field.name] = n;
    } else if (field.kind === 'cid' || field.kind === 'token' || field.kind === 'data') {
      message[field.name] = fromHex(value as string);
    } else {
      message[field.name] = value;
    }
  }
  try {
    checkMessage(message as unknown as Message);
  } catch (error) {
    const reason = error instanceof RebindError ? error.message : String(error);
    throw invalid(`not a valid message: ${reason}`, { errors: [reason] });
  }
  return message as unknown as Message;
}
