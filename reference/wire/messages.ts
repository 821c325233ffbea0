/**
 * The in-memory form of every message of §4 (wire) and §5 (local): a discriminated union on
 * `type`. Field names and order follow `spec/tables/messages.json`.
 *
 * Field encodings (§3.2): u8/u16/u32 are `number`, u64 is `bigint`, `cid` and `token` are
 * 16-byte `Uint8Array`s, `data` is a `Uint8Array` of at least one byte, `addr` and `reason` are
 * strings (UTF-8 on the wire). Flags are booleans, always present (`false` when the bit is clear).
 *
 * Offsets and stream ends (`offset`, `sendEnd`, `recvOffset`, `sendOffset`, `recvEnd`) count bytes
 * of one direction of the stream from 0 at C1 establishment across every rebind (§6.4).
 *
 * @module
 */
import type { MessageName } from './frame.js';

/** §4.1 HELLO: first frame of C1 in each direction (§6.1). */
export interface HelloMessage {
  readonly type: 'HELLO';
  /** The sender implements the fast order (§6.3). */
  readonly fast: boolean;
  /** The sender accepted C1; its `cid` is the connection's id. The connector sends a zero cid. */
  readonly acceptor: boolean;
  /** 16 random bytes from the acceptor; 16 zero bytes from the connector (§2.2). */
  readonly cid: Uint8Array;
  /** The largest payload the sender accepts, 1024..16777216 (§3.3). */
  readonly maxPayload: number;
  /** Initial flow-control credits (RDMA, §11.2); 0 on TCP. */
  readonly credits: number;
}

/** §4.2 DATA: stream bytes. */
export interface DataMessage {
  readonly type: 'DATA';
  /** Offset of the first byte of `data` in the sender's stream (§6.4). */
  readonly offset: bigint;
  /** At least one byte. */
  readonly data: Uint8Array;
}

/** §4.3 FIN: the sender's stream ends. */
export interface FinMessage {
  readonly type: 'FIN';
  /** Total bytes the sender's stream carried. */
  readonly offset: bigint;
}

/** §4.4 SUSPEND in the stop-and-wait order (§6.2): only the handoff id. */
export interface SuspendSlowMessage {
  readonly type: 'SUSPEND';
  readonly fast: false;
  /** Handoff id, ≥ 1 (§2.2). */
  readonly hid: number;
}

/** §4.4 SUSPEND in the fast order (§6.3): the rebind travels with the suspend. */
export interface SuspendFastMessage {
  readonly type: 'SUSPEND';
  readonly fast: true;
  readonly hid: number;
  /** Where the origin's sending on C1 stopped; the successor's first byte gets this offset. */
  readonly sendEnd: bigint;
  /** The single-use token the peer presents in ATTACH (§8). */
  readonly token: Uint8Array;
  /** The successor's rebind listener, 1..1024 UTF-8 bytes. */
  readonly addr: string;
}

/** §4.4 SUSPEND: its layout depends on the `fast` flag. */
export type SuspendMessage = SuspendSlowMessage | SuspendFastMessage;

/** §4.5 SUSPENDED: the peer has stopped sending on C1. */
export interface SuspendedMessage {
  readonly type: 'SUSPENDED';
  readonly hid: number;
  /** Where the peer's sending on C1 stopped. */
  readonly sendEnd: bigint;
  /** Bytes of the origin's stream the peer has received. */
  readonly recvOffset: bigint;
}

/** §4.6 REBIND: connect to the successor (stop-and-wait order). */
export interface RebindMessage {
  readonly type: 'REBIND';
  readonly hid: number;
  /** Where the origin's sending on C1 stopped. */
  readonly sendEnd: bigint;
  readonly token: Uint8Array;
  readonly addr: string;
}

/** §4.7 ATTACH: first frame of C2. */
export interface AttachMessage {
  readonly type: 'ATTACH';
  /** The peer had sent FIN on C1 (§9.7). */
  readonly peerFin: boolean;
  /** The connection's id, never all zero. */
  readonly cid: Uint8Array;
  readonly hid: number;
  readonly token: Uint8Array;
  /** Bytes of the server-side stream the peer has received (= the origin's sendEnd). */
  readonly recvOffset: bigint;
  /** Where the peer's C2 stream continues. */
  readonly sendOffset: bigint;
  readonly credits: number;
}

/** §4.8 ATTACHED: the successor accepts; it echoes both offsets as it sees them. */
export interface AttachedMessage {
  readonly type: 'ATTACHED';
  readonly hid: number;
  readonly recvOffset: bigint;
  readonly sendOffset: bigint;
  readonly credits: number;
}

/** §4.9 REBOUND: the peer commits the handoff. */
export interface ReboundMessage {
  readonly type: 'REBOUND';
  readonly hid: number;
}

/** §4.10 ABORT: abort the handoff `hid` with an error code (§12). */
export interface AbortMessage {
  readonly type: 'ABORT';
  readonly hid: number;
  readonly code: number;
}

/** §4.11 REFUSE: the successor refuses an ATTACH (then closes C2). */
export interface RefuseMessage {
  readonly type: 'REFUSE';
  readonly hid: number;
  readonly code: number;
}

/** §4.12 ERROR: the connection fails with an error code (§12) and a reason for people. */
export interface ErrorMessage {
  readonly type: 'ERROR';
  readonly code: number;
  /** 0..1024 UTF-8 bytes. */
  readonly reason: string;
}

/** §4.13 CREDIT: more flow-control credits (RDMA binding). */
export interface CreditMessage {
  readonly type: 'CREDIT';
  /** At least 1. */
  readonly credits: number;
}

/** §5.1 JOIN: first frame of L; the successor's pid and rebind listener. */
export interface JoinMessage {
  readonly type: 'JOIN';
  readonly pid: number;
  readonly addr: string;
}

/** §5.2 NEED: the successor's application touched the connection (trigger T3 or T4, §2.4). */
export interface NeedMessage {
  readonly type: 'NEED';
  readonly cid: Uint8Array;
  /** 3 = T3 (receive), 4 = T4 (send). */
  readonly trigger: 3 | 4;
}

/** §5.3 ORDER: the rebind order to the successor. */
export interface OrderMessage {
  readonly type: 'ORDER';
  /** Fast order (§6.3). */
  readonly fast: boolean;
  /** The origin had sent FIN on C1 (§9.7). */
  readonly originFin: boolean;
  readonly cid: Uint8Array;
  readonly hid: number;
  readonly token: Uint8Array;
  /** The successor's first byte gets this offset. */
  readonly sendEnd: bigint;
}

/** §5.4 COPY: bytes the origin received but its application has not read (§6.5). */
export interface CopyMessage {
  readonly type: 'COPY';
  readonly cid: Uint8Array;
  readonly hid: number;
  readonly offset: bigint;
  /** At least one byte. */
  readonly data: Uint8Array;
}

/** §5.5 COPIED: the copy is complete up to `recvEnd`. */
export interface CopiedMessage {
  readonly type: 'COPIED';
  /** The peer's stream ended with FIN at recvEnd (§9.7). */
  readonly peerFin: boolean;
  readonly cid: Uint8Array;
  readonly hid: number;
  readonly recvEnd: bigint;
}

/** §5.6 COMMIT: the handoff is committed; the successor owns the connection. */
export interface CommitMessage {
  readonly type: 'COMMIT';
  readonly cid: Uint8Array;
  readonly hid: number;
}

/** §5.7 REVOKE: the handoff is aborted with an error code (§12). */
export interface RevokeMessage {
  readonly type: 'REVOKE';
  readonly cid: Uint8Array;
  readonly hid: number;
  readonly code: number;
}

/** §5.8 RELEASE: the successor closed its copy of the connection before any trigger. */
export interface ReleaseMessage {
  readonly type: 'RELEASE';
  readonly cid: Uint8Array;
}

/** Every message of §4 and §5. */
export type Message =
  | HelloMessage
  | DataMessage
  | FinMessage
  | SuspendMessage
  | SuspendedMessage
  | RebindMessage
  | AttachMessage
  | AttachedMessage
  | ReboundMessage
  | AbortMessage
  | RefuseMessage
  | ErrorMessage
  | CreditMessage
  | JoinMessage
  | NeedMessage
  | OrderMessage
  | CopyMessage
  | CopiedMessage
  | CommitMessage
  | RevokeMessage
  | ReleaseMessage;

/** The message type with the given name, e.g. `MessageOf<'SUSPEND'>`. */
export type MessageOf<N extends MessageName> = Extract<Message, { readonly type: N }>;

/**
 * The JSON form of a message (design notes §3): the same keys, with u64 as a decimal string and
 * cid/token/data as lower-case hex.
 */
export type JsonOf<M> = {
  -readonly [K in keyof M]: M[K] extends bigint ? string : M[K] extends Uint8Array ? string : M[K];
};

/** The JSON form of any message, e.g. `{"type":"SUSPEND","fast":false,"hid":1}`. */
export type JsonMessage = JsonOf<Message>;
