/**
 * Typed errors with stable codes (spec §12).
 *
 * Every failure the library reports is a {@link RebindError}. Its `code` is a stable string
 * (`ERR_` + the spec's name), `wireCode` is the number carried in ABORT, REFUSE, REVOKE and ERROR
 * frames, and `section` names the spec section that defines the condition. The table of codes
 * is data (`spec/tables/errors.json`); this module and the spec are both tested against it.
 *
 * @module
 */
import errorTable from '../spec/tables/errors.json' with { type: 'json' };

/** The spec's error names (§12). `ERR_` + name is the `code` of a {@link RebindError}. */
export const ErrorName = {
  FRAME_TRUNCATED: 'FRAME_TRUNCATED',
  FRAME_TOO_LARGE: 'FRAME_TOO_LARGE',
  FRAME_UNKNOWN_TYPE: 'FRAME_UNKNOWN_TYPE',
  FRAME_BAD_VERSION: 'FRAME_BAD_VERSION',
  FRAME_BAD_LENGTH: 'FRAME_BAD_LENGTH',
  FRAME_BAD_FLAGS: 'FRAME_BAD_FLAGS',
  FRAME_BAD_FIELD: 'FRAME_BAD_FIELD',
  UNEXPECTED_MESSAGE: 'UNEXPECTED_MESSAGE',
  OFFSET_MISMATCH: 'OFFSET_MISMATCH',
  UNKNOWN_CONNECTION: 'UNKNOWN_CONNECTION',
  HANDOFF_MISMATCH: 'HANDOFF_MISMATCH',
  CAPABILITY: 'CAPABILITY',
  COLLISION: 'COLLISION',
  TOKEN_INVALID: 'TOKEN_INVALID',
  TOKEN_REPLAYED: 'TOKEN_REPLAYED',
  TOKEN_EXPIRED: 'TOKEN_EXPIRED',
  TIMEOUT: 'TIMEOUT',
  ABORTED: 'ABORTED',
  ORIGIN_LOST: 'ORIGIN_LOST',
  SUCCESSOR_LOST: 'SUCCESSOR_LOST',
  PEER_LOST: 'PEER_LOST',
  TRANSPORT_FAILED: 'TRANSPORT_FAILED',
  REVOKED: 'REVOKED',
  REBOUND: 'REBOUND',
  CLOSED: 'CLOSED',
  UNREACHABLE: 'UNREACHABLE',
  STREAM_GAP: 'STREAM_GAP',
  REFUSE: 'REFUSE',
  NO_DEVICE: 'NO_DEVICE',
  UNSUPPORTED: 'UNSUPPORTED',
  INVALID_ARGUMENT: 'INVALID_ARGUMENT',
  TRACE_SYNTAX: 'TRACE_SYNTAX',
  TRACE_ORDER: 'TRACE_ORDER',
  TRACE_TOKEN: 'TRACE_TOKEN',
  TRACE_OFFSET: 'TRACE_OFFSET',
  TRACE_MATCH: 'TRACE_MATCH',
  VECTOR_SCHEMA: 'VECTOR_SCHEMA',
  VECTOR_EXPECTATION: 'VECTOR_EXPECTATION',
} as const;

/** One of the spec's error names, such as `TOKEN_INVALID`. */
export type ErrorName = (typeof ErrorName)[keyof typeof ErrorName];

/** The `code` string of a {@link RebindError}, such as `ERR_TOKEN_INVALID`. */
export type ErrorCode = `ERR_${ErrorName}`;

/** Where an error belongs (§12): frame decoding, protocol, authentication, failure, environment, trace. */
export type ErrorClass = 'frame' | 'protocol' | 'auth' | 'failure' | 'environment' | 'trace';

/** One row of the published error table (§12). */
export interface ErrorInfo {
  readonly name: ErrorName;
  /** The number carried on the wire (u16). */
  readonly code: number;
  readonly class: ErrorClass;
  /** Whether the code may appear in ABORT, REFUSE, REVOKE or ERROR frames. */
  readonly wire: boolean;
  /** The spec section that defines the condition. */
  readonly section: string;
  readonly summary: string;
}

/** The error table, by name. */
export const ERRORS: Readonly<Record<ErrorName, ErrorInfo>> = Object.freeze(
  Object.fromEntries(errorTable.errors.map((row) => [row.name, Object.freeze(row as unknown as ErrorInfo)])) as Record<ErrorName, ErrorInfo>,
);

const byWireCode = new Map<number, ErrorInfo>(Object.values(ERRORS).map((info) => [info.code, info]));

/** Looks an error up by its wire number; `undefined` for a number the table does not define. */
export function errorByWireCode(code: number): ErrorInfo | undefined {
  return byWireCode.get(code);
}

/** Whether `value` is one of the spec's error names. */
export function isErrorName(value: string): value is ErrorName {
  return Object.prototype.hasOwnProperty.call(ERRORS, value);
}

/** Options for {@link RebindError}. */
export interface RebindErrorOptions {
  /** The spec section the failure cites when it is more specific than the table's (e.g. "6.2"). */
  section?: string;
  /** Machine-readable details: offsets, state, message type... */
  detail?: Readonly<Record<string, unknown>>;
  cause?: unknown;
}

/**
 * The one error class of the library. `code` is stable; `message` is for people.
 *
 * @example
 * ```ts
 * try { decodeFrame(bytes) } catch (e) { if (e instanceof RebindError && e.code === 'ERR_FRAME_TRUNCATED') ... }
 * ```
 */
export class RebindError extends Error {
  override readonly name = 'RebindError';
  /** `ERR_` + the spec's name, e.g. `ERR_TOKEN_INVALID`. */
  readonly code: ErrorCode;
  /** The spec's name, e.g. `TOKEN_INVALID`. */
  readonly errorName: ErrorName;
  /** The number carried on the wire for this error. */
  readonly wireCode: number;
  /** The spec section this failure cites. */
  readonly section: string;
  readonly detail: Readonly<Record<string, unknown>>;

  constructor(name: ErrorName, message: string, options: RebindErrorOptions = {}) {
    const info = ERRORS[name];
    const section = options.section ?? info.section;
    super(`${message} (§${section})`, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = `ERR_${name}`;
    this.errorName = name;
    this.wireCode = info.code;
    this.section = section;
    this.detail = Object.freeze({ ...(options.detail ?? {}) });
  }

  /** A plain-data form for reports and JSON logs. */
  toJSON(): { code: ErrorCode; wireCode: number; section: string; message: string; detail: Readonly<Record<string, unknown>> } {
    return { code: this.code, wireCode: this.wireCode, section: this.section, message: this.message, detail: this.detail };
  }
}

/** Whether `value` is a {@link RebindError}, optionally with the given name. */
export function isRebindError(value: unknown, name?: ErrorName): value is RebindError {
  return value instanceof RebindError && (name === undefined || value.errorName === name);
}
