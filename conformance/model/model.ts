/**
 * The rebind protocol as an explicit-state model (docs/model.md), driven by the state tables of
 * spec §7 (`spec/tables/states.json` through `reference/tables.ts`).
 *
 * Each process's step is "find the row for (state, event, guard) and execute its actions". What the
 * model adds is only what the tables leave to the rest of the spec: the channels (FIFO, §11), the
 * applications (they write and read bytes, numbered by offset, §6.4), the environment (kills, cuts,
 * timers firing, §9) and the stranger X who tries a wrong token (§8.3). Where a table is silent about
 * a message the model applies §7.5 (UNEXPECTED_MESSAGE: the connection fails) and reports it.
 *
 * @module
 */
import { STATE_TABLES, defers, type Role, type RoleTable, type Transition } from '../../reference/tables.js';
import {
  ConnBit, TIMER_BITS, cloneState, decodeMsg, encodeMsg, timerBit,
  type Conn, type ModelState,
} from './state.js';

/** The switches of one model run. */
export interface ModelOptions {
  /** Data bytes (DATA frames of one byte) each application writes per direction. */
  readonly data: number;
  /** The orders to explore: stop-and-wait (§6.2) and/or fast (§6.3). */
  readonly orders: readonly ('fig9' | 'fast')[];
  /** §9.1 timers may fire whenever running. */
  readonly timers: boolean;
  /** Kills and connection cuts per run (§9.3–9.6). */
  readonly failures: number;
  /** Failures may also cut the local channel L while both its ends live (see docs/model.md). */
  readonly cutLocal: boolean;
  /** A stranger X may send ATTACH with a wrong token to the successor (§8.3). */
  readonly stranger: boolean;
  /** T1/T2 at the origin may happen. */
  readonly originTrigger: boolean;
  /** T3/T4 at the successor may happen. */
  readonly successorTrigger: boolean;
  /** The successor's application may close its dormant handle before any trigger (§9.7). */
  readonly release: boolean;
  /** Fig. 8 (Appendix B): SUSPEND taken out of the protocol (use with noSuspendTables()). */
  readonly noSuspend: boolean;
  /**
   * The §6.4 offset checks (STREAM_GAP at the successor, offsetsOk at the peer). The patent's Fig. 8
   * protocol has no offsets, so `--no-suspend` turns them off unless `--keep-checks` is given.
   */
  readonly offsetChecks: boolean;
  /** The state tables that drive the model; the spec's by default. */
  readonly tables: Readonly<Record<Role, RoleTable>>;
}

/** The default bound: what `npm run model` checks in CI. */
export const DEFAULT_OPTIONS: ModelOptions = {
  data: 1,
  orders: ['fig9', 'fast'],
  timers: true,
  failures: 1,
  cutLocal: false,
  stranger: true,
  originTrigger: true,
  successorTrigger: true,
  release: true,
  noSuspend: false,
  offsetChecks: true,
  tables: STATE_TABLES,
};

/** A process of the model. X is the stranger, E the environment (kills and cuts). */
export type Actor = 'O' | 'S' | 'P' | 'X' | 'E';

/** One enabled event. `arg` names the channel, timer or victim. */
export interface ModelEvent {
  readonly who: Actor;
  readonly kind: 'write' | 'read' | 'trigger' | 'app-close' | 'recv' | 'lost' | 'timer' | 'connect-failed' | 'attach' | 'kill' | 'cut';
  readonly arg: string;
}

/** A place where a table is silent or ambiguous (reported, not an invariant failure). */
export interface Finding {
  /** `unexpected`: a message with no row (§7.5 applied); `late`: a message to a role that already ended;
   * `silent-lost`, `silent-timer`, `silent-trigger`: an event with no row (ignored); `ambiguous`: two rows. */
  readonly kind: 'unexpected' | 'late' | 'silent-lost' | 'silent-timer' | 'silent-trigger' | 'silent-connect' | 'ambiguous';
  readonly role: Role;
  readonly state: string;
  readonly event: string;
}

/** What one step reports besides the next state. */
export interface StepLog {
  /** Trace lines (§13.1), or null when not recording. */
  readonly lines: string[] | null;
  readonly findings: Finding[];
  /** Invariant violations (docs/model.md §Invariants), in words. */
  readonly violations: string[];
  /** Rows taken, by id. */
  readonly rows: string[];
}

/** Labels of the triggers in traces: the model does not tell T1 from T2 nor T3 from T4 (same rows). */
export interface TraceLabels {
  readonly origin: 'T1' | 'T2';
  readonly successor: 'T3' | 'T4';
}

// ---------------------------------------------------------------------------------------------
// Constants of the rendered traces (realistic fields, §3.2)

/** The connection id the origin chose in its HELLO (it accepted C1). */
export const CID = '0x5f3c8a1e9b2d47e6a0c4f18d2b7e9a31';
/** The connector's HELLO carries 16 zero bytes. */
export const ZERO_CID = '0x' + '0'.repeat(32);
/** The successor's rebind listener. */
export const ADDR = 'tcp://127.0.0.1:40123';
/** The token of handoff `hid` (§8.1: unguessable; fixed here so vectors are reproducible). */
export function tokenHex(hid: number): string {
  return '0x' + '3a9f0c7d51e2b864' + hid.toString(16).padStart(16, '0');
}
/** The stranger's token: never one the origin issued. */
export const WRONG_TOKEN = '0x' + 'd1e5c0de'.repeat(4);
/** The byte at offset k of the server's stream ('a', 'b', ...) and of the peer's stream ('A', 'B', ...). */
const downByte = (k: number): number => 0x61 + (k % 26);
const upByte = (k: number): number => 0x41 + (k % 26);
const hex2 = (n: number): string => n.toString(16).padStart(2, '0');

// ---------------------------------------------------------------------------------------------
// Initial states

/** The initial states: C1 established (HELLOs exchanged, §6.1), the origin has forked S. */
export function initialStates(opt: ModelOptions): ModelState[] {
  return opt.orders.map((order) => ({
    O: { st: 'OPEN', timers: 0, alive: true, err: '', app: true, trig: false, sendNext: 0, rcvd: 0, read: 0, copyDone: false, hid: 1 },
    S: {
      st: 'DORMANT', timers: 0, alive: true, err: '', held: [], copyNext: -1, copiedEnd: -1, orderHid: 0, attSend: -1,
      tokenUsed: false, sendNext: 0, trig: false, again: false, closed: false,
    },
    P: { st: 'OPEN', timers: 0, alive: true, err: '', sendNext: 0, rcvd: 0, cur: 1, hid: 0, c1End: -1, rebounds: 0 },
    c1: { ab: [], ba: [], bits: ConnBit.EXISTS },
    c2: { ab: [], ba: [], bits: 0 },
    l: { ab: [], ba: [], bits: ConnBit.EXISTS },
    up: 0,
    fast: order === 'fast',
    xUsed: false,
    faults: 0,
    calm: true,
  }));
}

/** The trace lines before the first step: establishment (§6.1) and the fork. */
export function prologue(s: ModelState): string[] {
  const fast = s.fast;
  return [
    'O listen',
    'P connect O',
    'O accept P',
    `P -> O HELLO cid=${ZERO_CID} maxPayload=1048576 credits=0 fast=true acceptor=false`,
    `O -> P HELLO cid=${CID} maxPayload=1048576 credits=0 fast=${fast} acceptor=true`,
    'O fork S',
  ];
}

// ---------------------------------------------------------------------------------------------
// Channels

type Chan = 'C1' | 'C2' | 'L';
/** Which end of which connection a role is. */
const ENDS: Record<'O' | 'S' | 'P', Partial<Record<Chan, 'A' | 'B'>>> = {
  O: { C1: 'A', L: 'A' },
  P: { C1: 'B', C2: 'A' },
  S: { C2: 'B', L: 'B' },
};
const OTHER: Record<Chan, { A: 'O' | 'S' | 'P'; B: 'O' | 'S' | 'P' }> = {
  C1: { A: 'O', B: 'P' },
  C2: { A: 'P', B: 'S' },
  L: { A: 'O', B: 'S' },
};

function conn(s: ModelState, c: Chan): Conn {
  return c === 'C1' ? s.c1 : c === 'C2' ? s.c2 : s.l;
}
const closedBit = (end: 'A' | 'B'): number => (end === 'A' ? ConnBit.A_CLOSED : ConnBit.B_CLOSED);
const notifiedBit = (end: 'A' | 'B'): number => (end === 'A' ? ConnBit.A_NOTIFIED : ConnBit.B_NOTIFIED);
const other = (end: 'A' | 'B'): 'A' | 'B' => (end === 'A' ? 'B' : 'A');
/** The queue toward `end`. */
const inbox = (c: Conn, end: 'A' | 'B'): string[] => (end === 'A' ? c.ba : c.ab);

/** Whether `who` can still send and receive on `c`. */
function usable(s: ModelState, who: 'O' | 'S' | 'P', c: Chan): boolean {
  const end = ENDS[who][c];
  if (end === undefined) return false;
  const k = conn(s, c);
  return (k.bits & ConnBit.EXISTS) !== 0 && (k.bits & closedBit(end)) === 0 && (k.bits & ConnBit.CONNECT_FAILED) === 0;
}

/** Puts a message in flight; it is lost if the other end closed or the transport was cut. */
function push(s: ModelState, who: 'O' | 'S' | 'P', c: Chan, msg: string): boolean {
  if (!usable(s, who, c)) return false;
  const end = ENDS[who][c] as 'A' | 'B';
  const k = conn(s, c);
  if ((k.bits & (closedBit(other(end)) | ConnBit.CUT)) !== 0) return false;
  (end === 'A' ? k.ab : k.ba).push(msg);
  return true;
}

/** `who` closes its end of `c`: it reads nothing more, what it sent is still delivered. */
function closeEnd(s: ModelState, who: 'O' | 'S' | 'P', c: Chan): void {
  const end = ENDS[who][c];
  if (end === undefined) return;
  const k = conn(s, c);
  if ((k.bits & ConnBit.EXISTS) === 0) return;
  k.bits |= closedBit(end);
  inbox(k, end).length = 0;
}

// ---------------------------------------------------------------------------------------------
// Events

/** States where the origin's application may read (§6.5: not once the origin has stopped sending or copied). */
const ORIGIN_READS = new Set(['OPEN', 'SUSPENDING']);
const ENDED: Record<Role, ReadonlySet<string>> = {
  origin: new Set(['REBOUND', 'LEFT', 'FAILED', 'CLOSED']),
  successor: new Set(['REVOKED', 'RELEASED', 'FAILED']),
  // CLOSED is the model's own end of the peer: it read the origin's FIN (O45, §9.7); the peer's
  // table has no FIN rows (docs/model.md, "What is left out").
  peer: new Set(['FAILED', 'CLOSED']),
};
/** Successor states whose rebind listener still accepts connections. */
const listening = (s: ModelState): boolean => s.S.alive && !ENDED.successor.has(s.S.st);

/** Whether the origin's application may read now: it holds the handle and no copy is made or pending (§6.5). */
export function originMayDeliver(s: ModelState): boolean {
  const O = s.O;
  return O.alive && O.app && (ORIGIN_READS.has(O.st) || (O.st === 'ABORTING' && !O.copyDone && !s.fast));
}

/** The events enabled in `s`, in a fixed order (the order is part of the replay of a run). */
export function enabledEvents(s: ModelState, opt: ModelOptions): ModelEvent[] {
  const ev: ModelEvent[] = [];
  const N = opt.data;
  const { O, S, P } = s;
  // Origin.
  if (O.alive) {
    if (O.app && (O.st === 'OPEN' || O.st === 'SUSPENDING') && O.sendNext < N && usable(s, 'O', 'C1')) ev.push({ who: 'O', kind: 'write', arg: '' });
    if (O.read < O.rcvd && originMayDeliver(s)) ev.push({ who: 'O', kind: 'read', arg: '' });
    // After an aborted handoff (hid moved on) the successor's handle is revoked: a T1/T2 then closes
    // C1 (O45, F12); it is optional there, so a resumed C1 stays an end. In REBOUND too: a trigger
    // after the commit must not start a second rebind (O37, §6.6).
    if (opt.originTrigger && O.app && !O.trig && (O.hid === 1 || O.st === 'OPEN') && O.st !== 'LEFT' && O.st !== 'FAILED') ev.push({ who: 'O', kind: 'trigger', arg: '' });
    channelEvents(s, 'O', ['C1', 'L'], ev, opt);
    timerEvents(O.timers, 'O', opt, ev);
  }
  // Successor.
  if (S.alive) {
    if (opt.successorTrigger && !S.trig && !S.closed && S.st === 'DORMANT') ev.push({ who: 'S', kind: 'trigger', arg: '' });
    // A second trigger while NEED is out (a write after a read, S29) starts nothing (§6.6).
    if (opt.successorTrigger && S.trig && !S.again && S.st === 'NEEDED') ev.push({ who: 'S', kind: 'trigger', arg: 'again' });
    if (opt.release && !S.trig && !S.closed && S.st === 'DORMANT') ev.push({ who: 'S', kind: 'app-close', arg: '' });
    if ((S.st === 'ATTACHED_COPYING' || S.st === 'BOUND' || S.st === 'OWNER') && S.sendNext < N && usable(s, 'S', 'C2')) {
      ev.push({ who: 'S', kind: 'write', arg: '' });
    }
    channelEvents(s, 'S', ['L', 'C2'], ev, opt);
    timerEvents(S.timers, 'S', opt, ev);
  }
  // Peer.
  if (P.alive) {
    if (P.st === 'OPEN' && P.sendNext < N && usable(s, 'P', P.cur === 1 ? 'C1' : 'C2')) ev.push({ who: 'P', kind: 'write', arg: '' });
    channelEvents(s, 'P', ['C1', 'C2'], ev, opt);
    if ((s.c2.bits & ConnBit.CONNECT_FAILED) !== 0 && (s.c2.bits & (ConnBit.A_NOTIFIED | ConnBit.A_CLOSED)) === 0) ev.push({ who: 'P', kind: 'connect-failed', arg: 'C2' });
    timerEvents(P.timers, 'P', opt, ev);
  }
  // The stranger (§8.3). Its ATTACH is handled in one step, so it comes only where the successor
  // does not defer ATTACH (an unarmed successor leaves it queued until ORDER arrives: the same thing).
  if (opt.stranger && !s.xUsed && listening(s) && !defers(opt.tables.successor, S.st, 'recv ATTACH')) ev.push({ who: 'X', kind: 'attach', arg: '' });
  // The environment (§9.3–9.6).
  if (s.faults < opt.failures) {
    for (const who of ['O', 'S', 'P'] as const) if (s[who].alive) ev.push({ who: 'E', kind: 'kill', arg: who });
    for (const c of opt.cutLocal ? (['C1', 'C2', 'L'] as const) : (['C1', 'C2'] as const)) {
      const k = conn(s, c);
      const open = (k.bits & ConnBit.EXISTS) !== 0 && (k.bits & (ConnBit.CUT | ConnBit.CONNECT_FAILED)) === 0;
      if (open && (k.bits & ConnBit.A_CLOSED) === 0 && (k.bits & ConnBit.B_CLOSED) === 0) ev.push({ who: 'E', kind: 'cut', arg: c });
    }
  }
  return ev;
}

/**
 * Events a run need not take before it ends: the environment's (kills, cuts), the stranger's, and
 * the triggers that must change nothing (a trigger after the commit, O37; a second T3/T4, S29).
 */
export function isOptional(ev: ModelEvent, s: ModelState): boolean {
  if (ev.who === 'E' || ev.who === 'X') return true;
  return ev.kind === 'trigger' && ((ev.who === 'O' && (s.O.st === 'REBOUND' || s.O.hid !== 1)) || ev.arg === 'again');
}

/**
 * Receives and channel losses of `who`. A message its table defers in the current state (SDL save,
 * states.json "defer") is not received: it stays at the head of its FIFO channel, and so does
 * everything behind it, until a state that does not defer it (F1: an ATTACH that overtook ORDER).
 */
function channelEvents(s: ModelState, who: 'O' | 'S' | 'P', chans: readonly Chan[], ev: ModelEvent[], opt: ModelOptions): void {
  for (const c of chans) {
    const end = ENDS[who][c] as 'A' | 'B';
    const k = conn(s, c);
    if ((k.bits & ConnBit.EXISTS) === 0 || (k.bits & closedBit(end)) !== 0 || (k.bits & ConnBit.CONNECT_FAILED) !== 0) continue;
    const q = inbox(k, end);
    const head = q[0];
    if (head !== undefined && defers(opt.tables[ROLE[who]], s[who].st, `recv ${decodeMsg(head)[0] ?? ''}`)) continue;
    if (q.length > 0) ev.push({ who, kind: 'recv', arg: c });
    else if ((k.bits & (closedBit(other(end)) | ConnBit.CUT)) !== 0 && (k.bits & notifiedBit(end)) === 0) ev.push({ who, kind: 'lost', arg: c });
  }
}

function timerEvents(timers: number, who: 'O' | 'S' | 'P', opt: ModelOptions, ev: ModelEvent[]): void {
  if (!opt.timers || timers === 0) return;
  for (const name of TIMER_BITS) {
    if ((timers & timerBit(name)) !== 0) ev.push({ who, kind: 'timer', arg: name });
  }
}

// ---------------------------------------------------------------------------------------------
// Steps

const ROLE: Record<'O' | 'S' | 'P', Role> = { O: 'origin', S: 'successor', P: 'peer' };

/** Per-step context. */
interface Ctx {
  readonly s: ModelState;
  readonly opt: ModelOptions;
  readonly log: StepLog;
  readonly labels: TraceLabels;
}

function line(ctx: Ctx, text: string): void {
  ctx.log.lines?.push(text);
}

/** Executes `ev` on a copy of `s`. */
export function step(s0: ModelState, ev: ModelEvent, opt: ModelOptions, log: StepLog, labels: TraceLabels = { origin: 'T1', successor: 'T3' }): ModelState {
  const s = cloneState(s0);
  const ctx: Ctx = { s, opt, log, labels };
  switch (ev.kind) {
    case 'write': {
      if (ev.who === 'O') {
        line(ctx, `O send len=1 data="${String.fromCharCode(downByte(s.O.sendNext))}"`);
        send(ctx, 'O', 'C1', encodeMsg('DATA', s.O.sendNext));
        s.O.sendNext++;
      } else if (ev.who === 'S') {
        line(ctx, `S send len=1 data="${String.fromCharCode(downByte(s.S.sendNext))}"`);
        send(ctx, 'S', 'C2', encodeMsg('DATA', s.S.sendNext));
        s.S.sendNext++;
      } else {
        line(ctx, `P send len=1 data="${String.fromCharCode(upByte(s.P.sendNext))}"`);
        send(ctx, 'P', s.P.cur === 1 ? 'C1' : 'C2', encodeMsg('DATA', s.P.sendNext));
        s.P.sendNext++;
      }
      break;
    }
    case 'read':
      deliverUp(ctx, 'O', s.O.read);
      s.O.read++;
      break;
    case 'trigger':
      if (ev.who === 'O') {
        // T1 is the application's close, T2 its exit (§2.4, §13.1).
        line(ctx, labels.origin === 'T1' ? 'O close' : 'O exit');
        s.O.app = false;
        s.O.trig = true;
        handle(ctx, 'O', 'trigger', null, null);
      } else {
        line(ctx, `S trigger ${ev.arg === 'again' ? (labels.successor === 'T3' ? 'T4' : 'T3') : labels.successor}`);
        if (ev.arg === 'again') s.S.again = true;
        s.S.trig = true;
        handle(ctx, 'S', 'trigger', null, null);
      }
      break;
    case 'app-close':
      line(ctx, 'S close');
      s.S.closed = true;
      handle(ctx, 'S', 'app close', null, null);
      break;
    case 'recv': {
      const who = ev.who as 'O' | 'S' | 'P';
      const c = ev.arg as Chan;
      const end = ENDS[who][c] as 'A' | 'B';
      const msg = inbox(conn(s, c), end).shift() as string;
      const parts = decodeMsg(msg);
      line(ctx, `${who} <~ ${OTHER[c][other(end)]} ${parts[0]}`);
      if (who === 'P' && parts[0] === 'FIN') {
        // The origin's ordinary close (O45, §9.7): the peer reads the end of the stream and closes C1.
        s.P.st = 'CLOSED';
        s.P.timers = 0;
        closeEnd(s, 'P', c);
        break;
      }
      handle(ctx, who, `recv ${parts[0]}`, parts, c);
      break;
    }
    case 'lost': {
      const who = ev.who as 'O' | 'S' | 'P';
      const c = ev.arg as Chan;
      conn(s, c).bits |= notifiedBit(ENDS[who][c] as 'A' | 'B');
      line(ctx, `# ${who} sees ${c} lost`);
      handle(ctx, who, `lost ${c}`, null, c);
      break;
    }
    case 'connect-failed':
      s.c2.bits |= ConnBit.A_NOTIFIED;
      line(ctx, 'P fail code=UNREACHABLE');
      handle(ctx, 'P', 'connect-failed', null, 'C2');
      break;
    case 'timer': {
      const who = ev.who as 'O' | 'S' | 'P';
      s.calm = false;
      // A timer that fired is no longer running.
      s[who].timers &= ~timerBit(ev.arg);
      line(ctx, `${who} timeout ${ev.arg}`);
      handle(ctx, who, `timer ${ev.arg}`, null, null);
      break;
    }
    case 'attach': {
      s.xUsed = true;
      s.calm = false;
      const hid = s.S.orderHid || s.O.hid;
      line(ctx, 'X connect S');
      line(ctx, 'S accept X');
      line(ctx, `X ~> S ATTACH cid=${CID} hid=${hid} token=${WRONG_TOKEN} recvOffset=0 sendOffset=0 credits=0 peerFin=false`);
      line(ctx, 'S <~ X ATTACH');
      handle(ctx, 'S', 'recv ATTACH', ['ATTACH', String(hid), 'W', '0', '0'], 'X');
      break;
    }
    case 'kill': {
      const who = ev.arg as 'O' | 'S' | 'P';
      s.faults++;
      s.calm = false;
      line(ctx, `${who} kill`);
      s[who].alive = false;
      for (const c of Object.keys(ENDS[who]) as Chan[]) closeEnd(s, who, c);
      break;
    }
    case 'cut': {
      const c = ev.arg as Chan;
      s.faults++;
      s.calm = false;
      const k = conn(s, c);
      k.ab.length = 0;
      k.ba.length = 0;
      k.bits |= ConnBit.CUT;
      line(ctx, `${OTHER[c].A} cut ${OTHER[c].B}`);
      break;
    }
  }
  checkState(ctx);
  return s;
}

/** The state invariants checked after every step (docs/model.md). */
function checkState(ctx: Ctx): void {
  const { s } = ctx;
  // At most one owner: the successor committed while the origin may still deliver (§6.6).
  if (s.S.alive && s.S.st === 'OWNER' && originMayDeliver(s)) {
    ctx.log.violations.push(`two owners: the successor is OWNER while the origin (${s.O.st}) may still deliver to its application (§6.6)`);
  }
  // No second rebind (§6.6).
  if (s.P.rebounds > 1) ctx.log.violations.push('second rebind: the peer sent REBOUND twice for one connection (§6.6)');
}

/** Delivers byte `off` of the peer's stream to a server-side application (exactly-once, §6.4). */
function deliverUp(ctx: Ctx, who: 'O' | 'S', off: number): void {
  const { s } = ctx;
  line(ctx, `${who} recv len=1 data="${String.fromCharCode(upByte(off))}"`);
  if (off !== s.up) {
    const what = off < s.up ? 'a duplicate' : 'a gap (bytes lost)';
    ctx.log.violations.push(`exactly-once: ${who === 'O' ? 'the origin' : 'the successor'} delivered byte ${off} of the peer's stream to its application, expected ${s.up}: ${what} (§6.4)`);
    return;
  }
  s.up++;
}

/** Delivers byte `off` of the server's stream to the peer's application (exactly-once, §6.4). */
function deliverDown(ctx: Ctx, off: number): void {
  const { s } = ctx;
  line(ctx, `P recv len=1 data="${String.fromCharCode(downByte(off))}"`);
  if (off !== s.P.rcvd) {
    const what = off < s.P.rcvd ? 'a duplicate' : 'a gap (bytes lost)';
    ctx.log.violations.push(`exactly-once: the peer delivered byte ${off} of the server's stream to its application, expected ${s.P.rcvd}: ${what} (§6.4)`);
    return;
  }
  s.P.rcvd++;
}

// ---------------------------------------------------------------------------------------------
// The tables

/** The rows of `table` for (state, event), in table order. */
function rowsFor(table: RoleTable, state: string, event: string): Transition[] {
  return table.transitions.filter((t) => {
    const froms = typeof t.from === 'string' ? [t.from] : t.from;
    const ons = typeof t.on === 'string' ? [t.on] : t.on;
    return froms.includes(state) && ons.includes(event);
  });
}

/**
 * Handles one event of `who` by the tables. A successor in OWNER is the origin of the connection
 * (§6.6: "the origin of any later handoff"), so it is driven by the origin's row for OPEN, its C2
 * playing the part of C1.
 */
function handle(ctx: Ctx, who: 'O' | 'S' | 'P', event: string, msg: string[] | null, chan: Chan | 'X' | null): void {
  const { s, opt } = ctx;
  const role = ROLE[who];
  const asOrigin = who === 'S' && s.S.st === 'OWNER' && chan !== 'X';
  const table = asOrigin ? opt.tables.origin : opt.tables[role];
  const state = asOrigin ? 'OPEN' : s[who].st;
  // The peer's OPEN is "the current connection" (§7.3): after a handoff C2 plays the part of C1.
  const onC2 = asOrigin || (who === 'P' && s.P.st === 'OPEN' && s.P.cur === 2);
  const tableEvent = onC2 ? event.replace('C2', 'C1') : event;
  let rows = rowsFor(table, state, tableEvent);
  rows = rows.filter((r) => guardHolds(ctx, who, r.if, msg));
  if (rows.length > 1) ctx.log.findings.push({ kind: 'ambiguous', role, state, event });
  const row = rows[0];
  if (row === undefined) {
    silence(ctx, who, event, msg, chan, asOrigin ? 'OWNER' : state);
    return;
  }
  ctx.log.rows.push(row.id);
  if (who === 'S' && chan === 'X' && (row.do.includes('consume token') || row.do.includes('send ATTACHED'))) {
    ctx.log.violations.push(`wrong token attached: the successor took row ${row.id} for the stranger's ATTACH (§8.2)`);
  }
  note(ctx, who, msg);
  for (const action of row.do) {
    if (!act(ctx, who, action, msg, chan, asOrigin, event)) return;
  }
  if (asOrigin) {
    // The owner stays OWNER unless the origin's row ends the connection.
    if (row.to === 'FAILED') s.S.st = 'FAILED';
  } else if (row.to !== '=') {
    s[who].st = row.to;
    if (who === 'O' && row.to === 'REBOUND') line(ctx, 'O rebound');
  }
}

/** Where the table has no row: §7.5 for messages, otherwise the event is ignored. Both are reported. */
function silence(ctx: Ctx, who: 'O' | 'S' | 'P', event: string, msg: string[] | null, chan: Chan | 'X' | null, state: string): void {
  const { s } = ctx;
  const role = ROLE[who];
  if (msg === null) {
    const kind = event.startsWith('lost') ? 'silent-lost' : event.startsWith('timer') ? 'silent-timer' : event === 'connect-failed' ? 'silent-connect' : 'silent-trigger';
    if (!ENDED[role].has(state) && !(kind === 'silent-lost' && state === 'OWNER' && event === 'lost L')) ctx.log.findings.push({ kind, role, state, event });
    if (event.startsWith('timer ')) s[who].timers &= ~timerBit(event.slice(6));
    return;
  }
  if (chan === 'X') {
    // The stranger's connection to a successor that ended: the listener is gone; nothing to do.
    return;
  }
  if (ENDED[role].has(state)) {
    ctx.log.findings.push({ kind: 'late', role, state, event });
    return;
  }
  // §7.5: UNEXPECTED_MESSAGE, the connection fails on this role.
  ctx.log.findings.push({ kind: 'unexpected', role, state, event });
  line(ctx, `# §7.5: no row for ${event} in ${role} ${state}`);
  if (chan === 'C1' || chan === 'C2') send(ctx, who, chan, encodeMsg('ERROR', 'UNEXPECTED_MESSAGE'));
  // Like every failure of the origin (O7, O13...), it revokes the successor's handle.
  if (who === 'O') send(ctx, 'O', 'L', encodeMsg('REVOKE', s.O.hid, 'UNEXPECTED_MESSAGE'));
  fail(ctx, who, 'UNEXPECTED_MESSAGE');
  s[who].st = 'FAILED';
}

/**
 * Guard `successorHolds` (§2.4, F12) as the origin knows it: its one successor has not been revoked
 * (an aborted handoff moves the hid on), the origin has not seen L lost, and it has not received the
 * successor's RELEASE (§5.8). An owning successor has no successor of its own in this model.
 */
function successorHolds(s: ModelState): boolean {
  const end = ENDS.O.L as 'A' | 'B';
  const l = conn(s, 'L');
  const lostSeen = (l.bits & notifiedBit(end)) !== 0;
  const releaseSeen = s.S.closed && !inbox(l, end).includes('RELEASE');
  return s.O.hid === 1 && !lostSeen && !releaseSeen;
}

/** Guards of §7 (states.json "guards"). */
function guardHolds(ctx: Ctx, who: 'O' | 'S' | 'P', guard: string | undefined, msg: string[] | null): boolean {
  if (guard === undefined) return true;
  const { s } = ctx;
  return guard.split('&').every((raw) => {
    const g = raw.trim();
    const neg = g.startsWith('!');
    const name = neg ? g.slice(1) : g;
    let v: boolean;
    switch (name) {
      case 'fast': v = s.fast; break;
      case 'appHolds': v = s.O.app; break;
      case 'successorHolds': v = who === 'O' && successorHolds(s); break;
      case 'copyDone': v = s.O.copyDone; break;
      case 'offerFast': v = true; break;
      // One successor: a NEED always comes from the successor the connection moved to (§6.6, O38/O43).
      case 'staleHolder': v = false; break;
      case 'tokenOk': {
        // §8.2: cid, hid and token match the armed ORDER and the token is unused.
        const hid = Number(msg?.[1]);
        v = s.S.orderHid !== 0 && hid === s.S.orderHid && msg?.[2] === String(s.S.orderHid) && !s.S.tokenUsed;
        break;
      }
      case 'offsetsOk':
        // §6.4: ATTACHED echoes the offsets the peer sent in ATTACH.
        v = !ctx.opt.offsetChecks || (Number(msg?.[2]) === s.P.c1End && Number(msg?.[3]) === s.P.rcvd);
        break;
      default:
        throw new Error(`unknown guard ${name} in the ${ROLE[who]} table`);
    }
    return neg ? !v : v;
  });
}

/** What a role learns from a message whose row it takes (fields it keeps for later actions). */
function note(ctx: Ctx, who: 'O' | 'S' | 'P', msg: string[] | null): void {
  if (msg === null) return;
  const { s } = ctx;
  const name = msg[0];
  if (who === 'S' && name === 'ORDER') {
    s.S.orderHid = Number(msg[1]);
    s.S.sendNext = Number(msg[3]);
  } else if (who === 'S' && name === 'COPIED') {
    s.S.copiedEnd = Number(msg[2]);
  } else if (who === 'P' && (name === 'SUSPEND' || name === 'REBIND')) {
    s.P.hid = Number(msg[1]);
  }
}

/** Executes one action of a row; false stops the row (a failed check). */
function act(ctx: Ctx, who: 'O' | 'S' | 'P', action: string, msg: string[] | null, chan: Chan | 'X' | null, asOrigin: boolean, event: string): boolean {
  const { s } = ctx;
  const [verb, arg = ''] = action.split(' ');
  switch (verb) {
    case 'send': {
      const m = /^([A-Z]+)(?:\(([A-Z_]+)\))?$/.exec(arg);
      if (m === null) throw new Error(`bad action ${action}`);
      sendByName(ctx, who, m[1] as string, m[2], msg, chan, asOrigin);
      return true;
    }
    case 'start':
      s[who].timers |= timerBit(arg);
      return true;
    case 'stop':
      s[who].timers &= ~timerBit(arg);
      return true;
    case 'copy': {
      // §6.5: COPY* for the bytes the application has not read, then COPIED.
      const O = s.O;
      for (let k = O.read; k < O.rcvd; k++) send(ctx, 'O', 'L', encodeMsg('COPY', O.hid, k));
      send(ctx, 'O', 'L', encodeMsg('COPIED', O.hid, O.rcvd));
      O.copyDone = true;
      return true;
    }
    case 'hold':
      if (msg !== null) {
        const off = Number(msg[0] === 'COPY' ? msg[2] : msg[1]);
        s.S.held.push(off);
        if (msg[0] === 'COPY') s.S.copyNext = off + 1;
      }
      return true;
    case 'deliver': {
      // Held bytes go to the application in offset order (states.json: 'deliver'): in the fast order
      // C2 DATA (S14) may arrive before the COPY frames (S13) it follows.
      const held = s.S.held.sort((x, y) => x - y);
      s.S.held = [];
      for (const off of held) deliverUp(ctx, 'S', off);
      return true;
    }
    case 'accept': {
      const off = Number(msg?.[1]);
      if (who === 'P') deliverDown(ctx, off);
      else if (asOrigin) deliverUp(ctx, 'S', off);
      else if (off !== s.O.rcvd) ctx.log.violations.push(`exactly-once: the origin received byte ${off} of the peer's stream on C1, expected ${s.O.rcvd} (§6.4)`);
      else {
        if (s.O.copyDone) line(ctx, `# byte ${off} reached the origin after its copy: only the origin's own application could still read it (Fig. 8)`);
        s.O.rcvd++;
      }
      return true;
    }
    case 'resume':
      if (who === 'O') {
        line(ctx, 'O resume');
        s.O.copyDone = false;
        s.O.hid += 2;
      } else if (who === 'P') {
        if (event === 'recv ATTACHED' && usable(s, 'P', 'C2')) {
          // The stream continues on C2 (Claim 11: C1 is closed once C2 is up).
          s.P.cur = 2;
          closeEnd(s, 'P', 'C1');
          line(ctx, 'P resume');
        } else {
          // The stream continues on C1; the peer gives C2 up (if it was connected at all).
          s.P.cur = 1;
          closeEnd(s, 'P', 'C2');
          line(ctx, 'P resume');
        }
      }
      return true;
    case 'connect': {
      line(ctx, 'P connect S');
      s.c2 = { ab: [], ba: [], bits: ConnBit.EXISTS | (listening(s) ? 0 : ConnBit.CONNECT_FAILED) };
      if (listening(s)) line(ctx, 'S accept P');
      return true;
    }
    case 'close': {
      if (chan === 'X' && arg === 'C2') return true; // S12: the stranger's connection
      const c = (asOrigin && arg === 'C1' ? 'C2' : arg) as Chan;
      line(ctx, `# ${who} closes ${c}`);
      closeEnd(s, who, c);
      return true;
    }
    case 'fail':
      fail(ctx, who, arg);
      return true;
    case 'consume':
      s.S.tokenUsed = true;
      s.S.attSend = Number(msg?.[4]);
      return true;
    case 'check': {
      if (check(ctx, arg, msg)) return true;
      // A failed §6.4 check: the connection fails on the successor with the named error.
      line(ctx, `# check ${arg} failed`);
      if (usable(s, 'S', 'C2')) send(ctx, 'S', 'C2', encodeMsg('ERROR', arg));
      closeEnd(s, 'S', 'C2');
      fail(ctx, 'S', arg);
      s.S.st = 'FAILED';
      return false;
    }
    default:
      throw new Error(`unknown action "${action}" in the ${ROLE[who]} table`);
  }
}

/** The §6.4/§6.5 checks of the successor. */
function check(ctx: Ctx, what: string, msg: string[] | null): boolean {
  const { s, opt } = ctx;
  const S = s.S;
  if (msg === null) return true;
  if (what === 'OFFSET_MISMATCH') return S.copyNext < 0 || S.copyNext === Number(msg[2]);
  if (what === 'STREAM_GAP') {
    if (!opt.offsetChecks) return true; // Fig. 8 has no offsets to compare
    if (msg[0] === 'COPIED') {
      const end = Number(msg[2]);
      return (S.copyNext < 0 || S.copyNext === end) && (S.attSend < 0 || S.attSend === end);
    }
    if (msg[0] === 'ATTACH') return S.copiedEnd < 0 || S.copiedEnd === Number(msg[4]);
    return true;
  }
  throw new Error(`unknown check ${what}`);
}

/** `fail CODE`: the connection fails on this role; its transports of the connection close. */
function fail(ctx: Ctx, who: 'O' | 'S' | 'P', code: string): void {
  const { s } = ctx;
  s[who].err = code;
  s[who].timers = 0;
  line(ctx, `${who} fail code=${code}`);
  if (who === 'O') closeEnd(s, 'O', 'C1');
  if (who === 'S') closeEnd(s, 'S', 'C2');
  if (who === 'P') {
    closeEnd(s, 'P', 'C1');
    closeEnd(s, 'P', 'C2');
  }
}

/** The message a row's `send NAME(CODE)` puts on the wire, with the fields the role knows (§4, §5). */
function sendByName(ctx: Ctx, who: 'O' | 'S' | 'P', name: string, code: string | undefined, msg: string[] | null, chan: Chan | 'X' | null, asOrigin: boolean): void {
  const { s } = ctx;
  if (who === 'O' || asOrigin) {
    const O = s.O;
    // An owning successor has no successor of its own in this model: its local sends go nowhere.
    if (asOrigin && ['ORDER', 'COMMIT', 'REVOKE'].includes(name)) return;
    // No second rebind (§6.6): once rebound (or gone), the origin never starts a handoff again.
    if (!asOrigin && (O.st === 'REBOUND' || O.st === 'LEFT') && ['SUSPEND', 'REBIND', 'ORDER'].includes(name)) {
      ctx.log.violations.push(`second rebind: the origin sent ${name} in ${O.st} (§6.6)`);
    }
    const wire: Chan = asOrigin ? 'C2' : 'C1';
    switch (name) {
      case 'SUSPEND': send(ctx, who, wire, s.fast ? encodeMsg('SUSPEND', O.hid, 1, O.sendNext) : encodeMsg('SUSPEND', O.hid, 0)); return;
      case 'ORDER': send(ctx, who, 'L', encodeMsg('ORDER', O.hid, s.fast ? 1 : 0, O.sendNext)); return;
      case 'REBIND': send(ctx, who, wire, encodeMsg('REBIND', O.hid, O.sendNext)); return;
      case 'COMMIT': send(ctx, who, 'L', encodeMsg('COMMIT', O.hid)); return;
      case 'REVOKE': send(ctx, who, 'L', encodeMsg('REVOKE', O.hid, code ?? 'ABORTED')); return;
      case 'ABORT': send(ctx, who, wire, encodeMsg('ABORT', O.hid, code ?? 'ABORTED')); return;
      case 'ERROR': send(ctx, who, wire, encodeMsg('ERROR', code ?? 'ABORTED')); return;
      case 'FIN': send(ctx, who, wire, encodeMsg('FIN', O.sendNext)); return;
    }
  } else if (who === 'S') {
    const S = s.S;
    switch (name) {
      case 'NEED': send(ctx, 'S', 'L', encodeMsg('NEED', 3)); return;
      case 'RELEASE': send(ctx, 'S', 'L', 'RELEASE'); return;
      // ATTACHED echoes the offsets as the successor sees them (§4.8): where it receives the peer's
      // stream from (COPIED.recvEnd, or ATTACH.sendOffset before the copy is complete) and where it
      // sends the server's stream from (ORDER.sendEnd).
      case 'ATTACHED': send(ctx, 'S', 'C2', encodeMsg('ATTACHED', S.orderHid, S.copiedEnd >= 0 ? S.copiedEnd : S.attSend, S.sendNext)); return;
      case 'REFUSE': {
        const hid = Number(msg?.[1] ?? 0);
        if (chan === 'X') line(ctx, `S ~> X REFUSE hid=${hid} code=${code ?? 'TOKEN_INVALID'}`);
        else send(ctx, 'S', 'C2', encodeMsg('REFUSE', hid, code ?? 'TOKEN_INVALID'));
        return;
      }
      case 'ERROR': send(ctx, 'S', 'C2', encodeMsg('ERROR', code ?? 'UNEXPECTED_MESSAGE')); return;
    }
  } else {
    const P = s.P;
    switch (name) {
      case 'SUSPENDED':
        P.c1End = P.sendNext;
        send(ctx, 'P', 'C1', encodeMsg('SUSPENDED', P.hid, P.sendNext, P.rcvd));
        return;
      case 'ATTACH':
        if (P.c1End < 0) P.c1End = P.sendNext; // Fig. 8: no SUSPENDED, the peer stops at REBIND
        send(ctx, 'P', 'C2', encodeMsg('ATTACH', P.hid, P.hid, P.rcvd, P.c1End));
        return;
      case 'REBOUND':
        P.rebounds++;
        send(ctx, 'P', 'C1', encodeMsg('REBOUND', P.hid));
        return;
      case 'ABORT': send(ctx, 'P', 'C1', encodeMsg('ABORT', P.hid, code ?? 'ABORTED')); return;
      case 'ERROR': send(ctx, 'P', 'C2', encodeMsg('ERROR', code ?? 'UNEXPECTED_MESSAGE')); return;
    }
  }
  throw new Error(`the ${ROLE[who]} cannot send ${name}`);
}

/** Sends an encoded message and records it in the trace with realistic fields. */
function send(ctx: Ctx, who: 'O' | 'S' | 'P', c: Chan, msg: string): void {
  const end = ENDS[who][c];
  if (end === undefined) return;
  const to = OTHER[c][other(end)];
  // A message into a closed or cut connection is still sent (the sender's projection shows it); it
  // just never arrives.
  push(ctx.s, who, c, msg);
  line(ctx, `${who} ~> ${to} ${renderMsg(ctx, msg, who === 'P')}`);
}

/** A message in the trace notation (§13.1) with every field of its layout (§4, §5). */
export function renderMsg(ctx: { s: ModelState; labels: TraceLabels }, msg: string, fromPeer: boolean): string {
  const p = decodeMsg(msg);
  const [name = ''] = p;
  const n = (i: number): number => Number(p[i]);
  const w = (i: number): string => p[i] ?? '';
  switch (name) {
    case 'DATA': return `DATA offset=${n(1)} data=0x${hex2(fromPeer ? upByte(n(1)) : downByte(n(1)))}`;
    case 'SUSPEND':
      return n(2) === 1
        ? `SUSPEND hid=${n(1)} fast=true sendEnd=${n(3)} token=${tokenHex(n(1))} addr="${ADDR}"`
        : `SUSPEND hid=${n(1)} fast=false`;
    case 'SUSPENDED': return `SUSPENDED hid=${n(1)} sendEnd=${n(2)} recvOffset=${n(3)}`;
    case 'REBIND': return `REBIND hid=${n(1)} sendEnd=${n(2)} token=${tokenHex(n(1))} addr="${ADDR}"`;
    case 'ATTACH': return `ATTACH cid=${CID} hid=${n(1)} token=${tokenHex(n(2))} recvOffset=${n(3)} sendOffset=${n(4)} credits=0 peerFin=false`;
    case 'ATTACHED': return `ATTACHED hid=${n(1)} recvOffset=${n(2)} sendOffset=${n(3)} credits=0`;
    case 'REBOUND': return `REBOUND hid=${n(1)}`;
    case 'ABORT': return `ABORT hid=${n(1)} code=${w(2)}`;
    case 'REFUSE': return `REFUSE hid=${n(1)} code=${w(2)}`;
    case 'ERROR': return `ERROR code=${w(1)} reason=""`;
    case 'NEED': return `NEED cid=${CID} trigger=${ctx.labels.successor === 'T4' ? 4 : 3}`;
    case 'ORDER': return `ORDER cid=${CID} hid=${n(1)} token=${tokenHex(n(1))} sendEnd=${n(3)} fast=${n(2) === 1} originFin=false`;
    case 'COPY': return `COPY cid=${CID} hid=${n(1)} offset=${n(2)} data=0x${hex2(upByte(n(2)))}`;
    case 'COPIED': return `COPIED cid=${CID} hid=${n(1)} recvEnd=${n(2)} peerFin=false`;
    case 'COMMIT': return `COMMIT cid=${CID} hid=${n(1)}`;
    case 'REVOKE': return `REVOKE cid=${CID} hid=${n(1)} code=${w(2)}`;
    case 'RELEASE': return `RELEASE cid=${CID}`;
    case 'FIN': return `FIN offset=${n(1)}`;
    default: return name;
  }
}

// ---------------------------------------------------------------------------------------------
// Ends of runs

/** How a run ended (a state with no enabled event). */
export interface Outcome {
  /** completed | resumed | untriggered | error | stuck */
  readonly kind: 'completed' | 'resumed' | 'untriggered' | 'closed' | 'error' | 'stuck';
  /** Whether the end is allowed (docs/model.md, "every run ends..."). */
  readonly ok: boolean;
  /** A canonical description: each role's state and error. */
  readonly detail: string;
  /** Why the end is not allowed. */
  readonly problem?: string;
}

const roleEnd = (p: { st: string; alive: boolean; err: string }): string => (p.alive ? p.st + (p.err && p.err !== p.st ? `(${p.err})` : '') : 'dead');

/** Classifies a final state and checks completeness (exactly-once at the end, §6.4). */
export function classifyEnd(s: ModelState, opt: ModelOptions): Outcome {
  const { O, S, P } = s;
  const N = opt.data;
  const detail = `O=${roleEnd(O)} S=${roleEnd(S)} P=${roleEnd(P)}${P.alive && P.st === 'OPEN' ? ` on C${P.cur}` : ''}`;
  const complete = s.up === N && P.rcvd === N && P.sendNext === N;
  const ended = (role: Role, p: { st: string; alive: boolean }): boolean => !p.alive || ENDED[role].has(p.st);
  const incomplete = `data incomplete: ${s.up}/${N} bytes of the peer's stream and ${P.rcvd}/${N} of the server's delivered`;
  if (P.alive && P.st === 'OPEN' && P.cur === 2 && S.alive && S.st === 'OWNER' && (ended('origin', O))) {
    return complete ? { kind: 'completed', ok: true, detail } : { kind: 'completed', ok: false, detail, problem: incomplete };
  }
  if (P.alive && P.st === 'OPEN' && P.cur === 1 && O.alive && O.st === 'OPEN' && O.app && (ended('successor', S) || S.st === 'DORMANT')) {
    const kind = O.hid === 1 && S.st !== 'REVOKED' && S.st !== 'FAILED' ? 'untriggered' : 'resumed';
    return complete ? { kind, ok: true, detail } : { kind, ok: false, detail, problem: incomplete };
  }
  if (O.alive && O.st === 'CLOSED' && P.alive && P.st === 'CLOSED' && (ended('successor', S) || S.st === 'DORMANT')) {
    // An ordinary close (O45, §9.7): the peer got every byte the origin sent, then FIN.
    return P.rcvd === O.sendNext ? { kind: 'closed', ok: true, detail } : { kind: 'closed', ok: false, detail, problem: `data incomplete: ${P.rcvd}/${O.sendNext} bytes of the server's stream delivered before FIN` };
  }
  if (ended('origin', O) && ended('successor', S) && ended('peer', P)) return { kind: 'error', ok: true, detail };
  return { kind: 'stuck', ok: false, detail, problem: 'deadlock: no event is enabled and the run is not a completed handoff, a resumed C1 or a clean error on every live role' };
}
