/**
 * The model's global state (docs/model.md): the three roles, the stranger, and the channels with
 * the messages in flight. Everything here is plain data so that a state can be copied and turned
 * into a canonical key cheaply.
 *
 * Bytes are modelled as sequence numbers: the byte at offset k of either stream is "message k"
 * (one byte per DATA frame), so offsets (§6.4) and sequence numbers coincide.
 *
 * @module
 */

/** A transport connection (C1, C2) or the local channel L: two FIFO queues and a status word. */
export interface Conn {
  /** Messages in flight from end A to end B, oldest first (encoded, see {@link encodeMsg}). */
  ab: string[];
  /** Messages in flight from end B to end A. */
  ba: string[];
  /** Bit set of {@link ConnBit}. */
  bits: number;
}

/** Status bits of a {@link Conn}. */
export const ConnBit = {
  /** The connection exists (C2 only after the peer's connect). */
  EXISTS: 1,
  /** End A closed it (or died): A neither sends nor receives any more. */
  A_CLOSED: 2,
  B_CLOSED: 4,
  /** End A has seen `lost` (the table's event) for it. */
  A_NOTIFIED: 8,
  B_NOTIFIED: 16,
  /** The transport was cut (§9.6): both queues were emptied. */
  CUT: 32,
  /** The connect did not succeed (the successor's listener is gone): the peer sees `connect-failed`. */
  CONNECT_FAILED: 64,
} as const;

/** What every role has. */
export interface ProcState {
  /** The row's state name of the role's table (§7). */
  st: string;
  /** Running §9.1 timers, one bit each in {@link TIMER_BITS} order. */
  timers: number;
  alive: boolean;
  /** The error the connection failed with on this role ('' if none). */
  err: string;
}

/** The origin (§7.1). */
export interface OriginState extends ProcState {
  /** `appHolds`: the application still holds its handle (false after T1/T2). */
  app: boolean;
  /** Whether T1/T2 already happened. */
  trig: boolean;
  /** Next offset of the origin's stream (server → peer) its application writes. */
  sendNext: number;
  /** Bytes of the peer's stream received on C1 (in the library's buffer or read). */
  rcvd: number;
  /** Bytes of the peer's stream the origin's application has read (R of §6.5). */
  read: number;
  /** The copy was made (COPIED sent) for the handoff under way. */
  copyDone: boolean;
  /** hid of the handoff under way or next (§2.2: odd, the origin accepted C1). */
  hid: number;
}

/** The successor (§7.2). */
export interface SuccessorState extends ProcState {
  /** Offsets of the peer's stream held until COMMIT (§6.6): the copy, then C2 data. */
  held: number[];
  /** Next COPY offset expected (-1 before the first COPY). */
  copyNext: number;
  /** COPIED.recvEnd (-1 before COPIED). */
  copiedEnd: number;
  /** The armed ORDER's hid (0: none). */
  orderHid: number;
  /** ATTACH.sendOffset of the accepted ATTACH (-1: none). */
  attSend: number;
  tokenUsed: boolean;
  /** Next offset of the server's stream the successor's application writes (from ORDER.sendEnd). */
  sendNext: number;
  /** T3/T4 already happened; a second one happened (S29); the application closed (RELEASE) already. */
  trig: boolean;
  again: boolean;
  closed: boolean;
}

/** The peer (§7.3). */
export interface PeerState extends ProcState {
  /** Next offset of the peer's stream its application writes. */
  sendNext: number;
  /** Bytes of the server's stream delivered to the peer's application. */
  rcvd: number;
  /** The connection the stream runs on: 1 = C1, 2 = C2. */
  cur: 1 | 2;
  /** hid of the handoff the peer takes part in (0: none). */
  hid: number;
  /** The peer's stream end on C1 (SUSPENDED.sendEnd / ATTACH.sendOffset), -1 if none. */
  c1End: number;
  /** REBOUND messages sent (no second rebind, §6.6). */
  rebounds: number;
}

/** The whole model state. */
export interface ModelState {
  O: OriginState;
  S: SuccessorState;
  P: PeerState;
  /** C1: A = origin, B = peer. */
  c1: Conn;
  /** C2: A = peer, B = successor. */
  c2: Conn;
  /** L: A = origin, B = successor. */
  l: Conn;
  /** Bytes of the peer's stream delivered to the server side's applications (origin + successor). */
  up: number;
  /** The order of this run: the fast order (§6.3) or stop-and-wait (§6.2). */
  fast: boolean;
  /** The stranger X has sent its ATTACH. */
  xUsed: boolean;
  /** Kills and cuts used so far. */
  faults: number;
  /** No kill, cut, timeout or stranger so far (for the "failure-free runs complete" check). */
  calm: boolean;
}

/** The §9.1 timers, in bit order. */
export const TIMER_BITS = ['SUSPEND', 'REBOUND', 'ABORT', 'REBIND', 'ATTACH', 'ARMED', 'COPY', 'COMMIT', 'NEED'] as const;

/** Bit of a timer name; throws on a name the tables do not define (a bug in the tables). */
export function timerBit(name: string): number {
  const i = (TIMER_BITS as readonly string[]).indexOf(name);
  if (i < 0) throw new Error(`unknown timer ${name}`);
  return 1 << i;
}

/** An encoded message: its name and numeric/word fields joined by ','. */
export function encodeMsg(name: string, ...fields: (number | string)[]): string {
  return fields.length === 0 ? name : `${name},${fields.join(',')}`;
}

/** The parts of an encoded message: name first. */
export function decodeMsg(msg: string): string[] {
  return msg.split(',');
}

function copyConn(c: Conn): Conn {
  return { ab: c.ab.slice(), ba: c.ba.slice(), bits: c.bits };
}

/** A deep copy of a state. */
export function cloneState(s: ModelState): ModelState {
  return {
    O: { ...s.O },
    S: { ...s.S, held: s.S.held.slice() },
    P: { ...s.P },
    c1: copyConn(s.c1),
    c2: copyConn(s.c2),
    l: copyConn(s.l),
    up: s.up,
    fast: s.fast,
    xUsed: s.xUsed,
    faults: s.faults,
    calm: s.calm,
  };
}

const b = (v: boolean): string => (v ? '1' : '0');

/** The canonical key of a state: equal keys, equal states. */
export function stateKey(s: ModelState): string {
  const { O, S, P } = s;
  return [
    O.st, O.timers, b(O.alive), O.err, b(O.app), b(O.trig), O.sendNext, O.rcvd, O.read, b(O.copyDone), O.hid,
    S.st, S.timers, b(S.alive), S.err, S.held.join('.'), S.copyNext, S.copiedEnd, S.orderHid, S.attSend, b(S.tokenUsed), S.sendNext, b(S.trig), b(S.again), b(S.closed),
    P.st, P.timers, b(P.alive), P.err, P.sendNext, P.rcvd, P.cur, P.hid, P.c1End, P.rebounds,
    s.c1.bits, s.c1.ab.join(' '), s.c1.ba.join(' '),
    s.c2.bits, s.c2.ab.join(' '), s.c2.ba.join(' '),
    s.l.bits, s.l.ab.join(' '), s.l.ba.join(' '),
    s.up, b(s.fast), b(s.xUsed), s.faults, b(s.calm),
  ].join('|');
}
