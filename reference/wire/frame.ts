/**
 * Frame constants (spec §3): the header layout, the frame types of §4 (wire) and §5 (local), the
 * flag bits each type defines and the size limits. Every value here is also in
 * `spec/tables/messages.json`; `test/reference/wire/frame.test.ts` proves the two agree.
 *
 * ```
 *  0       1       2       3       4       5       6       7
 * +-------+-------+---------------+-------------------------------+
 * |version| type  |     flags     |        payload length         |
 * +-------+-------+---------------+-------------------------------+
 * ```
 * All integers are big-endian (§3.2).
 *
 * @module
 */

/** The type byte of a frame (§3.1). Wire messages (C1, C2) are 0x01–0x0D, local messages (L) 0x41–0x48. */
export enum FrameType {
  /** §4.1 First frame of C1, both ways: capabilities and (from the acceptor) the cid. */
  HELLO = 0x01,
  /** §4.2 Stream bytes with the offset of the first byte. */
  DATA = 0x02,
  /** §4.3 End of the sender's stream (half-close, §9.7). */
  FIN = 0x03,
  /** §4.4 Origin → peer: stop sending on C1 (fast form also carries the rebind, §6.3). */
  SUSPEND = 0x04,
  /** §4.5 Peer → origin: the peer has stopped sending on C1. */
  SUSPENDED = 0x05,
  /** §4.6 Origin → peer: connect to the successor (stop-and-wait order, §6.2). */
  REBIND = 0x06,
  /** §4.7 Peer → successor: first frame of C2. */
  ATTACH = 0x07,
  /** §4.8 Successor → peer: the attach is accepted. */
  ATTACHED = 0x08,
  /** §4.9 Peer → origin: the handoff is committed. */
  REBOUND = 0x09,
  /** §4.10 Either end of C1: abort the handoff (a request from the origin, a decision from the peer). */
  ABORT = 0x0a,
  /** §4.11 Successor → peer: the attach is refused. */
  REFUSE = 0x0b,
  /** §4.12 Either end: the connection fails. */
  ERROR = 0x0c,
  /** §4.13 Flow-control credits (RDMA binding, §11.2). */
  CREDIT = 0x0d,
  /** §5.1 Successor → origin: first frame of L. */
  JOIN = 0x41,
  /** §5.2 Successor → origin: a T3/T4 trigger. */
  NEED = 0x42,
  /** §5.3 Origin → successor: the rebind order. */
  ORDER = 0x43,
  /** §5.4 Origin → successor: bytes the origin's application has not read. */
  COPY = 0x44,
  /** §5.5 Origin → successor: the copy is complete. */
  COPIED = 0x45,
  /** §5.6 Origin → successor: the handoff is committed (or the origin gives the connection up). */
  COMMIT = 0x46,
  /** §5.7 Origin → successor: the handoff is aborted. */
  REVOKE = 0x47,
  /** §5.8 Successor → origin: the successor's copy of the connection was closed before any trigger. */
  RELEASE = 0x48,
}

/** A message name of §4/§5, such as `SUSPEND`. */
export type MessageName = keyof typeof FrameType;

/** Every message name, in type order. */
export const MESSAGE_NAMES: readonly MessageName[] = Object.freeze(
  (Object.keys(FrameType) as string[]).filter((key): key is MessageName => Number.isNaN(Number(key))),
);

/** Header size in bytes (§3.1). */
export const HEADER_SIZE = 8;

/** The only protocol version (§3.1); any other version byte is `FRAME_BAD_VERSION`. */
export const PROTOCOL_VERSION = 1;

/** Default receive limit on the payload length: 1 MiB (§3.3). */
export const MAX_PAYLOAD_DEFAULT = 1_048_576;

/** No receiver may accept a payload above 16 MiB, whatever it announces (§3.3). */
export const MAX_PAYLOAD_CEILING = 16_777_216;

/** Size of a `cid` and of a `token` (§3.2). */
export const CID_SIZE = 16;
export const TOKEN_SIZE = 16;

/** UTF-8 byte limits of the variable text fields (§3.2): `addr` is 1..1024 bytes, `reason` 0..1024. */
export const ADDR_MAX_BYTES = 1024;
export const REASON_MAX_BYTES = 1024;

/**
 * The flag bits each type defines (§3.1), as masks of the header's 16-bit flags field. A type not
 * listed defines none; any other bit set is `FRAME_BAD_FLAGS`.
 */
export const FrameFlags = {
  /** §4.1 `fast`: the sender implements the fast order (§6.3); `acceptor`: the sender accepted C1. */
  HELLO: { fast: 0x0001, acceptor: 0x0002 },
  /** §4.4 `fast`: the fast form, carrying sendEnd, token and addr. */
  SUSPEND: { fast: 0x0001 },
  /** §4.7 `peerFin`: the peer had already sent FIN on C1 (§9.7). */
  ATTACH: { peerFin: 0x0001 },
  /** §5.3 `fast`: fast order (§6.3); `originFin`: the origin had sent FIN on C1 (§9.7). */
  ORDER: { fast: 0x0001, originFin: 0x0002 },
  /** §5.5 `peerFin`: the peer's stream ended with FIN at recvEnd (§9.7). */
  COPIED: { peerFin: 0x0001 },
} as const;

/** The mask of every flag bit defined for `type` (0 for a type without flags or an unknown type). */
export function definedFlagMask(type: number): number {
  const name = FrameType[type] as MessageName | undefined;
  if (name === undefined || !(name in FrameFlags)) return 0;
  return Object.values(FrameFlags[name as keyof typeof FrameFlags] as Record<string, number>).reduce((a, b) => a | b, 0);
}

/** The name of a type byte, or `undefined` if §4/§5 define no such type. */
export function frameTypeName(type: number): MessageName | undefined {
  return Number.isInteger(type) ? (FrameType[type] as MessageName | undefined) : undefined;
}

/** The channel a type belongs to: wire (C1/C2, §4) or local (L, §5). */
export function frameChannel(type: FrameType): 'wire' | 'local' {
  return type >= 0x40 ? 'local' : 'wire';
}
