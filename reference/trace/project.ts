/**
 * Projection of a trace (spec §13.2): from the events of every process, derive for each connection
 * and each ownership epoch the sequence of symbols each role saw. The ordering grammar (§7.4,
 * `grammar/ordering.peggy`) then reads one role's symbols at a time.
 *
 * Roles are not fixed per actor (§2.1):
 * - the **peer** is the actor that `connect`s (or whose partner `accept`s); it keeps that role for
 *   the life of the connection;
 * - the first **owner** is the acceptor; every actor it forks (`fork X`, `join X`) holds a dormant
 *   handle and is a **successor** candidate;
 * - a handoff commits for each role at its own point: for the peer when it sends REBOUND (or
 *   receives ATTACHED after losing C1, §9.3); for the successor when it receives COMMIT after
 *   sending ATTACHED, or, when its origin died or gave up first (L lost, or COMMIT before ATTACH,
 *   §9.3, §9.6), when it sends ATTACHED. From then on that actor's events belong
 *   to the next **epoch**, in which the successor is the owner (the origin of the next handoff,
 *   hid + 2, §10.1). The old origin keeps its epoch: whatever it does later is checked there.
 *
 * The channel of a message is implied by the roles of its two ends (§13.1): peer–owner C1,
 * peer–successor C2, owner–successor L. Messages pair FIFO per (sender, receiver) direction.
 *
 * @module
 */
import { diagnostic, type Diagnostic } from '../diagnostics.js';
import type { Role } from '../tables.js';
import type { FieldValue, TraceEvent } from './events.js';

/** A channel of §2.1. */
export type TraceChannel = 'C1' | 'C2' | 'L';

/**
 * One symbol of a role's projection (§7.4): `!NAME` the role sends, `?NAME` it receives, `@action`
 * an application or environment action. DATA, FIN and ERROR carry their channel (`!DATA@C1`);
 * SUSPEND and ORDER carry `.fast` in the fast order (§6.3); actions carry their argument
 * (`@trigger.T3`, `@timeout.SUSPEND`, `@lost.C1`, `@connect.C2`, `@fail.UNREACHABLE`).
 */
export interface RoleSymbol {
  readonly word: string;
  /** The trace line the symbol comes from (for a receive: the line where it was received). */
  readonly event: TraceEvent;
  /** The hid of the message, when it carries one. */
  readonly hid?: number;
  /** The other end of a message, or the dead actor of a `@lost` symbol. */
  readonly counterpart?: string;
}

/** The symbols one actor saw in one role, on one connection, during one ownership epoch. */
export interface Projection {
  /** Index of the connection in order of establishment (0-based). */
  readonly connection: number;
  /** 0 while the first owner holds the connection; +1 per committed handoff. */
  readonly epoch: number;
  readonly role: Role;
  readonly actor: string;
  readonly symbols: RoleSymbol[];
}

/** One view of a message: which connection, epoch and role it belongs to at one end. */
export interface MessageView {
  readonly epoch: number;
  readonly role: Role;
  readonly channel: TraceChannel;
}

/** A message of the trace, with its send and (if any) its receipt. */
export interface TraceMessage {
  readonly name: string;
  readonly from: string;
  readonly to: string;
  readonly sent: TraceEvent;
  /** The line where it was delivered; undefined while in flight at the end of the trace. */
  received?: TraceEvent;
  /** The fields of the send (or of the receive, when the send gave none). */
  readonly fields: Readonly<Record<string, FieldValue>>;
  /** The connection it belongs to, if one could be found. */
  connection?: number;
  senderView?: MessageView;
  receiverView?: MessageView;
}

/** One ownership epoch of a connection. */
export interface TraceEpoch {
  readonly index: number;
  /** The owner (the origin of every handoff of this epoch). */
  readonly owner: string;
  /** The successor that committed (the owner of the next epoch), once known. */
  committedTo?: string;
  /** The hids used in this epoch, in order of first appearance. */
  readonly hids: number[];
}

/** A connection: its two ends and its epochs. */
export interface TraceConnection {
  readonly index: number;
  /** The connecting end (the peer of every handoff of the accepting end). */
  readonly peer: string;
  /** The cid from the acceptor's HELLO, when the trace shows it (lower-case `0x` hex). */
  cid?: string;
  readonly epochs: TraceEpoch[];
  /** The event that established it. */
  readonly opened: TraceEvent;
}

/** An application action with bytes (`send`/`recv`, §13.1), attributed to a connection. */
export interface AppIo {
  readonly event: TraceEvent;
  readonly connection: number;
  readonly epoch: number;
  readonly role: Role;
  readonly actor: string;
  readonly kind: 'send' | 'recv';
  /** The line names no `cid=` and the actor holds several connections: its bytes are not checked. */
  readonly ambiguous: boolean;
}

/** What {@link projectTrace} derives from a trace. */
export interface TraceModel {
  readonly connections: TraceConnection[];
  readonly projections: Projection[];
  readonly messages: TraceMessage[];
  readonly io: AppIo[];
  /** TRACE_MATCH findings (§13.2): deliveries without a send, fields that differ, FIFO overtaking. */
  readonly diagnostics: Diagnostic[];
}

/** Options of {@link projectTrace}. */
export interface ProjectOptions {
  readonly source?: string;
}

/** Messages that only the origin sends toward the peer, or only the peer toward the origin (role inference). */
const SENT_BY_OWNER = new Set(['SUSPEND', 'REBIND']);
const SENT_BY_PEER = new Set(['SUSPENDED', 'REBOUND']);

/** Internal per-connection state. */
interface ConnState {
  readonly conn: TraceConnection;
  connected: boolean;
  accepted: boolean;
  /** The epoch the peer is in (advanced when it commits). */
  peerEpoch: number;
  /** Successors that have passed their commit point, by epoch. */
  readonly successorCut: Map<number, string>;
  /** Per epoch: the successor that sent ATTACHED to the peer. */
  readonly attachedBy: Map<number, string>;
  /** "epoch|successor": the origin gave up before ATTACH (COMMIT in READY, §9.6): ATTACHED will commit. */
  readonly alone: Set<string>;
  /** Per epoch: the peer has received REBIND or SUSPEND(fast), so a `connect` to a successor is C2. */
  readonly rebindKnown: Set<number>;
  /** Actors whose channel to another actor is lost, as "observer|gone". */
  readonly lost: Set<string>;
  /** Per epoch: the successors the origin has exchanged handoff messages with on L. */
  readonly involved: Map<number, Set<string>>;
}

/** A resolved role of an actor on a connection. */
interface RoleRef {
  readonly state: ConnState;
  readonly epoch: number;
  readonly role: Role;
}

/** Bytes a `data`/`hex` field denotes (§13.1): `0x..` is hex, anything else UTF-8 text. */
export function fieldBytes(value: FieldValue | undefined, isHex = false): Uint8Array | undefined {
  if (value === undefined || typeof value === 'boolean') return undefined;
  const text = String(value);
  if (isHex || /^0x(?:[0-9a-f]{2})*$/.test(text)) {
    const digits = text.startsWith('0x') ? text.slice(2) : text;
    if (!/^(?:[0-9a-fA-F]{2})*$/.test(digits)) return undefined;
    return Uint8Array.from(digits.match(/../g) ?? [], (pair) => parseInt(pair, 16));
  }
  return new TextEncoder().encode(text);
}

/** The bytes an event carries: `data=` or `hex=`. */
export function eventBytes(event: { readonly fields: Readonly<Record<string, FieldValue>> }): Uint8Array | undefined {
  if (event.fields.hex !== undefined) return fieldBytes(event.fields.hex, true);
  return fieldBytes(event.fields.data);
}

/** A numeric field as a bigint (offsets are u64, §2.2), or undefined. */
export function fieldBigInt(value: FieldValue | undefined): bigint | undefined {
  if (typeof value === 'number' && Number.isInteger(value)) return BigInt(value);
  if (typeof value === 'string' && /^\d+$/.test(value)) return BigInt(value);
  return undefined;
}

function sameValue(a: FieldValue, b: FieldValue): boolean {
  if (a === b) return true;
  const x = fieldBigInt(a);
  const y = fieldBigInt(b);
  return x !== undefined && y !== undefined && x === y;
}

/**
 * Projects a trace (§13.2). Never throws for any list of events; problems of matching sends and
 * receives are TRACE_MATCH diagnostics.
 */
export function projectTrace(events: readonly TraceEvent[], options: ProjectOptions = {}): TraceModel {
  const states: ConnState[] = [];
  const projections = new Map<string, Projection>();
  const messages: TraceMessage[] = [];
  const io: AppIo[] = [];
  const diagnostics: Diagnostic[] = [];
  /** parent → children made by fork/join: each child holds the parent's connections (§2.1). */
  const children = new Map<string, Set<string>>();
  /** In-flight messages per direction "from>to", oldest first (§13.1). */
  const inFlight = new Map<string, TraceMessage[]>();
  /** `@lost` symbols held back until the dead actor's in-flight messages to the observer arrive. */
  const pendingLost: { observer: string; dead: string; ref: RoleRef; word: string; event: TraceEvent }[] = [];
  /** Killed actors and the line of their `kill`. */
  const dead = new Map<string, number>();

  const where = (event: TraceEvent) => ({ source: options.source, line: event.line, column: event.column });

  // ---- roles ------------------------------------------------------------------------------------

  const isChild = (parent: string, actor: string) => children.get(parent)?.has(actor) ?? false;

  function newConnection(peer: string, owner: string, event: TraceEvent): ConnState {
    const conn: TraceConnection = { index: states.length, peer, epochs: [{ index: 0, owner, hids: [] }], opened: event };
    const state: ConnState = {
      conn, connected: false, accepted: false, peerEpoch: 0,
      successorCut: new Map(), attachedBy: new Map(), rebindKnown: new Set(), lost: new Set(), involved: new Map(), alone: new Set(),
    };
    states.push(state);
    return state;
  }

  /** Opens the next epoch, owned by `successor`, if it is not open yet. */
  function commitEpoch(state: ConnState, epoch: number, successor: string): void {
    const current = state.conn.epochs[epoch];
    if (current === undefined) return;
    current.committedTo ??= successor;
    if (state.conn.epochs[epoch + 1] === undefined) state.conn.epochs.push({ index: epoch + 1, owner: successor, hids: [] });
  }

  /** The role `actor` plays on a connection, seen from a message with `other` (if any). */
  function roleOn(state: ConnState, actor: string, other?: string): RoleRef | undefined {
    const { conn } = state;
    if (actor === conn.peer) {
      // A message with an earlier owner belongs to the epoch that owner held (e.g. REBOUND, §6.6).
      if (other !== undefined) {
        for (let e = 0; e < state.peerEpoch; e++) if (conn.epochs[e]?.owner === other) return { state, epoch: e, role: 'peer' };
      }
      return { state, epoch: state.peerEpoch, role: 'peer' };
    }
    for (let e = conn.epochs.length - 1; e >= 0; e--) {
      const epoch = conn.epochs[e] as TraceEpoch;
      if (epoch.owner === actor) {
        // A successor becomes the origin of the next epoch only at its own commit point.
        if (e === 0 || state.successorCut.get(e - 1) === actor) return { state, epoch: e, role: 'origin' };
        continue;
      }
      if (isChild(epoch.owner, actor) && state.successorCut.get(e) !== actor) return { state, epoch: e, role: 'successor' };
    }
    return undefined;
  }

  /** Whether two actors are related on a connection (so a message between them belongs to it). */
  function related(state: ConnState, a: string, b: string): boolean {
    const ra = roleOn(state, a, b);
    const rb = roleOn(state, b, a);
    return ra !== undefined && rb !== undefined && ra.role !== rb.role;
  }

  /**
   * The connection a message between `from` and `to` belongs to: the one its cid names, else the
   * latest on which the two are related, else (a stranger's ATTACH and its answer, §8.3) the latest
   * on which one of them has a role. C2's messages (ATTACH, ATTACHED, REFUSE) never belong to a
   * connection whose first owner is their successor end: a `connect` to a forked process made
   * such a connection before the ATTACH showed what it was.
   */
  function connectionFor(name: string, from: string, to: string, fields: Readonly<Record<string, FieldValue>>): ConnState | undefined {
    const c2 = name === 'ATTACH' || name === 'ATTACHED' || name === 'REFUSE';
    const successorEnd = name === 'ATTACH' ? to : from;
    const eligible = states.filter((s) => !(c2 && s.conn.epochs[0]?.owner === successorEnd)).reverse();
    const cid = typeof fields.cid === 'string' ? fields.cid : undefined;
    if (cid !== undefined && !/^0x0+$/.test(cid)) {
      const byCid = eligible.find((s) => s.conn.cid === cid);
      if (byCid !== undefined) return byCid;
    }
    const byRelation = eligible.find((s) => related(s, from, to));
    if (byRelation !== undefined || !c2) return byRelation;
    return eligible.find((s) => roleOn(s, to) !== undefined) ?? eligible.find((s) => roleOn(s, from) !== undefined);
  }

  function channelOf(self: RoleRef, other: string): TraceChannel {
    const otherRole = roleOn(self.state, other, undefined);
    if (self.role === 'peer') {
      const owner = self.state.conn.epochs[self.epoch]?.owner;
      return other === owner || (otherRole?.role === 'origin' && otherRole.epoch <= self.epoch) ? 'C1' : 'C2';
    }
    if (self.role === 'origin') return other === self.state.conn.peer ? 'C1' : 'L';
    return other === self.state.conn.peer || otherRole === undefined ? 'C2' : 'L';
  }

  // ---- symbols ----------------------------------------------------------------------------------

  function projectionFor(ref: RoleRef, actor: string): Projection {
    const key = `${ref.state.conn.index}/${ref.epoch}/${ref.role}/${actor}`;
    let projection = projections.get(key);
    if (projection === undefined) {
      projection = { connection: ref.state.conn.index, epoch: ref.epoch, role: ref.role, actor, symbols: [] };
      projections.set(key, projection);
    }
    return projection;
  }

  function add(ref: RoleRef, actor: string, symbol: RoleSymbol): void {
    projectionFor(ref, actor).symbols.push(symbol);
  }

  function messageWord(direction: '!' | '?', name: string, fields: Readonly<Record<string, FieldValue>>, channel: TraceChannel): string {
    if (name === 'DATA' || name === 'FIN' || name === 'ERROR') return `${direction}${name}@${channel}`;
    if ((name === 'SUSPEND' || name === 'ORDER') && fields.fast === true) return `${direction}${name}.fast`;
    return `${direction}${name}`;
  }

  function hidOf(fields: Readonly<Record<string, FieldValue>>): number | undefined {
    return typeof fields.hid === 'number' ? fields.hid : undefined;
  }

  // ---- messages ---------------------------------------------------------------------------------

  /** Records the sender's side of a message and returns the record. */
  function sendSide(event: TraceEvent, from: string, to: string): TraceMessage {
    const message: TraceMessage = { name: event.name, from, to, sent: event, fields: event.fields };
    messages.push(message);
    const state = connectionFor(event.name, from, to, event.fields);
    if (state === undefined) {
      diagnostics.push(diagnostic('TRACE_MATCH', `${event.name} from ${from} to ${to} belongs to no connection: no connect, accept, fork or HELLO relates them`, '13.2', where(event)));
      return message;
    }
    message.connection = state.conn.index;
    const ref = roleOn(state, from, to);
    if (ref === undefined) return message;
    const channel = channelOf(ref, to);
    message.senderView = { epoch: ref.epoch, role: ref.role, channel };
    noteHid(state, ref, event.fields);
    if (event.name !== 'CREDIT') {
      const hid = hidOf(event.fields);
      add(ref, from, { word: messageWord('!', event.name, event.fields, channel), event, counterpart: to, ...(hid !== undefined ? { hid } : {}) });
    }
    afterSend(state, ref, message);
    return message;
  }

  /** Records the receiver's side of a message. */
  function receiveSide(message: TraceMessage, event: TraceEvent): void {
    message.received = event;
    if (message.connection === undefined) return;
    const state = states[message.connection] as ConnState;
    const ref = roleOn(state, message.to, message.from);
    if (ref === undefined) return;
    const channel = channelOf(ref, message.from);
    message.receiverView = { epoch: ref.epoch, role: ref.role, channel };
    if (message.name !== 'CREDIT') {
      const hid = hidOf(message.fields);
      add(ref, message.to, { word: messageWord('?', message.name, message.fields, channel), event, counterpart: message.from, ...(hid !== undefined ? { hid } : {}) });
    }
    afterReceive(state, ref, message);
    flushLost(message.to, message.from);
  }

  function noteHid(state: ConnState, ref: RoleRef, fields: Readonly<Record<string, FieldValue>>): void {
    const hid = hidOf(fields);
    const epoch = state.conn.epochs[ref.epoch];
    if (hid !== undefined && epoch !== undefined && !epoch.hids.includes(hid)) epoch.hids.push(hid);
  }

  /** Commit points and facts learned from a send (§6.6, §9.3). */
  function afterSend(state: ConnState, ref: RoleRef, message: TraceMessage): void {
    if (message.name !== 'JOIN' && message.name !== 'RELEASE' && message.senderView?.channel === 'L') {
      const successor = ref.role === 'successor' ? message.from : message.to;
      let set = state.involved.get(ref.epoch);
      if (set === undefined) state.involved.set(ref.epoch, (set = new Set()));
      set.add(successor);
    }
    if (message.name === 'HELLO' && typeof message.fields.cid === 'string' && !/^0x0+$/.test(message.fields.cid)) {
      state.conn.cid ??= message.fields.cid;
    }
    if (ref.role === 'successor' && message.name === 'ATTACHED' && message.to === state.conn.peer) {
      state.attachedBy.set(ref.epoch, message.from);
      if (lostBetween(state, message.from, state.conn.epochs[ref.epoch]?.owner) || state.alone.has(`${ref.epoch}|${message.from}`)) {
        successorCommits(state, ref.epoch, message.from);
      }
    }
    // The peer commits when it sends REBOUND (on a valid ATTACHED, §6.6).
    if (ref.role === 'peer' && message.name === 'REBOUND' && ref.epoch === state.peerEpoch) {
      const successor = state.attachedBy.get(ref.epoch);
      if (successor !== undefined) {
        commitEpoch(state, ref.epoch, successor);
        state.peerEpoch = ref.epoch + 1;
      }
    }
  }

  function afterReceive(state: ConnState, ref: RoleRef, message: TraceMessage): void {
    if (ref.role === 'peer' && (message.name === 'REBIND' || (message.name === 'SUSPEND' && message.fields.fast === true))) {
      state.rebindKnown.add(ref.epoch);
    }
    // COMMIT commits a successor that has sent ATTACHED (§6.6); before that it means the origin gave
    // the connection up (LEFT, §9.6) and the successor completes on its ATTACHED alone (S30).
    if (ref.role === 'successor' && message.name === 'COMMIT') {
      if (state.attachedBy.get(ref.epoch) === message.to) successorCommits(state, ref.epoch, message.to);
      else state.alone.add(`${ref.epoch}|${message.to}`);
    }
    // With C1 lost, the peer commits on ATTACHED alone (§9.3).
    if (ref.role === 'peer' && message.name === 'ATTACHED' && ref.epoch === state.peerEpoch
      && lostBetween(state, state.conn.peer, state.conn.epochs[ref.epoch]?.owner)) {
      commitEpoch(state, ref.epoch, message.from);
      state.peerEpoch = ref.epoch + 1;
    }
  }

  function successorCommits(state: ConnState, epoch: number, successor: string): void {
    if (state.successorCut.get(epoch) === successor) return;
    commitEpoch(state, epoch, successor);
    state.successorCut.set(epoch, successor);
  }

  // ---- loss (§9.3–9.6) --------------------------------------------------------------------------

  function lostBetween(state: ConnState, a: string, b: string | undefined): boolean {
    return b !== undefined && state.lost.has(`${a}|${b}`);
  }

  /** `observer` learns that its channel to `gone` failed (kill or cut). */
  function loseChannel(state: ConnState, observer: string, gone: string, event: TraceEvent): void {
    if (dead.has(observer)) return;
    const ref = roleOn(state, observer, gone);
    const goneRef = roleOn(state, gone, observer);
    if (ref === undefined || goneRef === undefined || ref.role === goneRef.role) return;
    // The peer has a C2 only once it has been told where to attach.
    if (ref.role === 'peer' && goneRef.role === 'successor' && !state.rebindKnown.has(goneRef.epoch)) return;
    if (ref.role === 'successor' && goneRef.role === 'peer' && state.attachedBy.get(ref.epoch) !== observer) return;
    // The origin's "lost L" (§9.4) is about the successor of its handoff, not every dormant fork.
    if (ref.role === 'origin' && goneRef.role === 'successor' && !(state.involved.get(ref.epoch)?.has(gone) ?? false)) return;
    state.lost.add(`${observer}|${gone}`);
    const word = `@lost.${channelOf(ref, gone)}`;
    const queue = inFlight.get(`${gone}>${observer}`) ?? [];
    if (queue.length > 0) pendingLost.push({ observer, dead: gone, ref, word, event });
    else emitLost(ref, observer, gone, word, event);
  }

  function emitLost(ref: RoleRef, observer: string, gone: string, word: string, event: TraceEvent): void {
    add(ref, observer, { word, event, counterpart: gone });
    // A successor that has sent ATTACHED and lost its origin owns the connection (§9.3, S24).
    const { state } = ref;
    if (ref.role === 'successor' && word === '@lost.L' && state.attachedBy.get(ref.epoch) === observer) successorCommits(state, ref.epoch, observer);
  }

  function flushLost(observer: string, from: string): void {
    if ((inFlight.get(`${from}>${observer}`) ?? []).length > 0) return;
    for (let i = 0; i < pendingLost.length; i++) {
      const p = pendingLost[i] as (typeof pendingLost)[number];
      if (p.observer === observer && p.dead === from) {
        pendingLost.splice(i--, 1);
        emitLost(p.ref, p.observer, p.dead, p.word, p.event);
      }
    }
  }

  // ---- actions ----------------------------------------------------------------------------------

  function actionWord(event: TraceEvent, ref: RoleRef): string {
    const arg = event.args[0];
    switch (event.name) {
      case 'trigger':
      case 'timeout':
        return arg !== undefined ? `@${event.name}.${arg}` : `@${event.name}`;
      case 'fail': {
        const code = event.fields.code ?? arg;
        return code !== undefined ? `@fail.${String(code)}` : '@fail';
      }
      case 'connect':
        return arg !== undefined && ref.role === 'peer' && arg !== ref.state.conn.epochs[ref.epoch]?.owner ? '@connect.C2' : '@connect.C1';
      default:
        return `@${event.name}`;
    }
  }

  /**
   * Adds an action to every connection where the actor has a role (or the one its `cid=` names).
   * An application `send`/`recv` without `cid=` goes to the connections the actor owns or is the
   * peer of (a dormant successor's handle delivers nothing, §6.6); if that still leaves several,
   * its bytes are not checked (`ambiguous`).
   */
  function action(event: TraceEvent): void {
    const cid = typeof event.fields.cid === 'string' ? event.fields.cid : undefined;
    const other = event.name === 'connect' || event.name === 'accept' ? event.args[0] : undefined;
    let refs: RoleRef[] = [];
    for (const state of states) {
      if (cid !== undefined && state.conn.cid !== undefined && state.conn.cid !== cid) continue;
      const ref = roleOn(state, event.actor, other);
      if (ref !== undefined) refs.push(ref);
    }
    const isIo = event.name === 'send' || event.name === 'recv';
    if (isIo && cid === undefined && refs.some((r) => r.role !== 'successor')) refs = refs.filter((r) => r.role !== 'successor');
    for (const ref of refs) {
      add(ref, event.actor, { word: actionWord(event, ref), event });
      if (event.name === 'send' || event.name === 'recv') {
        io.push({ event, connection: ref.state.conn.index, epoch: ref.epoch, role: ref.role, actor: event.actor, kind: event.name, ambiguous: refs.length > 1 });
      }
    }
  }

  /** `connect`/`accept`: a new connection, or the peer's C2 toward a successor (§6.2, §6.3). */
  function connectOrAccept(event: TraceEvent): void {
    const other = event.args[0];
    if (other === undefined) return action(event);
    const connecting = event.name === 'connect';
    const peer = connecting ? event.actor : other;
    const owner = connecting ? other : event.actor;
    // C2: the peer toward a successor candidate of a connection it is the peer of.
    const c2 = states.some((s) => s.conn.peer === peer && s.conn.epochs.some((e) => isChild(e.owner, owner)));
    if (c2) return action(event);
    const open = states.find((s) => s.conn.peer === peer && s.conn.epochs[0]?.owner === owner && (connecting ? !s.connected : !s.accepted));
    const state = open ?? newConnection(peer, owner, event);
    if (connecting) state.connected = true;
    else state.accepted = true;
    action(event);
  }

  function kill(event: TraceEvent): void {
    action(event);
    const gone = event.actor;
    for (const state of states) {
      const observers = new Set<string>([state.conn.peer, ...state.conn.epochs.map((e) => e.owner)]);
      for (const e of state.conn.epochs) for (const child of children.get(e.owner) ?? []) observers.add(child);
      for (const observer of observers) if (observer !== gone) loseChannel(state, observer, gone, event);
    }
    dead.set(gone, event.line);
  }

  function cut(event: TraceEvent): void {
    action(event);
    const other = event.args[0];
    if (other === undefined) return;
    for (const state of states) {
      loseChannel(state, event.actor, other, event);
      loseChannel(state, other, event.actor, event);
    }
  }

  function forkOrJoin(event: TraceEvent): void {
    const child = event.args[0];
    if (child !== undefined) {
      // `A fork X` / `A join X`: X holds A's connections. `S join O` written the other way round
      // (a worker joining an owner) is read as O's pool gaining S.
      const actorOwns = states.some((s) => s.conn.epochs.some((e) => e.owner === event.actor));
      const childOwns = states.some((s) => s.conn.epochs.some((e) => e.owner === child));
      const [parent, successor] = event.name === 'join' && !actorOwns && childOwns ? [child, event.actor] : [event.actor, child];
      let set = children.get(parent);
      if (set === undefined) children.set(parent, (set = new Set()));
      set.add(successor);
    }
    action(event);
  }

  /** When no connect/accept introduced two actors, infer the connection from the first telling message. */
  function inferConnection(event: TraceEvent, from: string, to: string): void {
    if (states.some((s) => related(s, from, to))) return;
    if (states.some((s) => roleOn(s, from) !== undefined || roleOn(s, to) !== undefined) && event.name !== 'HELLO') return;
    let owner: string | undefined;
    if (event.name === 'HELLO') owner = event.fields.acceptor === true ? from : event.fields.acceptor === false ? to : undefined;
    else if (SENT_BY_OWNER.has(event.name)) owner = from;
    else if (SENT_BY_PEER.has(event.name)) owner = to;
    if (owner === undefined) owner = to; // the first speaker is taken as the connecting peer
    const state = newConnection(owner === from ? to : from, owner, event);
    state.connected = state.accepted = true;
  }

  // ---- the walk ---------------------------------------------------------------------------------

  for (const event of events) {
    // A killed process does nothing more, and nothing is delivered to it (§9.3–9.5).
    const killedAt = dead.get(event.actor) ?? (event.kind === 'deliver' && event.peer !== undefined ? dead.get(event.peer) : undefined);
    if (killedAt !== undefined) {
      const who = dead.has(event.actor) ? event.actor : (event.peer as string);
      diagnostics.push(diagnostic('TRACE_MATCH', `${who} was killed on line ${killedAt}: it ${who === event.actor ? 'does nothing' : 'receives nothing'} after that`, '13.2', where(event)));
    }
    if (event.kind === 'action') {
      switch (event.name) {
        case 'connect':
        case 'accept':
          connectOrAccept(event);
          break;
        case 'fork':
        case 'join':
          forkOrJoin(event);
          break;
        case 'kill':
          kill(event);
          break;
        case 'cut':
          cut(event);
          break;
        default:
          action(event);
      }
      continue;
    }
    const other = event.peer ?? '';
    if (event.kind === 'deliver' || event.kind === 'send') {
      inferConnection(event, event.actor, other);
      const key = `${event.actor}>${other}`;
      const queue = inFlight.get(key) ?? [];
      if (event.kind === 'deliver' && queue.length > 0) {
        diagnostics.push(diagnostic('TRACE_MATCH', `${event.actor} -> ${other} ${event.name} is delivered while ${queue.length} earlier message(s) from ${event.actor} to ${other} are still in flight (first: ${(queue[0] as TraceMessage).name} on line ${(queue[0] as TraceMessage).sent.line}); channels are FIFO`, '13.2', where(event)));
      }
      const message = sendSide(event, event.actor, other);
      if (event.kind === 'deliver') receiveSide(message, event);
      else {
        queue.push(message);
        inFlight.set(key, queue);
      }
      continue;
    }
    // receive: the actor takes the oldest message in flight from `other` (FIFO per direction).
    const queue = inFlight.get(`${other}>${event.actor}`) ?? [];
    const message = queue[0];
    if (message === undefined) {
      diagnostics.push(diagnostic('TRACE_MATCH', `${event.actor} receives ${event.name} from ${other}, but no message from ${other} to ${event.actor} is in flight`, '13.2', where(event)));
      continue;
    }
    if (message.name !== event.name) {
      diagnostics.push(diagnostic('TRACE_MATCH', `${event.actor} receives ${event.name} from ${other}, but the oldest message in flight from ${other} is ${message.name} (line ${message.sent.line}); channels are FIFO`, '13.2', where(event)));
      continue;
    }
    queue.shift();
    for (const [key, value] of Object.entries(event.fields)) {
      const sent = message.fields[key];
      if (sent !== undefined && !sameValue(sent, value)) {
        const column = event.fieldColumns?.[key] ?? event.column;
        diagnostics.push(diagnostic('TRACE_MATCH', `${event.actor} receives ${event.name} with ${key}=${String(value)}, but line ${message.sent.line} sent ${key}=${String(sent)}`, '13.2', { source: options.source, line: event.line, column }));
      }
    }
    if (Object.keys(message.fields).length === 0 && Object.keys(event.fields).length > 0) {
      (message as { fields: Readonly<Record<string, FieldValue>> }).fields = event.fields;
    }
    receiveSide(message, event);
  }
  for (const p of pendingLost) emitLost(p.ref, p.observer, p.dead, p.word, p.event);

  const connections = states.map((s) => s.conn);
  const ordered = [...projections.values()].sort((a, b) => a.connection - b.connection || a.epoch - b.epoch || roleRank(a.role) - roleRank(b.role) || a.actor.localeCompare(b.actor));
  return { connections, projections: ordered, messages, io, diagnostics };
}

function roleRank(role: Role): number {
  return role === 'origin' ? 0 : role === 'successor' ? 1 : 2;
}
