/**
 * A small deterministic network for the sans-IO engines: in-memory FIFO pipes per direction, a
 * fake clock, timers, scripted or random delivery, process death and cuts. It records every send,
 * delivery and application action as trace events (§13.1) so a run can be checked by `checkTrace`.
 */
import { errorByWireCode, type RebindError } from '../../../reference/errors.js';
import { MESSAGE_BY_NAME } from '../../../reference/tables.js';
import type { FieldValue, TraceEvent } from '../../../reference/trace/events.js';
import type { Message } from '../../../reference/wire/messages.js';
import { OriginEngine } from '../../../reference/protocol/origin.js';
import { PeerEngine } from '../../../reference/protocol/peer.js';
import { SuccessorEngine } from '../../../reference/protocol/successor.js';
import type { Channel, Effect, EngineConfig, Input } from '../../../reference/protocol/types.js';

export const CID = Uint8Array.from(Buffer.from('5f3c9a0e1d2b4c6a8e7f9012a3b4c5d6', 'hex'));
export const TOKEN1 = Uint8Array.from(Buffer.from('8f0c2e6a1b7d4c3e9a5f0b1c2d3e4f50', 'hex'));
export const TOKEN2 = Uint8Array.from(Buffer.from('9e4b7c1a2d3f5e6087a9b0c1d2e3f405', 'hex'));

type AnyEngine = OriginEngine | SuccessorEngine | PeerEngine;

/** One end of a pipe: an actor, the channel it calls this pipe, and a link name (successor C2s). */
interface End {
  readonly actor: string;
  label: Channel | 'retired';
  readonly link?: string;
  closed: boolean;
}

type Item = { kind: 'msg'; message: Message; seq: number } | { kind: 'eof'; seq: number };

/** A bidirectional pipe with one FIFO per direction. */
interface Pipe {
  readonly a: End;
  readonly b: End;
  readonly ab: Item[];
  readonly ba: Item[];
}

/** A message that was sent, for assertions. */
export interface Sent {
  readonly from: string;
  readonly to: string;
  readonly channel: Channel;
  readonly message: Message;
}

export interface HarnessOptions {
  readonly fast?: boolean;
  /** The peer's `offerFast`; default `fast`. */
  readonly peerOffersFast?: boolean;
  readonly timers?: Record<string, number>;
  readonly maxPayload?: number;
  /** Tokens handed out in order (default TOKEN1, TOKEN2, then random). */
  readonly tokens?: Uint8Array[];
}

export class Harness {
  clock = 0;
  readonly engines = new Map<string, AnyEngine>();
  readonly pipes: Pipe[] = [];
  readonly sent: Sent[] = [];
  readonly events: TraceEvent[] = [];
  readonly delivered = new Map<string, Uint8Array[]>();
  readonly written = new Map<string, Uint8Array[]>();
  readonly fails = new Map<string, RebindError[]>();
  readonly ended = new Set<string>();
  readonly effects = new Map<string, Effect[]>();
  readonly timers = new Map<string, Map<string, number>>();
  readonly dead = new Set<string>();
  /** Actors whose application reads continuously (a new read after each delivery). */
  readonly flowing = new Set<string>();
  private readonly addrs = new Map<string, string>();
  private seq = 0;
  private linkCount = 0;
  private readonly tokens: Uint8Array[];
  readonly config: EngineConfig;

  constructor(readonly options: HarnessOptions = {}) {
    this.tokens = [...(options.tokens ?? [TOKEN1, TOKEN2])];
    const fast = options.fast ?? false;
    this.config = {
      cid: CID,
      fast,
      ...(options.timers !== undefined ? { timers: options.timers } : {}),
      ...(options.maxPayload !== undefined ? { maxPayload: options.maxPayload } : {}),
      token: () => this.tokens.shift() ?? crypto.getRandomValues(new Uint8Array(16)),
    };
  }

  /** O accepts P's C1; HELLOs are exchanged (establishment is not the engines' job). */
  establish(): this {
    this.action('O', 'listen');
    this.action('P', 'connect', ['O']);
    this.action('O', 'accept', ['P']);
    const origin = new OriginEngine({ ...this.config, hid: 1 });
    const peer = new PeerEngine({ ...this.config, offerFast: this.options.peerOffersFast ?? this.config.fast === true });
    this.engines.set('O', origin);
    this.engines.set('P', peer);
    this.connect({ actor: 'O', label: 'C1', closed: false }, { actor: 'P', label: 'C1', closed: false });
    const hex = `0x${Buffer.from(CID).toString('hex')}`;
    const fast = this.config.fast === true;
    this.event({ actor: 'O', kind: 'deliver', peer: 'P', name: 'HELLO', fields: { fast, acceptor: true, cid: hex, maxPayload: 1048576, credits: 0 } });
    this.event({ actor: 'P', kind: 'deliver', peer: 'O', name: 'HELLO', fields: { fast: this.options.peerOffersFast ?? fast, acceptor: false, cid: `0x${'00'.repeat(16)}`, maxPayload: 1048576, credits: 0 } });
    return this;
  }

  /** `parent fork child`: a successor with a dormant handle, its L, its JOIN (§2.3, §5.1). */
  fork(parent: string, child: string, ownerConfig: Partial<EngineConfig> = {}): SuccessorEngine {
    this.action(parent, 'fork', [child]);
    const addr = `tcp://127.0.0.1:${40123 + this.addrs.size}`;
    this.addrs.set(addr, child);
    const s = new SuccessorEngine(this.config, ownerConfig);
    this.engines.set(child, s);
    // The parent's engine talks to one successor at a time: earlier successors' L pipes are set aside.
    for (const p of this.pipes) for (const end of [p.a, p.b]) if (end.actor === parent && end.label === 'L') end.label = 'retired';
    this.connect({ actor: parent, label: 'L', closed: false }, { actor: child, label: 'L', closed: false });
    this.sendFrom(child, 'L', { type: 'JOIN', pid: 4242, addr });
    this.deliver(child, parent);
    return s;
  }

  get O(): OriginEngine {
    return this.engines.get('O') as OriginEngine;
  }
  get S(): SuccessorEngine {
    return this.engines.get('S') as SuccessorEngine;
  }
  get P(): PeerEngine {
    return this.engines.get('P') as PeerEngine;
  }

  private connect(a: End, b: End): Pipe {
    const pipe: Pipe = { a, b, ab: [], ba: [] };
    this.pipes.push(pipe);
    return pipe;
  }

  /** Feeds an input to an actor and carries out its effects. */
  feed(actor: string, input: Input): Effect[] {
    if (this.dead.has(actor)) return [];
    const engine = this.engines.get(actor)!;
    const effects = engine.handle(input);
    const log = this.effects.get(actor) ?? [];
    log.push(...effects);
    this.effects.set(actor, log);
    const follow: Input[] = [];
    for (const e of effects) this.apply(actor, e, follow);
    for (const next of follow) this.feed(actor, next);
    return effects;
  }

  private apply(actor: string, e: Effect, follow: Input[]): void {
    switch (e.kind) {
      case 'send':
        this.sendFrom(actor, e.channel, e.message, e.link);
        return;
      case 'deliver': {
        const list = this.delivered.get(actor) ?? [];
        list.push(Uint8Array.from(e.data));
        this.delivered.set(actor, list);
        this.action(actor, 'recv', [], { len: e.data.length, hex: hexOf(e.data) });
        if (this.flowing.has(actor)) follow.push({ kind: 'app-read' });
        return;
      }
      case 'end':
        this.ended.add(actor);
        return;
      case 'start-timer':
        this.timersOf(actor).set(e.timer, this.clock + e.ms);
        return;
      case 'stop-timer':
        this.timersOf(actor).delete(e.timer);
        return;
      case 'connect': {
        const target = this.addrs.get(e.addr);
        if (target === undefined || this.dead.has(target)) {
          follow.push({ kind: 'connect-failed' });
          return;
        }
        this.action(actor, 'connect', [target]);
        this.action(target, 'accept', [actor]);
        const link = `${actor}#${++this.linkCount}`;
        this.connect({ actor, label: 'C2', closed: false }, { actor: target, label: 'C2', link, closed: false });
        follow.push({ kind: 'connected' });
        return;
      }
      case 'close': {
        const found = this.endOf(actor, e.channel, e.link);
        if (found === undefined || found.end.closed) return;
        found.end.closed = true;
        found.out.push({ kind: 'eof', seq: ++this.seq });
        return;
      }
      case 'fail': {
        const list = this.fails.get(actor) ?? [];
        list.push(e.error);
        this.fails.set(actor, list);
        return;
      }
      case 'transition':
        if (e.role === 'origin' && e.to === 'REBOUND' && e.from !== 'REBOUND') this.action(actor, 'rebound');
        return;
      case 'switch': {
        // The connection that was C2 is now C1; the old C1 and L are retired (§7.3, §10.1).
        for (const p of this.pipes) {
          for (const end of [p.a, p.b]) {
            if (end.actor !== actor) continue;
            if (end.label === 'C1' || end.label === 'L') end.label = 'retired';
          }
        }
        for (const p of this.pipes) {
          for (const end of [p.a, p.b]) if (end.actor === actor && end.label === 'C2' && !end.closed) end.label = 'C1';
        }
        return;
      }
      default:
        return;
    }
  }

  private timersOf(actor: string): Map<string, number> {
    let t = this.timers.get(actor);
    if (t === undefined) this.timers.set(actor, (t = new Map()));
    return t;
  }

  /** The end of `actor` with that label (and link), its queue out and its partner. */
  private endOf(actor: string, channel: Channel, link?: string): { end: End; out: Item[]; other: End } | undefined {
    for (const p of this.pipes) {
      if (p.a.actor === actor && p.a.label === channel && (link === undefined || p.a.link === link) && !p.a.closed) return { end: p.a, out: p.ab, other: p.b };
      if (p.b.actor === actor && p.b.label === channel && (link === undefined || p.b.link === link) && !p.b.closed) return { end: p.b, out: p.ba, other: p.a };
    }
    return undefined;
  }

  private sendFrom(actor: string, channel: Channel, message: Message, link?: string): void {
    const found = this.endOf(actor, channel, link);
    if (found === undefined) return; // the channel is closed: nothing leaves
    found.out.push({ kind: 'msg', message, seq: ++this.seq });
    this.sent.push({ from: actor, to: found.other.actor, channel, message });
    this.event({ actor, kind: 'send', peer: found.other.actor, name: message.type, fields: fieldsOf(message) });
  }

  /** Queues with something to deliver: [from, to, queue, receiving end]. */
  private queues(): Array<{ from: string; to: string; q: Item[]; end: End }> {
    const out: Array<{ from: string; to: string; q: Item[]; end: End }> = [];
    for (const p of this.pipes) {
      if (p.ab.length > 0) out.push({ from: p.a.actor, to: p.b.actor, q: p.ab, end: p.b });
      if (p.ba.length > 0) out.push({ from: p.b.actor, to: p.a.actor, q: p.ba, end: p.a });
    }
    return out;
  }

  /** Delivers the oldest item in flight from `from` to `to`; returns the message (undefined for EOF or nothing). */
  deliver(from: string, to: string): Message | undefined {
    const q = this.queues().find((x) => x.from === from && x.to === to);
    if (q === undefined) return undefined;
    return this.deliverFrom(q);
  }

  private deliverFrom(q: { from: string; to: string; q: Item[]; end: End }): Message | undefined {
    const item = q.q.shift()!;
    const end = q.end;
    if (this.dead.has(q.to) || end.label === 'retired') return undefined;
    if (item.kind === 'eof') {
      if (!end.closed) {
        end.closed = true;
        if (!this.dead.has(q.from)) this.action(q.to, 'cut', [q.from]);
        this.feed(q.to, end.link === undefined ? { kind: 'lost', channel: end.label } : { kind: 'lost', channel: end.label, link: end.link });
      }
      return undefined;
    }
    if (end.closed) return undefined;
    this.event({ actor: q.to, kind: 'receive', peer: q.from, name: item.message.type, fields: {} });
    this.feed(q.to, end.link === undefined ? { kind: 'recv', channel: end.label, message: item.message } : { kind: 'recv', channel: end.label, message: item.message, link: end.link });
    return item.message;
  }

  /** Delivers everything in flight, oldest first (global FIFO), until nothing is left. */
  run(limit = 100000): void {
    for (let i = 0; i < limit; i++) if (!this.step()) return;
    throw new Error('harness: run did not settle');
  }

  /** Delivers the oldest item in flight anywhere; false when nothing is in flight. */
  step(): boolean {
    const qs = this.queues();
    if (qs.length === 0) return false;
    qs.sort((x, y) => x.q[0]!.seq - y.q[0]!.seq);
    this.deliverFrom(qs[0]!);
    return true;
  }

  /** Delivers in a random order (FIFO per direction), driven by `random` in [0, 1). */
  runRandom(random: () => number, limit = 100000): void {
    for (let i = 0; i < limit; i++) {
      const qs = this.queues();
      if (qs.length === 0) return;
      this.deliverFrom(qs[Math.floor(random() * qs.length)]!);
    }
    if (limit === 100000) throw new Error('harness: runRandom did not settle');
  }

  /** Whether anything is in flight. */
  get busy(): boolean {
    return this.queues().length > 0;
  }

  /** Advances the clock to a timer of `actor` and fires it (§9.1). */
  fire(actor: string, timer: string): void {
    const at = this.timersOf(actor).get(timer);
    if (at === undefined) throw new Error(`harness: ${actor} has no timer ${timer} running`);
    this.clock = Math.max(this.clock, at);
    this.timersOf(actor).delete(timer);
    this.action(actor, 'timeout', [timer]);
    this.feed(actor, { kind: 'timer', timer });
  }

  /** Whether `actor` runs `timer`. */
  hasTimer(actor: string, timer: string): boolean {
    return this.timersOf(actor).has(timer);
  }

  /** Sudden death (§9.3–9.5): frames it sent are still delivered, then its channels end. */
  kill(actor: string): void {
    this.action(actor, 'kill');
    this.dead.add(actor);
    this.timers.delete(actor);
    for (const p of this.pipes) {
      if (p.a.actor === actor && !p.a.closed) {
        p.a.closed = true;
        p.ab.push({ kind: 'eof', seq: ++this.seq });
      }
      if (p.b.actor === actor && !p.b.closed) {
        p.b.closed = true;
        p.ba.push({ kind: 'eof', seq: ++this.seq });
      }
    }
  }

  /** Cuts the channel `channel` of `actor` (both directions end after what is in flight). */
  cut(actor: string, channel: Channel): void {
    const found = this.endOf(actor, channel);
    if (found === undefined) return;
    found.end.closed = true;
    found.out.push({ kind: 'eof', seq: ++this.seq });
    // The actor itself learns at once.
    this.feed(actor, { kind: 'lost', channel });
  }

  /** The application writes (§6.7). */
  write(actor: string, text: string | Uint8Array): Effect[] {
    const data = typeof text === 'string' ? new TextEncoder().encode(text) : text;
    const list = this.written.get(actor) ?? [];
    list.push(data);
    this.written.set(actor, list);
    this.action(actor, 'send', [], { len: data.length, hex: hexOf(data) });
    this.traceTrigger(actor, 'T4');
    return this.feed(actor, { kind: 'app-write', data });
  }

  /** One application read. */
  read(actor: string, max?: number): Effect[] {
    this.traceTrigger(actor, 'T3');
    return this.feed(actor, max === undefined ? { kind: 'app-read' } : { kind: 'app-read', max });
  }

  /** A read or write on a dormant handle is T3 or T4 (§2.4): traced as such. */
  private traceTrigger(actor: string, trigger: 'T3' | 'T4'): void {
    const engine = this.engines.get(actor);
    if (engine instanceof SuccessorEngine && engine.state === 'DORMANT') this.action(actor, 'trigger', [trigger]);
  }

  /**
   * Drives a stop-and-wait handoff started by the successor's read (T3) until its token is armed:
   * NEED, SUSPEND, SUSPENDED, then COPY, COPIED and ORDER reach S (state READY).
   */
  stopAndWaitUntilArmed(): void {
    this.flow('S');
    this.deliver('S', 'O');
    this.deliver('O', 'P');
    this.deliver('P', 'O');
    for (let i = 0; i < 3; i++) this.deliver('O', 'S');
  }

  /** Reads continuously from now on. */
  flow(actor: string): void {
    this.flowing.add(actor);
    this.read(actor);
  }

  /** A trigger input (§2.4), traced as `trigger Tn`. */
  trigger(actor: string, trigger: 'T1' | 'T2' | 'T3' | 'T4'): Effect[] {
    this.action(actor, 'trigger', [trigger]);
    return this.feed(actor, { kind: 'trigger', trigger });
  }

  /** A stranger X connects to `successor`'s listener and sends a raw ATTACH (§8.3). */
  stranger(successor: string, message: Message, name = 'X'): string {
    this.action(name, 'connect', [successor]);
    this.action(successor, 'accept', [name]);
    const link = `${name}#${++this.linkCount}`;
    this.engines.set(name, new StrangerSink() as unknown as AnyEngine);
    this.connect({ actor: name, label: 'C2', closed: false }, { actor: successor, label: 'C2', link, closed: false });
    this.sendFrom(name, 'C2', message);
    return link;
  }

  bytes(actor: string, from: 'delivered' | 'written'): string {
    const list = (from === 'delivered' ? this.delivered : this.written).get(actor) ?? [];
    return Buffer.concat(list).toString('latin1');
  }

  failCodes(actor: string): string[] {
    return (this.fails.get(actor) ?? []).map((e) => e.errorName);
  }

  /** The names of the messages sent, in order, optionally only those between two actors. */
  names(filter?: (s: Sent) => boolean): string[] {
    return this.sent.filter(filter ?? (() => true)).map((s) => s.message.type);
  }

  private event(e: Omit<TraceEvent, 'line' | 'column' | 'args'> & { args?: string[] }): void {
    this.events.push({ line: 0, column: 0, time: this.clock, args: [], ...e });
  }

  private action(actor: string, name: string, args: string[] = [], fields: Record<string, FieldValue> = {}): void {
    this.event({ actor, kind: 'action', name, args, fields });
  }
}

/** A stranger's end of C2: it records nothing and answers nothing. */
class StrangerSink {
  handle(): Effect[] {
    return [];
  }
}

export function hexOf(data: Uint8Array): string {
  return `0x${Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('hex')}`;
}

/** A message's fields in the trace notation (§13.1): flags first, then the fields of §4/§5. */
export function fieldsOf(message: Message): Record<string, FieldValue> {
  const spec = MESSAGE_BY_NAME.get(message.type)!;
  const m = message as unknown as Record<string, unknown>;
  const out: Record<string, FieldValue> = {};
  const names = [...Object.keys(spec.flags), ...spec.fields.map((f) => f.name)];
  for (const name of names) {
    const v = m[name];
    if (v === undefined) continue;
    if (typeof v === 'bigint') out[name] = Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
    else if (v instanceof Uint8Array) out[name] = hexOf(v);
    else if (name === 'code' && typeof v === 'number') out[name] = errorByWireCode(v)?.name ?? v;
    else out[name] = v as FieldValue;
  }
  return out;
}

/** Concatenated text of chunks. */
export function text(chunks: readonly Uint8Array[] | undefined): string {
  return Buffer.concat(chunks ?? []).toString('latin1');
}
