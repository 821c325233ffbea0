/**
 * The checks of §13.2 that the ordering grammar cannot express: tokens (§8.2, §8.3), offsets and
 * exactly-once delivery (§6.4, §6.5), and handoff ids (§2.2, §6.6, §10.1). Each function reads a
 * projected trace ({@link TraceModel}) and returns diagnostics that cite the section they enforce.
 *
 * A check uses only what the trace shows: a field a line leaves out is not checked.
 *
 * @module
 */
import { diagnostic, type Diagnostic } from '../diagnostics.js';
import type { ErrorName } from '../errors.js';
import type { FieldValue, TraceEvent } from './events.js';
import { eventBytes, fieldBigInt, type AppIo, type TraceMessage, type TraceModel } from './project.js';

/** Options shared by the checks. */
export interface SemanticOptions {
  readonly source?: string;
}

type Report = (code: ErrorName, message: string, section: string, event: TraceEvent, field?: string) => void;

function reporter(out: Diagnostic[], options: SemanticOptions): Report {
  return (code, message, section, event, field) => {
    const column = (field !== undefined ? event.fieldColumns?.[field] : undefined) ?? event.column;
    out.push(diagnostic(code, message, section, { source: options.source, line: event.line, column }));
  };
}

const hidOf = (m: TraceMessage): number | undefined => (typeof m.fields.hid === 'number' ? m.fields.hid : undefined);
const str = (v: FieldValue | undefined): string | undefined => (v === undefined ? undefined : String(v));
/** The line where a message takes effect at its receiver (its send line while in flight). */
const receivedLine = (m: TraceMessage): number => (m.received ?? m.sent).line;

// =================================================================================================
// Tokens (§8.2, §8.3)
// =================================================================================================

/**
 * §8.2: ATTACHED only after an ATTACH whose cid, hid and token equal the armed ORDER's (and the
 * ORDER's token equals the REBIND's or SUSPEND(fast)'s); a token is accepted once (§8.3); an ATTACH
 * whose token does not match is answered with REFUSE, never ATTACHED; a revoked order accepts none.
 */
export function checkTokens(model: TraceModel, options: SemanticOptions = {}): Diagnostic[] {
  const out: Diagnostic[] = [];
  const report = reporter(out, options);
  const accepted = new Map<string, TraceMessage>();

  for (const conn of model.connections) {
    const messages = model.messages.filter((m) => m.connection === conn.index);
    // The token the origin gave the peer and the successor must be the same (§8.1).
    const invitations = messages.filter((m) => m.senderView?.role === 'origin' && (m.name === 'REBIND' || (m.name === 'SUSPEND' && m.fields.fast === true)));
    for (const order of messages.filter((m) => m.name === 'ORDER' && m.senderView?.role === 'origin')) {
      const invitation = invitations.find((m) => hidOf(m) === hidOf(order) && m.senderView?.epoch === order.senderView?.epoch);
      const a = str(order.fields.token);
      const b = str(invitation?.fields.token);
      if (invitation !== undefined && a !== undefined && b !== undefined && a !== b) {
        const later = invitation.sent.line > order.sent.line ? invitation : order;
        const earlier = later === order ? invitation : order;
        report('TRACE_TOKEN', `${later.name} of hid ${hidOf(order)} carries token ${str(later.fields.token)}, but ${earlier.name} (line ${earlier.sent.line}) carried ${str(earlier.fields.token)}: the successor and the peer must hold the same token`, '8.2', later.sent, 'token');
      }
    }

    // Every ATTACH a successor received, also after it became the owner (a replay, §8.3).
    for (const attach of messages.filter((m) => m.name === 'ATTACH' && m.receiverView !== undefined && m.receiverView.role !== 'peer' && m.to !== conn.epochs[0]?.owner && m.received !== undefined)) {
      const successor = attach.to;
      const at = attach.received as TraceEvent;
      const answer = messages.find((m) => m.from === successor && m.to === attach.from && (m.name === 'ATTACHED' || m.name === 'REFUSE') && m.sent.line >= at.line);
      // The ORDER armed at this successor when the ATTACH arrived, and whether it was revoked.
      const orders = messages.filter((m) => m.name === 'ORDER' && m.to === successor && m.received !== undefined && receivedLine(m) < at.line);
      const order = orders[orders.length - 1];
      const revoked = order !== undefined && messages.some((m) => m.name === 'REVOKE' && m.to === successor && m.received !== undefined
        && receivedLine(m) > receivedLine(order) && receivedLine(m) < at.line && (hidOf(m) === undefined || hidOf(m) === hidOf(order)));
      const token = str(attach.fields.token);
      const mismatches: string[] = [];
      if (order !== undefined) {
        for (const field of ['cid', 'hid', 'token'] as const) {
          const mine = str(attach.fields[field]);
          const armed = field === 'cid' ? (str(order.fields.cid) ?? conn.cid) : str(order.fields[field]);
          if (mine !== undefined && armed !== undefined && mine !== armed) mismatches.push(`${field} ${mine} (ORDER has ${armed})`);
        }
      }
      const reused = token !== undefined ? accepted.get(token) : undefined;
      if (answer?.name === 'ATTACHED') {
        const who = attach.from === conn.peer ? "the peer's ATTACH" : `the ATTACH of ${attach.from} (not the peer)`;
        if (order === undefined) {
          report('TRACE_TOKEN', `${successor} answers ${who} on line ${at.line} with ATTACHED, but no ORDER has armed a token`, '8.2', answer.sent);
        } else if (mismatches.length > 0) {
          report('TRACE_TOKEN', `${successor} answers ${who} on line ${at.line} with ATTACHED, but its ${mismatches.join(', ')} does not match: it must answer REFUSE`, '8.2', answer.sent);
        } else if (revoked) {
          report('TRACE_TOKEN', `${successor} answers ${who} on line ${at.line} with ATTACHED after its order was revoked: the token had expired`, '8.3', answer.sent);
        } else if (reused !== undefined) {
          report('TRACE_TOKEN', `${successor} accepts token ${token} a second time (first accepted on line ${(reused.received ?? reused.sent).line}): a token is single-use`, '8.3', answer.sent);
        }
        if (token !== undefined && !accepted.has(token)) accepted.set(token, attach);
      } else if (answer?.name === 'REFUSE' && order !== undefined && !revoked && reused === undefined && mismatches.length === 0
        && token !== undefined && str(attach.fields.hid) !== undefined && attach.from === conn.peer) {
        report('TRACE_TOKEN', `${successor} refuses the peer's ATTACH (line ${at.line}) although its cid, hid and token match the armed ORDER (line ${receivedLine(order)})`, '8.2', answer.sent);
      }
    }
  }
  return out;
}

// =================================================================================================
// Offsets and exactly-once (§6.4, §6.5)
// =================================================================================================

/** The byte count of a DATA or COPY frame, or of an application send/recv: its bytes, else `len`. */
function lengthOf(event: { readonly fields: Readonly<Record<string, FieldValue>> }): bigint | undefined {
  const bytes = eventBytes(event);
  if (bytes !== undefined) return BigInt(bytes.length);
  return fieldBigInt(event.fields.len);
}

/** A frame's stream position: [offset, end). */
interface Span {
  readonly message: TraceMessage;
  readonly offset: bigint;
  readonly end: bigint;
}

/**
 * §6.4: per direction, DATA offsets are contiguous across C1, the copy and C2; `len` agrees with the
 * bytes; SUSPENDED.sendEnd = COPIED.recvEnd = ATTACH.sendOffset = ATTACHED.recvOffset and
 * REBIND/SUSPEND(fast)/ORDER sendEnd = ATTACH.recvOffset = ATTACHED.sendOffset; the copy starts
 * where the server side's applications stopped reading (§6.5); FIN carries the stream's end.
 */
export function checkOffsets(model: TraceModel, options: SemanticOptions = {}): Diagnostic[] {
  const out: Diagnostic[] = [];
  const report = reporter(out, options);

  // len= and the bytes agree, on frames and on application actions.
  const withLen = [...model.messages.filter((m) => m.name === 'DATA' || m.name === 'COPY').map((m) => m.sent), ...model.io.map((i) => i.event)];
  for (const event of withLen) {
    const bytes = eventBytes(event);
    const len = fieldBigInt(event.fields.len);
    if (bytes !== undefined && len !== undefined && BigInt(bytes.length) !== len) {
      report('TRACE_OFFSET', `len=${len} but the line carries ${bytes.length} byte(s)`, '6.4', event, 'len');
    }
  }

  for (const conn of model.connections) {
    const messages = model.messages.filter((m) => m.connection === conn.index);
    const fromZero = ['connect', 'accept', 'HELLO'].includes(conn.opened.name);
    const peerData = streamSpans(messages.filter((m) => m.senderView?.role === 'peer' && (m.name === 'DATA' || m.name === 'FIN')));
    const serverData = streamSpans(messages.filter((m) => m.senderView !== undefined && m.senderView.role !== 'peer' && m.senderView.channel !== 'L' && (m.name === 'DATA' || m.name === 'FIN')));
    contiguous(peerData, fromZero, 'the peer', report);
    contiguous(serverData, fromZero, 'the server side', report);

    // Where a direction stood when a line was sent: the end of the last DATA sent before it.
    const positionAt = (spans: readonly Span[], line: number): bigint | undefined => {
      let position: bigint | undefined = fromZero ? 0n : undefined;
      for (const s of spans) if (s.message.sent.line < line && s.message.name === 'DATA') position = s.end;
      return position;
    };
    const knownLengths = (spans: readonly Span[], line: number) => spans.every((s) => s.message.sent.line >= line || s.end >= s.offset);

    // Per handoff: the equalities of §6.4.
    const hids = [...new Set(messages.map(hidOf).filter((h): h is number => h !== undefined))];
    for (const hid of hids) {
      const of = (name: string, pick: (m: TraceMessage) => boolean = () => true) => messages.filter((m) => m.name === name && hidOf(m) === hid && pick(m));
      const suspended = of('SUSPENDED', (m) => m.senderView?.role === 'peer')[0];
      const copied = of('COPIED')[0];
      const attach = of('ATTACH', (m) => m.from === conn.peer)[0];
      const attached = attach === undefined ? undefined : of('ATTACHED', (m) => m.to === conn.peer && m.from === attach.to)[0];
      const invitations = [...of('REBIND'), ...of('SUSPEND', (m) => m.fields.fast === true), ...of('ORDER')];

      // The peer's stream end on C1: SUSPENDED.sendEnd = COPIED.recvEnd = ATTACH.sendOffset = ATTACHED.recvOffset.
      const peerEnd: [TraceMessage | undefined, string][] = [[suspended, 'sendEnd'], [copied, 'recvEnd'], [attach, 'sendOffset'], [attached, 'recvOffset']];
      chain(peerEnd, `the peer's stream end on C1 (hid ${hid})`, report);
      // The origin's stream end on C1: REBIND/SUSPEND(fast)/ORDER sendEnd = ATTACH.recvOffset = ATTACHED.sendOffset.
      const serverEnd: [TraceMessage | undefined, string][] = [...invitations.map((m): [TraceMessage, string] => [m, 'sendEnd']), [attach, 'recvOffset'], [attached, 'sendOffset']];
      chain(serverEnd, `the origin's stream end on C1 (hid ${hid})`, report);

      // SUSPENDED.sendEnd is where the peer's DATA on C1 stopped.
      if (suspended !== undefined && knownLengths(peerData, suspended.sent.line)) {
        const expected = positionAt(peerData, suspended.sent.line);
        const got = fieldBigInt(suspended.fields.sendEnd);
        if (expected !== undefined && got !== undefined && got !== expected) {
          report('TRACE_OFFSET', `SUSPENDED.sendEnd=${got}, but the peer's DATA on C1 ends at ${expected}`, '6.4', suspended.sent, 'sendEnd');
        }
      }
      // REBIND/SUSPEND(fast)/ORDER sendEnd is where the origin's DATA on C1 stopped.
      for (const invitation of invitations) {
        const expected = positionAt(serverData, invitation.sent.line);
        const got = fieldBigInt(invitation.fields.sendEnd);
        if (expected !== undefined && got !== undefined && got !== expected) {
          report('TRACE_OFFSET', `${invitation.name}.sendEnd=${got}, but the origin's DATA on C1 ends at ${expected}`, '6.4', invitation.sent, 'sendEnd');
        }
      }
      // The copy (§6.5): COPY frames contiguous from where the applications stopped reading, up to COPIED.recvEnd.
      const copies = streamSpans(of('COPY'));
      for (let i = 1; i < copies.length; i++) {
        const prev = copies[i - 1] as Span;
        const cur = copies[i] as Span;
        if (prev.end >= prev.offset && cur.offset !== prev.end) {
          report('TRACE_OFFSET', `COPY offset=${cur.offset}, but the previous COPY ended at ${prev.end}: the copy must be contiguous`, '6.5', cur.message.sent, 'offset');
        }
      }
      const first = copies[0];
      const read = readPosition(model.io.filter((i) => i.connection === conn.index && i.role !== 'peer' && i.kind === 'recv'), (first?.message ?? copied)?.sent.line);
      const start = first?.offset ?? fieldBigInt(copied?.fields.recvEnd);
      if (read !== undefined && start !== undefined && fromZero && read !== start && (first !== undefined || copied !== undefined)) {
        const where = (first?.message ?? copied) as TraceMessage;
        report('TRACE_OFFSET', `the copy starts at ${start}, but the server side's applications had read ${read} byte(s): the copy must cover exactly the unread bytes`, '6.5', where.sent, first !== undefined ? 'offset' : 'recvEnd');
      }
      const last = copies[copies.length - 1];
      const recvEnd = fieldBigInt(copied?.fields.recvEnd);
      if (copied !== undefined && last !== undefined && last.end >= last.offset && recvEnd !== undefined && recvEnd !== last.end) {
        report('TRACE_OFFSET', `COPIED.recvEnd=${recvEnd}, but the COPY frames end at ${last.end}`, '6.5', copied.sent, 'recvEnd');
      }
    }

    // The bytes themselves, when the trace carries them.
    checkStreamBytes(conn.index, 'peer', peerData, messages, model.io, report);
    checkStreamBytes(conn.index, 'server', serverData, messages, model.io, report);
  }
  return out;
}

/** Spans of DATA/FIN/COPY frames in send order; an unknown length gives end < offset. */
function streamSpans(messages: readonly TraceMessage[]): Span[] {
  const spans: Span[] = [];
  for (const message of [...messages].sort((a, b) => a.sent.line - b.sent.line)) {
    const offset = fieldBigInt(message.fields.offset);
    if (offset === undefined) continue;
    const length = message.name === 'FIN' ? 0n : lengthOf(message.sent);
    spans.push({ message, offset, end: length === undefined ? -1n : offset + length });
  }
  return spans;
}

function contiguous(spans: readonly Span[], fromZero: boolean, who: string, report: Report): void {
  let next: bigint | undefined = fromZero ? 0n : undefined;
  for (const span of spans) {
    const { message } = span;
    if (next !== undefined && span.offset !== next) {
      const what = message.name === 'FIN' ? `FIN offset=${span.offset}, but ${who}'s stream ended at ${next}` : `DATA offset=${span.offset}, but ${who}'s stream continues at ${next}: bytes ${span.offset < next ? 'doubled' : 'lost'}`;
      report('TRACE_OFFSET', what, '6.4', message.sent, 'offset');
    }
    if (message.name === 'FIN') continue;
    next = span.end >= span.offset ? span.end : undefined;
  }
}

/** Reports the first field of the list that differs from the first given one. */
function chain(items: readonly [TraceMessage | undefined, string][], what: string, report: Report): void {
  let reference: { message: TraceMessage; field: string; value: bigint } | undefined;
  for (const [message, field] of items) {
    const value = fieldBigInt(message?.fields[field]);
    if (message === undefined || value === undefined) continue;
    if (reference === undefined) {
      reference = { message, field, value };
      continue;
    }
    if (value !== reference.value) {
      report('TRACE_OFFSET', `${message.name}.${field}=${value}, but ${reference.message.name}.${reference.field}=${reference.value} (line ${reference.message.sent.line}): both are ${what}`, '6.4', message.sent, field);
    }
  }
}

/** Bytes the server side's applications had read before `line` (undefined when a read has no length). */
function readPosition(reads: readonly AppIo[], line: number | undefined): bigint | undefined {
  if (line === undefined) return undefined;
  let total = 0n;
  for (const read of reads) {
    if (read.event.line >= line) continue;
    if (read.ambiguous) return undefined;
    const length = lengthOf(read.event);
    if (length === undefined) return undefined;
    total += length;
  }
  return total;
}

/**
 * §6.4, byte for byte: the stream of one direction is what the sending side's applications wrote
 * (or, when they wrote no `data=`, what its DATA frames carry). Every DATA and COPY frame must carry
 * the stream's bytes at its offset, and what the receiving side's applications read, concatenated
 * across origin and successors in trace order, must be the stream from its start: each byte once,
 * in order.
 */
function checkStreamBytes(connection: number, sender: 'peer' | 'server', spans: readonly Span[], messages: readonly TraceMessage[], io: readonly AppIo[], report: Report): void {
  const isSender = (i: AppIo) => i.connection === connection && (sender === 'peer' ? i.role === 'peer' : i.role !== 'peer');
  const writes = io.filter((i) => isSender(i) && i.kind === 'send');
  const reads = io.filter((i) => i.connection === connection && !isSender(i) && i.kind === 'recv' && (sender === 'peer' ? i.role !== 'peer' : i.role === 'peer'));
  // A read or write that may belong to another connection makes this stream unknowable.
  if ([...writes, ...reads].some((i) => i.ambiguous)) return;
  const stream: number[] = [];
  let fromWrites = writes.length > 0;
  for (const w of writes) {
    const bytes = eventBytes(w.event);
    if (bytes === undefined) {
      fromWrites = false;
      break;
    }
    for (const b of bytes) stream.push(b); // not push(...bytes): a large write would overflow the stack
  }
  if (!fromWrites) {
    stream.length = 0;
    for (const span of spans) {
      const bytes = span.message.name === 'DATA' ? eventBytes(span.message.sent) : undefined;
      if (bytes === undefined) continue;
      bytes.forEach((b, i) => {
        stream[Number(span.offset) + i] = b;
      });
    }
  }
  if (stream.length === 0) return;
  const frames = [...spans.filter((s) => s.message.name === 'DATA'), ...(sender === 'peer' ? streamSpans(messages.filter((m) => m.name === 'COPY')) : [])];
  if (fromWrites) {
    for (const span of frames) {
      const bytes = eventBytes(span.message.sent);
      if (bytes === undefined) continue;
      const at = firstDifference(stream, Number(span.offset), bytes);
      if (at !== undefined) {
        report('TRACE_OFFSET', `${span.message.name} offset=${span.offset} carries byte ${hex(bytes[at - Number(span.offset)])} at stream offset ${at}, but the application wrote ${hex(stream[at])} there`, '6.4', span.message.sent, 'data');
        return;
      }
    }
  }
  let position = 0;
  for (const read of reads) {
    const bytes = eventBytes(read.event);
    if (bytes === undefined) return;
    const at = firstDifference(stream, position, bytes);
    if (at !== undefined) {
      const detail = at >= stream.length ? 'past the end of what was sent' : `where ${hex(stream[at])} was sent`;
      report('TRACE_OFFSET', `the application of ${read.actor} reads ${hex(bytes[at - position])} at stream offset ${at}, ${detail}: bytes lost, doubled or reordered`, '6.4', read.event, read.event.fields.hex !== undefined ? 'hex' : 'data');
      return;
    }
    position += bytes.length;
  }
}

function firstDifference(stream: readonly number[], offset: number, bytes: Uint8Array): number | undefined {
  for (let i = 0; i < bytes.length; i++) if (stream[offset + i] !== bytes[i]) return offset + i;
  return undefined;
}

function hex(byte: number | undefined): string {
  return byte === undefined ? 'nothing' : `0x${byte.toString(16).padStart(2, '0')}`;
}

// =================================================================================================
// Handoff ids (§2.2, §6.6, §10.1)
// =================================================================================================

/** Messages that belong to the handoff under way and must carry its hid (§2.2). */
const HANDOFF_MESSAGES = new Set(['SUSPENDED', 'REBIND', 'ORDER', 'COPY', 'COPIED', 'ATTACH', 'ATTACHED', 'REBOUND', 'COMMIT']);

/**
 * §2.2, §10.1: the end that accepted C1 numbers its handoffs 1, 3, 5…, each new handoff (aborted or
 * not, in any epoch of the chain) 2 more than the last; every message of a handoff carries its hid.
 * §6.6: an origin that is rebound never starts another handoff of that connection, and a peer sends
 * one REBOUND per hid.
 */
export function checkHids(model: TraceModel, options: SemanticOptions = {}): Diagnostic[] {
  const out: Diagnostic[] = [];
  const report = reporter(out, options);
  for (const conn of model.connections) {
    const messages = model.messages.filter((m) => m.connection === conn.index).sort((a, b) => a.sent.line - b.sent.line);
    const starts = messages.filter((m) => m.senderView?.role === 'origin' && (m.name === 'SUSPEND' || (m.name === 'ORDER' && m.fields.fast === true)));
    let last: number | undefined;
    const seen = new Set<number>();
    for (const start of starts) {
      const hid = hidOf(start);
      if (hid === undefined || seen.has(hid)) continue;
      seen.add(hid);
      if (hid % 2 === 0) {
        report('TRACE_ORDER', `${start.from} starts a handoff with hid ${hid}: the accepting end's handoffs use odd hids`, '2.2', start.sent, 'hid');
      } else if (hid !== (last === undefined ? 1 : last + 2)) {
        report('TRACE_ORDER', `${start.from} starts a handoff with hid ${hid}, but the ${last === undefined ? 'first handoff of a connection is hid 1' : `previous handoff was hid ${last}: hids increase by 2 per handoff`}`, last === undefined ? '2.2' : '10.1', start.sent, 'hid');
      }
      last = hid;
      // §6.6: an origin whose connection was rebound does not hand it off again.
      const rebound = messages.find((m) => m.name === 'REBOUND' && m.to === start.from && m.received !== undefined && receivedLine(m) < start.sent.line);
      if (rebound !== undefined) {
        report('TRACE_ORDER', `${start.from} starts handoff ${hid} after it received REBOUND (line ${receivedLine(rebound)}): a rebound connection is never handed off again by its old origin`, '6.6', start.sent);
      }
    }

    // Every message of a handoff carries the hid of the handoff its origin started last.
    for (const message of messages) {
      const hid = hidOf(message);
      if (hid === undefined || !HANDOFF_MESSAGES.has(message.name) || message.receiverView?.role === 'successor' && message.from !== conn.peer && message.name === 'ATTACH') continue;
      const current = [...starts].reverse().find((s) => s.sent.line <= message.sent.line && (s.senderView?.epoch ?? 0) <= (message.senderView?.epoch ?? 0));
      const currentHid = current === undefined ? undefined : hidOf(current);
      if (currentHid !== undefined && hid !== currentHid && !(message.name === 'ORDER' && current === message)) {
        report('TRACE_ORDER', `${message.name} carries hid ${hid}, but the handoff under way is hid ${currentHid} (line ${(current as TraceMessage).sent.line})`, '2.2', message.sent, 'hid');
      }
    }

    // §6.6: one REBOUND per hid.
    const rebounds = new Map<number, TraceMessage>();
    for (const m of messages.filter((x) => x.name === 'REBOUND' && x.from === conn.peer)) {
      const hid = hidOf(m);
      if (hid === undefined) continue;
      const first = rebounds.get(hid);
      if (first !== undefined) report('TRACE_ORDER', `the peer sends a second REBOUND for hid ${hid} (first on line ${first.sent.line})`, '6.6', m.sent);
      else rebounds.set(hid, m);
    }
  }
  return out;
}
