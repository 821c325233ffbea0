/**
 * Kit cases: faults and misbehaviour (spec §15, §15.1). The implementation is the server side
 * (origin and successor, through its adapter); the kit is the peer, mostly the raw, frame-level
 * peer of `conformance/wire-peer.ts`, which can do what a conforming peer never does: present a
 * wrong or replayed token, stay silent after SUSPEND, send bytes that are no frame or a frame out
 * of order, cut C1, or kill the origin or the successor (`crash`, §15.1) at a chosen step.
 *
 * Every expectation is the specification's, checked against the text and `spec/tables/states.json`
 * (the row ids are cited), not the reference's behaviour; where the text leaves a choice, the case
 * accepts each allowed outcome and says so.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { ERRORS, type ErrorName } from '../../reference/errors.js';
import type { Message, MessageOf } from '../../reference/wire/index.js';
import { CaseFailure, Unsupported, type CaseContext, type ImplProcess, type KitCase } from '../run.js';
import { codeName, describe, rawFrame, successorActor, within, wirePeer, type WirePeer } from '../wire-peer.js';

type Line = Record<string, unknown>;

/**
 * Timers for cases that run a whole handoff (§9.1): longer than the defaults where a loaded
 * machine could make a correct handoff time out, and within the relations of §9.1
 * (ARMED, COMMIT > REBOUND + ABORT; REBOUND > ATTACH + 1 RTT).
 */
const CALM_TIMERS = { SUSPEND: 6000, REBOUND: 8000, ABORT: 3000, ARMED: 15000, COMMIT: 15000, COPY: 8000, NEED: 15000 };

/** Bytes the peer sends before the fork, and how many of them the origin's application reads (R). */
const BEFORE = 3000;
const READ = 1000;
/** Bytes the origin's application sends before the fork (Xo). */
const ORIGIN_OUT = 700;

// -------------------------------------------------------------------------------------------
// Helpers.

/** The code of a result or event line (`ERR_…`), or a description of what it was. */
function codeOf(line: Line): string {
  if (line.ok === true) return 'ok';
  if (line.unsupported !== undefined) return `unsupported (${String(line.unsupported)})`;
  const error = line.error as { code?: unknown } | undefined;
  return String(error?.code ?? line.code ?? 'no code');
}

/** Where two byte strings first differ. */
function firstDifference(a: Buffer, b: Buffer): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return n;
}

function expectBytes(actual: Buffer, expected: Buffer, what: string, section: string): void {
  if (!actual.equals(expected)) {
    throw new CaseFailure(`${what}: expected ${expected.length} bytes, got ${actual.length}; first difference at byte ${firstDifference(actual, expected)}`, section);
  }
}

/**
 * Reads `expected` through the adapter (`recv`, several times if needed) and fails at the first
 * wrong byte, at end-of-stream, at an error, or when the bytes do not come within `timeoutMs`.
 * `first` is a `recv` already under way (the T3 read of a successor).
 */
async function readExactly(proc: ImplProcess, handle: string, expected: Buffer, what: string, section: string, options: { first?: Promise<Line>; timeoutMs?: number } = {}): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const deadline = Date.now() + timeoutMs;
  let have = Buffer.alloc(0);
  let pending = options.first;
  while (have.length < expected.length) {
    const result = pending ?? proc.command('recv', { handle, max: expected.length - have.length });
    pending = undefined;
    const line = await within(result, Math.max(1, deadline - Date.now()), () => new CaseFailure(`${what}: ${have.length} of ${expected.length} bytes within ${timeoutMs} ms`, section));
    if (line.ok !== true) throw new CaseFailure(`${what}: recv answered ${codeOf(line)} after ${have.length} of ${expected.length} bytes`, section);
    const value = (line.value ?? {}) as Line;
    if (value.end === true) throw new CaseFailure(`${what}: end-of-stream after ${have.length} of ${expected.length} bytes`, section);
    have = Buffer.concat([have, Buffer.from(String(value.data ?? ''), 'hex')]);
    const at = firstDifference(have, expected);
    if (at < Math.min(have.length, expected.length) || have.length > expected.length) {
      throw new CaseFailure(`${what}: byte ${at} differs from what the peer sent (${have.length} of ${expected.length} bytes read): bytes lost, doubled or reordered`, section);
    }
  }
}

/** A `recv` (or other command) must fail with `code`: `ERR_REVOKED`, `ERR_ORIGIN_LOST`... */
async function expectFailure(result: Promise<Line>, codes: readonly string[], what: string, section: string, timeoutMs = 10_000): Promise<void> {
  const line = await within(result, timeoutMs, () => new CaseFailure(`${what}: no answer within ${timeoutMs} ms, expected ${codes.join(' or ')}`, section));
  const code = codeOf(line);
  if (!codes.includes(code)) throw new CaseFailure(`${what}: expected ${codes.join(' or ')}, got ${code}${line.ok === true ? ` (${JSON.stringify(line.value)})` : ''}`, section);
}

/** The process reports that `handle` failed with one of `codes` (an `error` event, §15.1). */
async function expectErrorEvent(proc: ImplProcess, handle: string, codes: readonly string[], section: string, timeoutMs = 5000): Promise<void> {
  const event = await within(proc.event((e) => e.event === 'error' && e.handle === handle), timeoutMs, () => new CaseFailure(`no error event for handle ${handle} within ${timeoutMs} ms, expected ${codes.join(' or ')}`, section));
  if (!codes.includes(String(event.code))) throw new CaseFailure(`handle ${handle} failed with ${String(event.code)}, expected ${codes.join(' or ')}`, section);
}

/** The next frame must be `ERROR` with one of `codes`, and then the connection must close (§4.12). */
async function expectErrorFrame(c: WirePeer, codes: readonly ErrorName[], section: string, options: { bestEffort?: boolean; timeoutMs?: number } = {}): Promise<void> {
  const frame = await c.next(section, { timeoutMs: options.timeoutMs ?? 5000, waitingFor: `ERROR(${codes.join(' or ')})` });
  if (frame === undefined) {
    if (options.bestEffort === true) return;
    throw new CaseFailure(`the connection closed without ERROR(${codes.join(' or ')})`, section);
  }
  if (frame.type !== 'ERROR' || !codes.includes(codeName(frame.code) as ErrorName)) throw new CaseFailure(`expected ERROR(${codes.join(' or ')}), got ${describe(frame)}`, section);
  const after = await c.untilClosed('4.12', { what: 'the sender of ERROR did not close the connection' });
  if (after.length > 0) throw new CaseFailure(`frames after ERROR: ${after.map(describe).join(', ')}`, '4.12');
}

/** An origin whose connection from the kit's raw peer is open (§6.1). */
interface Conn {
  readonly origin: ImplProcess;
  readonly handle: string;
  readonly c1: WirePeer;
}

/** Configures the origin (stop-and-wait only, `timers`), listens, and connects the raw peer. */
async function openRaw(ctx: CaseContext, timers: Record<string, number> = CALM_TIMERS, hello = true): Promise<{ origin: ImplProcess; c1: WirePeer; accepted: Promise<Line> }> {
  // The raw peer writes frames on a byte stream (§11.1); over RDMA (§11.2) the kit cannot show these faults.
  if (ctx.transport !== 'tcp') throw new Unsupported(`the kit's raw peer speaks TCP only (§11.1), not ${ctx.transport}`);
  const origin = await ctx.process(0);
  await origin.ok('configure', { fast: false, timers }, '15.1');
  const { addr } = await origin.ok('listen', { addr: 'tcp://127.0.0.1:0' }, '15.1');
  const c1 = await wirePeer(ctx, String(addr), { hello });
  return { origin, c1, accepted: origin.event((e) => e.event === 'accepted') };
}

async function open(ctx: CaseContext, timers: Record<string, number> = CALM_TIMERS): Promise<Conn> {
  const { origin, c1, accepted } = await openRaw(ctx, timers);
  const event = await within(accepted, 5000, () => new CaseFailure('the HELLOs were exchanged but the adapter reported no accepted connection', '15.1'));
  return { origin, handle: String(event.handle), c1 };
}

/** A connection with bytes each way, a forked successor, and its T3 read under way (§2.4). */
interface Prepared extends Conn {
  readonly successor: ImplProcess;
  /** The peer's bytes the origin's application has not read: what the successor must get first (§6.5). */
  readonly unread: Buffer;
  /** The successor's `recv` that is trigger T3; it completes after the commit. */
  readonly t3: Promise<Line>;
}

/**
 * Opens a connection; the peer sends {@link BEFORE} bytes of which the origin's application reads
 * {@link READ} (R); the origin sends {@link ORIGIN_OUT} bytes (Xo); the origin forks a successor,
 * which reads on its dormant handle (T3). `inFlight` more bytes leave the peer just then.
 */
async function prepare(ctx: CaseContext, options: { timers?: Record<string, number>; inFlight?: number } = {}): Promise<Prepared> {
  const conn = await open(ctx, options.timers);
  const { origin, handle, c1 } = conn;
  const before = randomBytes(BEFORE);
  c1.sendData(before);
  await readExactly(origin, handle, before.subarray(0, READ), 'the origin read the peer', '6.4');
  const out = randomBytes(ORIGIN_OUT);
  await origin.ok('send', { handle, data: out.toString('hex') }, '4.2');
  expectBytes(await c1.readData(out.length, '6.4', { what: 'the origin’s bytes' }), out, 'the peer read the origin', '6.4');
  await origin.ok('fork', { handles: [handle] }, '2.3');
  const successor = await ctx.process(1);
  await within(successor.event((e) => e.event === 'inherited' && e.handle === handle), 10_000, () => new CaseFailure(`the forked child reported no inherited handle ${handle}`, '15.1'));
  const inFlight = randomBytes(options.inFlight ?? 0);
  const t3 = successor.command('recv', { handle });
  if (inFlight.length > 0) c1.sendData(inFlight); // in flight while the trigger reaches the origin
  return { ...conn, successor, unread: Buffer.concat([before.subarray(READ), inFlight]), t3 };
}

/** SUSPEND arrives (§6.2 C): stop-and-wait (the peer did not offer fast, §6.1), the acceptor's first hid, 1 (§2.2). */
async function expectSuspend(p: Prepared): Promise<MessageOf<'SUSPEND'>> {
  const suspend = await p.c1.expect('SUSPEND', '6.2', { timeoutMs: 10_000, why: 'the successor read on its dormant handle: T3, §2.4' });
  if (suspend.fast) throw new CaseFailure('SUSPEND with fast, but the peer did not offer fast in its HELLO', '6.1');
  if (suspend.hid !== 1) throw new CaseFailure(`the first handoff of the acceptor's side has hid ${suspend.hid}, expected 1`, '2.2');
  return suspend;
}

/** The peer answers SUSPENDED with where its stream stopped (Yp) and what it received (§4.5, row P1). */
function sendSuspended(c1: WirePeer, hid: number): void {
  c1.send({ type: 'SUSPENDED', hid, sendEnd: c1.sendOffset, recvOffset: c1.recvOffset });
}

/** REBIND arrives (§6.2 E): same hid, sendEnd = what the peer received (§4.6, §6.4). */
async function expectRebind(c1: WirePeer, hid: number): Promise<MessageOf<'REBIND'>> {
  const rebind = await c1.expect('REBIND', '6.2', { timeoutMs: 10_000, why: 'after SUSPENDED' });
  if (rebind.hid !== hid) throw new CaseFailure(`REBIND hid=${rebind.hid}, the handoff is ${hid}`, '2.2');
  if (rebind.sendEnd !== c1.recvOffset) throw new CaseFailure(`REBIND sendEnd=${rebind.sendEnd}, but the peer received ${c1.recvOffset} bytes from the origin`, '6.4');
  return rebind;
}

/** The peer's ATTACH for this handoff (§4.7), with the token and offsets it holds, or others. */
function attachFor(c1: WirePeer, rebind: MessageOf<'REBIND'>, change: Partial<MessageOf<'ATTACH'>> = {}): MessageOf<'ATTACH'> {
  return { type: 'ATTACH', peerFin: false, cid: c1.cid!, hid: rebind.hid, token: rebind.token, recvOffset: rebind.sendEnd, sendOffset: c1.sendOffset, credits: 0, ...change };
}

/** Connects C2 to the successor's rebind listener (§6.2 f), as the peer or as a stranger (`X`). */
function connectC2(ctx: CaseContext, c1: WirePeer, rebind: MessageOf<'REBIND'>, actor = 'P'): Promise<WirePeer> {
  return wirePeer(ctx, rebind.addr, { hello: false, actor, remote: successorActor(rebind.addr), cid: c1.cid!, offsets: { send: c1.sendOffset, recv: rebind.sendEnd } });
}

/** The real ATTACH must be answered with ATTACHED echoing the offsets (§4.8, row S11/S22). */
async function attach(ctx: CaseContext, c1: WirePeer, rebind: MessageOf<'REBIND'>): Promise<WirePeer> {
  const c2 = await connectC2(ctx, c1, rebind);
  const sent = attachFor(c1, rebind);
  c2.send(sent);
  const attached = await c2.expect('ATTACHED', '8.2', { timeoutMs: 10_000, why: 'the ATTACH carries the cid, hid and token of REBIND and the right offsets' });
  if (attached.hid !== sent.hid) throw new CaseFailure(`ATTACHED hid=${attached.hid}, ATTACH hid=${sent.hid}`, '4.8');
  if (attached.recvOffset !== sent.sendOffset || attached.sendOffset !== sent.recvOffset) {
    throw new CaseFailure(`ATTACHED recvOffset=${attached.recvOffset} sendOffset=${attached.sendOffset}, expected ${sent.sendOffset} and ${sent.recvOffset}`, '6.4');
  }
  return c2;
}

/**
 * After REBOUND (§6.2 h/H): the origin closes C1 (claim 11, row O22), and sends nothing else after
 * REBIND — no second REBIND or SUSPEND (§6.6), no DATA (§6.7).
 */
async function expectC1ClosedAfterRebind(c1: WirePeer, rebind: MessageOf<'REBIND'>, what = 'the origin did not close C1 after REBOUND (claim 11)'): Promise<void> {
  const frames = await c1.untilClosed('6.6', { what, timeoutMs: 8000 });
  checkNothingAfterRebind(c1, rebind, frames);
}

function checkNothingAfterRebind(c1: WirePeer, rebind: MessageOf<'REBIND'>, frames: readonly Message[]): void {
  for (const frame of frames) {
    if (frame.type === 'REBIND' || frame.type === 'SUSPEND') throw new CaseFailure(`a second ${frame.type} (hid ${frame.hid}) after the REBIND of handoff ${rebind.hid}: one rebind per handoff`, '6.6');
    if (frame.type !== 'CREDIT') throw new CaseFailure(`${describe(frame)} on C1 after REBIND`, '7.5');
  }
  if (c1.recvOffset !== rebind.sendEnd) throw new CaseFailure(`the origin sent ${c1.recvOffset - rebind.sendEnd} more bytes on C1 after REBIND (sendEnd=${rebind.sendEnd})`, '6.7');
}

/** After the commit: the peer's bytes on C2 and the successor's answer, byte-exact, from Yp and Xo (§6.4). */
async function afterCommit(p: Prepared, c2: WirePeer, section: string): Promise<void> {
  const later = randomBytes(4000);
  c2.sendData(later);
  await readExactly(p.successor, p.handle, Buffer.concat([p.unread, later]), 'the successor read (the copy, then C2)', section, { first: p.t3 });
  const reply = randomBytes(3000);
  await p.successor.ok('send', { handle: p.handle, data: reply.toString('hex') }, '6.7');
  expectBytes(await c2.readData(reply.length, section, { what: 'the successor’s bytes on C2' }), reply, 'the peer read the successor', section);
}

/** A stranger's ATTACH must be refused with `code` and its C2 closed; nothing else changes (§8.3, row S12). */
async function expectRefused(c2: WirePeer, sent: MessageOf<'ATTACH'>, codes: readonly ErrorName[], why: string): Promise<void> {
  const frame = await c2.next('8.3', { timeoutMs: 8000, waitingFor: `REFUSE(${codes.join(' or ')})` });
  if (frame === undefined) throw new CaseFailure(`${why}: C2 closed without REFUSE(${codes.join(' or ')})`, '8.3');
  if (frame.type === 'ATTACHED') throw new CaseFailure(`${why}: answered ATTACHED, expected REFUSE(${codes.join(' or ')})`, '8.2');
  if (frame.type !== 'REFUSE') throw new CaseFailure(`${why}: expected REFUSE(${codes.join(' or ')}), got ${describe(frame)}`, '8.3');
  if (!codes.includes(codeName(frame.code) as ErrorName)) throw new CaseFailure(`${why}: REFUSE code ${codeName(frame.code)}, expected ${codes.join(' or ')}`, '8.2');
  if (frame.hid !== sent.hid) throw new CaseFailure(`${why}: REFUSE hid=${frame.hid}, the ATTACH had ${sent.hid} (echoed as received)`, '4.11');
  const after = await c2.untilClosed('4.11', { what: `${why}: the successor did not close that C2 after REFUSE` });
  if (after.length > 0) throw new CaseFailure(`${why}: frames after REFUSE: ${after.map(describe).join(', ')}`, '4.11');
}

// -------------------------------------------------------------------------------------------
// Malformed and unexpected frames.

/** A DATA payload: offset (u64) then data. */
function dataPayload(offset: bigint, data: Uint8Array): Buffer {
  const out = Buffer.alloc(8 + data.length);
  out.writeBigUInt64BE(offset, 0);
  out.set(data, 8);
  return out;
}

/**
 * A malformed frame from the peer on C1 in OPEN (§3.4): the origin answers `ERROR(code)` (best
 * effort), closes C1 and fails the connection with that error, reported as an `error` event.
 */
function malformedCase(name: string, title: string, code: ErrorName, sections: readonly string[], bytes: (c1: WirePeer) => Uint8Array, options: { halfClose?: boolean } = {}): KitCase {
  return {
    id: `kit.fault.malformed.${name}`,
    title,
    sections: ['3.4', '4.12', ...sections],
    level: 'MUST',
    async run(ctx) {
      const { origin, handle, c1 } = await open(ctx);
      const hello = randomBytes(64);
      c1.sendData(hello);
      await readExactly(origin, handle, hello, 'the origin read the peer', '6.4');
      c1.sendRaw(bytes(c1), `${title} → ${code}`);
      if (options.halfClose === true) c1.endWrites();
      // §3.4: ERROR with the error's code is best effort after an EOF inside a frame (§11.1).
      await expectErrorFrame(c1, [code], sections[0] ?? '3.4', { bestEffort: options.halfClose === true });
      await expectErrorEvent(origin, handle, [`ERR_${code}`], '3.4');
    },
  };
}

/** An unexpected frame on C1 (§7.5): ERROR(UNEXPECTED_MESSAGE …), close, the handle fails with it. */
async function expectUnexpected(origin: ImplProcess, handle: string, c1: WirePeer, codes: readonly ErrorName[], section: string): Promise<void> {
  await expectErrorFrame(c1, codes, section);
  await expectErrorEvent(origin, handle, codes.map((c) => `ERR_${c}`), section);
}

// -------------------------------------------------------------------------------------------
// The cases.

export const FAULTS_CASES: readonly KitCase[] = [
  {
    id: 'kit.fault.window-b-d',
    title: 'The peer writes between SUSPEND and SUSPENDED (window B′..D): the copy holds every unread byte, once, in order',
    sections: ['6.5', '6.2', '6.4', '6.6', '6.7'],
    level: 'MUST',
    async run(ctx) {
      const p = await prepare(ctx, { inFlight: 2000 });
      const suspend = await expectSuspend(p);
      // §6.5: bytes the peer sent before it saw SUSPEND arrive after it: the origin keeps them as unread.
      const window = randomBytes(5000);
      p.c1.sendData(window);
      sendSuspended(p.c1, suspend.hid);
      const rebind = await expectRebind(p.c1, suspend.hid);
      const c2 = await attach(ctx, p.c1, rebind);
      p.c1.send({ type: 'REBOUND', hid: suspend.hid });
      await expectC1ClosedAfterRebind(p.c1, rebind);
      await afterCommit({ ...p, unread: Buffer.concat([p.unread, window]) }, c2, '6.5');
      // §6.6: the rebound origin's handle: writes fail with ERR_REBOUND.
      const write = await p.origin.command('send', { handle: p.handle, data: '00' });
      if (codeOf(write) !== 'ERR_REBOUND') throw new CaseFailure(`a write on the rebound origin's handle answered ${codeOf(write)}${write.error !== undefined ? ` (${JSON.stringify(write.error)})` : ''}, expected ERR_REBOUND`, '6.6');
    },
  },
  {
    id: 'kit.fault.token.wrong',
    title: 'Strangers at the rebind listener (garbage, unknown cid, wrong token, wrong hid) are refused and change nothing; the real handoff completes',
    sections: ['8.2', '8.3', '3.4', '14'],
    level: 'MUST',
    async run(ctx) {
      const p = await prepare(ctx);
      const suspend = await expectSuspend(p);
      sendSuspended(p.c1, suspend.hid);
      const rebind = await expectRebind(p.c1, suspend.hid);
      // §3.4: bytes that are no frame as the first frame on C2: that C2 is closed (ERROR SHOULD come first).
      const garbage = await connectC2(ctx, p.c1, rebind, 'X');
      garbage.sendRaw(rawFrame({ type: 0x0e }), 'an undefined type as the first frame on C2');
      const before = await garbage.untilClosed('3.4', { what: 'the successor did not close a C2 whose first frame is malformed' });
      if (before.some((f) => f.type !== 'ERROR')) throw new CaseFailure(`a malformed first frame on C2 was answered with ${before.map(describe).join(', ')}`, '3.4');
      // §8.2 step 1: a cid the successor never held.
      const unknown = await connectC2(ctx, p.c1, rebind, 'X');
      const unknownAttach = attachFor(p.c1, rebind, { cid: randomBytes(16), token: randomBytes(16) });
      unknown.send(unknownAttach);
      await expectRefused(unknown, unknownAttach, ['UNKNOWN_CONNECTION'], 'an ATTACH for an unknown cid');
      // §8.2 step 5: the right cid and hid, a wrong token.
      const wrong = await connectC2(ctx, p.c1, rebind, 'X');
      const wrongAttach = attachFor(p.c1, rebind, { token: randomBytes(16) });
      wrong.send(wrongAttach);
      await expectRefused(wrong, wrongAttach, ['TOKEN_INVALID'], 'an ATTACH with a wrong token');
      // §8.2 step 5: the right token for another hid.
      const wrongHid = await connectC2(ctx, p.c1, rebind, 'X');
      const wrongHidAttach = attachFor(p.c1, rebind, { hid: rebind.hid + 2 });
      wrongHid.send(wrongHidAttach);
      await expectRefused(wrongHid, wrongHidAttach, ['TOKEN_INVALID'], 'an ATTACH with the token for another hid');
      // §8.3: none of them consumed the token or disarmed the order: the peer's ATTACH succeeds.
      const c2 = await attach(ctx, p.c1, rebind);
      p.c1.send({ type: 'REBOUND', hid: suspend.hid });
      await expectC1ClosedAfterRebind(p.c1, rebind);
      await afterCommit(p, c2, '8.3');
    },
  },
  {
    id: 'kit.fault.token.replayed',
    title: 'A second ATTACH with a consumed token is refused, before and after the commit; the connection is unaffected',
    sections: ['8.2', '8.3', '14'],
    level: 'MUST',
    async run(ctx) {
      const p = await prepare(ctx);
      const suspend = await expectSuspend(p);
      sendSuspended(p.c1, suspend.hid);
      const rebind = await expectRebind(p.c1, suspend.hid);
      const c2 = await attach(ctx, p.c1, rebind);
      // The successor is BOUND (ATTACHED sent, no COMMIT yet: REBOUND is held back): it must still
      // know the token it consumed (§8.2: at least until it leaves that handoff's state).
      const replay = await connectC2(ctx, p.c1, rebind, 'X');
      const replayed = attachFor(p.c1, rebind);
      replay.send(replayed);
      await expectRefused(replay, replayed, ['TOKEN_REPLAYED'], 'the same ATTACH again before the commit');
      p.c1.send({ type: 'REBOUND', hid: suspend.hid });
      await expectC1ClosedAfterRebind(p.c1, rebind);
      // After the commit (OWNER, row S12): refused; TOKEN_REPLAYED SHOULD, TOKEN_INVALID allowed (§8.2).
      const late = await connectC2(ctx, p.c1, rebind, 'X');
      late.send(replayed);
      await expectRefused(late, replayed, ['TOKEN_REPLAYED', 'TOKEN_INVALID', 'TOKEN_EXPIRED'], 'the same ATTACH again after the commit');
      await afterCommit(p, c2, '8.3');
    },
  },
  {
    id: 'kit.fault.timeout.suspend',
    title: 'The peer never answers SUSPEND: the origin aborts on its SUSPEND timer; after the peer’s ABORT the connection resumes on C1',
    sections: ['9.1', '9.2'],
    level: 'MUST',
    async run(ctx) {
      const SUSPEND_MS = 600;
      const p = await prepare(ctx, { timers: { ...CALM_TIMERS, SUSPEND: SUSPEND_MS, ABORT: 3000 } });
      const suspend = await expectSuspend(p);
      const sentAt = Date.now();
      // Row O10: SUSPENDING, timer SUSPEND → send ABORT(TIMEOUT).
      const abort = await p.c1.expect('ABORT', '9.1', { timeoutMs: SUSPEND_MS + 5000, why: `the peer is silent and the SUSPEND timer is ${SUSPEND_MS} ms` });
      const waited = Date.now() - sentAt;
      if (abort.hid !== suspend.hid || codeName(abort.code) !== 'TIMEOUT') throw new CaseFailure(`expected ABORT hid=${suspend.hid} code=TIMEOUT, got ${describe(abort)}`, '9.2');
      if (waited < SUSPEND_MS / 2) throw new CaseFailure(`ABORT(TIMEOUT) ${waited} ms after SUSPEND, but the SUSPEND timer is ${SUSPEND_MS} ms`, '9.1');
      // Row O28: the peer's ABORT → REVOKE(ABORTED) to the successor, resume on C1 (T3: appHolds).
      p.c1.send({ type: 'ABORT', hid: suspend.hid, code: ERRORS.ABORTED.code });
      await expectFailure(p.t3, ['ERR_REVOKED'], 'the successor’s read after the abort', '9.2');
      const more = randomBytes(2000);
      p.c1.sendData(more);
      await readExactly(p.origin, p.handle, Buffer.concat([p.unread, more]), 'the origin read on from R after the abort', '9.2');
      const reply = randomBytes(1500);
      await p.origin.ok('send', { handle: p.handle, data: reply.toString('hex') }, '9.2');
      expectBytes(await p.c1.readData(reply.length, '9.2', { what: 'the origin’s bytes after the abort' }), reply, 'the peer read the origin after the abort', '9.2');
    },
  },
  {
    id: 'kit.fault.timeout.abort',
    title: 'The peer answers neither SUSPEND nor ABORT: the origin fails the connection with TIMEOUT on its ABORT timer',
    sections: ['9.1', '9.2'],
    level: 'MUST',
    async run(ctx) {
      const SUSPEND_MS = 500;
      const ABORT_MS = 800;
      const p = await prepare(ctx, { timers: { ...CALM_TIMERS, SUSPEND: SUSPEND_MS, ABORT: ABORT_MS } });
      const suspend = await expectSuspend(p);
      const abort = await p.c1.expect('ABORT', '9.1', { timeoutMs: SUSPEND_MS + 5000, why: `the peer is silent and the SUSPEND timer is ${SUSPEND_MS} ms` });
      if (abort.hid !== suspend.hid || codeName(abort.code) !== 'TIMEOUT') throw new CaseFailure(`expected ABORT hid=${suspend.hid} code=TIMEOUT, got ${describe(abort)}`, '9.2');
      // Row O33: ABORTING, timer ABORT → REVOKE(TIMEOUT), ERROR(TIMEOUT), close C1, fail TIMEOUT.
      await expectErrorFrame(p.c1, ['TIMEOUT'], '9.1', { timeoutMs: ABORT_MS + 5000 });
      await expectErrorEvent(p.origin, p.handle, ['ERR_TIMEOUT'], '9.2');
      await expectFailure(p.t3, ['ERR_REVOKED'], 'the successor’s read after the failed handoff', '9.2');
    },
  },
  malformedCase('unknown-type', 'A frame of an undefined type (0x0E)', 'FRAME_UNKNOWN_TYPE', ['3.1'], () => rawFrame({ type: 0x0e })),
  malformedCase('local-type', 'A local frame (JOIN, 0x41) on C1', 'FRAME_UNKNOWN_TYPE', ['3.1'], () => rawFrame({ type: 0x41, payload: Buffer.from([0, 0, 0, 1, 0, 1, 0x78]) })),
  malformedCase('bad-version', 'A DATA frame with version 2', 'FRAME_BAD_VERSION', ['3.1'], (c1) => rawFrame({ version: 2, type: 0x02, payload: dataPayload(c1.sendOffset, Buffer.from('x')) })),
  malformedCase('too-large', 'A DATA header announcing more than the origin’s maxPayload (decided from the header alone)', 'FRAME_TOO_LARGE', ['3.3'], (c1) => rawFrame({ type: 0x02, length: (c1.hello?.maxPayload ?? 1_048_576) + 1 }).subarray(0, 8)),
  malformedCase('truncated', 'Half a header, then the end of the TCP stream', 'FRAME_TRUNCATED', ['11.1'], () => rawFrame({ type: 0x02, payload: Buffer.alloc(9) }).subarray(0, 5), { halfClose: true }),
  malformedCase('bad-flags', 'A DATA frame with a flag bit DATA does not define', 'FRAME_BAD_FLAGS', ['3.1'], (c1) => rawFrame({ type: 0x02, flags: 0x0001, payload: dataPayload(c1.sendOffset, Buffer.from('x')) })),
  malformedCase('bad-length', 'A FIN frame with a 7-byte payload (its layout is 8)', 'FRAME_BAD_LENGTH', ['3.4'], () => rawFrame({ type: 0x03, payload: Buffer.alloc(7) })),
  malformedCase('bad-field', 'A REBOUND frame with hid 0', 'FRAME_BAD_FIELD', ['3.2'], () => rawFrame({ type: 0x09, payload: Buffer.alloc(4) })),
  {
    id: 'kit.fault.unexpected.first-frame',
    title: 'DATA as the peer’s first frame on C1, before HELLO, is UNEXPECTED_MESSAGE',
    sections: ['4.1', '6.1', '7.5'],
    level: 'MUST',
    async run(ctx) {
      const { c1 } = await openRaw(ctx, CALM_TIMERS, false);
      c1.send({ type: 'DATA', offset: 0n, data: Buffer.from('too early') });
      // The acceptor sends its HELLO at once (§6.1), then answers the DATA (§4.1).
      const first = await c1.expect('HELLO', '6.1');
      if (!first.acceptor) throw new CaseFailure('the acceptor’s HELLO has acceptor=false', '4.1');
      await expectErrorFrame(c1, ['UNEXPECTED_MESSAGE'], '4.1');
    },
  },
  {
    id: 'kit.fault.unexpected.second-hello',
    title: 'A second HELLO on C1 is UNEXPECTED_MESSAGE',
    sections: ['4.1', '7.5'],
    level: 'MUST',
    async run(ctx) {
      const { origin, handle, c1 } = await open(ctx);
      c1.send({ type: 'HELLO', fast: false, acceptor: false, cid: new Uint8Array(16), maxPayload: 1_048_576, credits: 0 });
      await expectUnexpected(origin, handle, c1, ['UNEXPECTED_MESSAGE'], '4.1');
    },
  },
  {
    id: 'kit.fault.unexpected.attach-on-c1',
    title: 'ATTACH (a C2 frame) on C1 with no handoff under way fails the connection (UNEXPECTED_MESSAGE, or HANDOFF_MISMATCH for its hid)',
    sections: ['7.5', '2.2'],
    level: 'MUST',
    async run(ctx) {
      const { origin, handle, c1 } = await open(ctx);
      c1.send({ type: 'ATTACH', peerFin: false, cid: c1.cid!, hid: 1, token: randomBytes(16), recvOffset: 0n, sendOffset: 0n, credits: 0 });
      // §7.5 (no row) and §2.2 (no handoff under way for its hid) both apply; the spec does not rank them.
      await expectUnexpected(origin, handle, c1, ['UNEXPECTED_MESSAGE', 'HANDOFF_MISMATCH'], '7.5');
    },
  },
  {
    id: 'kit.fault.unexpected.rebound-in-open',
    title: 'REBOUND before any handoff fails the connection (UNEXPECTED_MESSAGE, or HANDOFF_MISMATCH for its hid)',
    sections: ['7.5', '2.2'],
    level: 'MUST',
    async run(ctx) {
      const { origin, handle, c1 } = await open(ctx);
      c1.send({ type: 'REBOUND', hid: 1 });
      await expectUnexpected(origin, handle, c1, ['UNEXPECTED_MESSAGE', 'HANDOFF_MISMATCH'], '7.5');
    },
  },
  {
    id: 'kit.fault.unexpected.rebound-early',
    title: 'REBOUND instead of SUSPENDED (origin in SUSPENDING) is UNEXPECTED_MESSAGE; the successor is revoked',
    sections: ['7.5', '7.1'],
    level: 'MUST',
    async run(ctx) {
      const p = await prepare(ctx);
      const suspend = await expectSuspend(p);
      p.c1.send({ type: 'REBOUND', hid: suspend.hid }); // SUSPENDING has no row for REBOUND (§7.1)
      await expectUnexpected(p.origin, p.handle, p.c1, ['UNEXPECTED_MESSAGE'], '7.5');
      // §7.5: the origin also sends REVOKE to a successor it has involved; that successor fails.
      await expectFailure(p.t3, ['ERR_REVOKED'], 'the successor’s read', '7.5');
    },
  },
  {
    id: 'kit.fault.unexpected.data-after-suspended',
    title: 'DATA on C1 after SUSPENDED (origin in AWAIT_REBOUND) is UNEXPECTED_MESSAGE; the successor is revoked',
    sections: ['6.7', '7.5'],
    level: 'MUST',
    async run(ctx) {
      const p = await prepare(ctx);
      const suspend = await expectSuspend(p);
      sendSuspended(p.c1, suspend.hid);
      await expectRebind(p.c1, suspend.hid); // the origin is in AWAIT_REBOUND now (row O9)
      p.c1.sendData(Buffer.from('after SUSPENDED'));
      await expectUnexpected(p.origin, p.handle, p.c1, ['UNEXPECTED_MESSAGE'], '6.7');
      await expectFailure(p.t3, ['ERR_REVOKED'], 'the successor’s read', '7.5');
    },
  },
  {
    id: 'kit.fault.origin-crash.suspending',
    title: 'The origin dies after SUSPEND, before SUSPENDED: the successor fails with ORIGIN_LOST',
    sections: ['9.3'],
    level: 'MUST',
    async run(ctx) {
      const p = await prepare(ctx);
      await expectSuspend(p);
      void p.origin.command('crash');
      await p.c1.untilClosed('9.3', { what: 'C1 did not close after the origin was killed' });
      // §9.3, row S20: NEEDED, lost L → fail ORIGIN_LOST.
      await expectFailure(p.t3, ['ERR_ORIGIN_LOST'], 'the successor’s read after the origin died', '9.3');
    },
  },
  {
    id: 'kit.fault.origin-crash.ready',
    title: 'The origin dies after REBIND, before ATTACH: the peer and the successor complete alone; every byte arrives once',
    sections: ['9.3', '6.5', '6.4'],
    level: 'MUST',
    async run(ctx) {
      const p = await prepare(ctx);
      const suspend = await expectSuspend(p);
      sendSuspended(p.c1, suspend.hid);
      const rebind = await expectRebind(p.c1, suspend.hid);
      void p.origin.command('crash');
      const frames = await p.c1.untilClosed('9.3', { what: 'C1 did not close after the origin was killed' });
      checkNothingAfterRebind(p.c1, rebind, frames);
      // §9.3, rows S21, S22: READY → READY_ALONE; a valid ATTACH → ATTACHED, deliver, OWNER.
      const c2 = await attach(ctx, p.c1, rebind);
      await afterCommit(p, c2, '9.3');
    },
  },
  {
    id: 'kit.fault.cut.before-suspended',
    title: 'C1 is cut after SUSPEND, before SUSPENDED: the origin fails with PEER_LOST and revokes the successor',
    sections: ['9.6', '9.5'],
    level: 'MUST',
    async run(ctx) {
      const p = await prepare(ctx);
      await expectSuspend(p);
      p.c1.cut();
      // Row O13: SUSPENDING, lost C1 → REVOKE(PEER_LOST), fail PEER_LOST.
      await expectErrorEvent(p.origin, p.handle, ['ERR_PEER_LOST'], '9.6');
      await expectFailure(p.t3, ['ERR_REVOKED'], 'the successor’s read after C1 was cut', '9.6');
    },
  },
  {
    id: 'kit.fault.cut.after-rebind',
    title: 'C1 is cut after REBIND: the origin gives the connection up (COMMIT) and the handoff completes by C2 alone, byte-exact',
    sections: ['9.6', '6.5', '6.4'],
    level: 'MUST',
    async run(ctx) {
      const p = await prepare(ctx);
      const suspend = await expectSuspend(p);
      sendSuspended(p.c1, suspend.hid);
      const rebind = await expectRebind(p.c1, suspend.hid);
      p.c1.cut();
      // Row O26: AWAIT_REBOUND, lost C1 → COMMIT, LEFT; the successor completes on ATTACH (S30, S22 or S11, S17).
      const c2 = await attach(ctx, p.c1, rebind);
      await afterCommit(p, c2, '9.6');
    },
  },
  {
    id: 'kit.fault.successor-crash',
    title: 'The successor dies after REBIND: the origin aborts (SUCCESSOR_LOST), and after the peer’s ABORT the connection resumes on C1, byte-exact',
    sections: ['9.4', '9.2'],
    level: 'MUST',
    async run(ctx) {
      const p = await prepare(ctx);
      const suspend = await expectSuspend(p);
      sendSuspended(p.c1, suspend.hid);
      await expectRebind(p.c1, suspend.hid);
      void p.successor.command('crash');
      // Row O27: AWAIT_REBOUND, lost L → ABORT(SUCCESSOR_LOST).
      const abort = await p.c1.expect('ABORT', '9.4', { timeoutMs: 8000, why: 'the successor died' });
      if (abort.hid !== suspend.hid || codeName(abort.code) !== 'SUCCESSOR_LOST') throw new CaseFailure(`expected ABORT hid=${suspend.hid} code=SUCCESSOR_LOST, got ${describe(abort)}`, '9.4');
      p.c1.send({ type: 'ABORT', hid: suspend.hid, code: ERRORS.ABORTED.code });
      // Row O28 (appHolds: the trigger was T3): resume on C1; the copied bytes are still unread at the origin.
      const more = randomBytes(2000);
      p.c1.sendData(more);
      await readExactly(p.origin, p.handle, Buffer.concat([p.unread, more]), 'the origin read on from R after the abort', '9.2');
      const reply = randomBytes(1500);
      await p.origin.ok('send', { handle: p.handle, data: reply.toString('hex') }, '9.2');
      expectBytes(await p.c1.readData(reply.length, '9.2', { what: 'the origin’s bytes after the abort' }), reply, 'the peer read the origin after the abort', '9.2');
    },
  },
];
