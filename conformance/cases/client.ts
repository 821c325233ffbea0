/**
 * Kit cases: the implementation's peer role (spec §15 item 5, §15.1), and observer mode.
 *
 * `kit.client.*`: the kit plays origin and successor on the real wire ({@link KitServer}: the
 * reference library in processes of the kit's own, or {@link RawOrigin} for a frame the reference
 * would never send) and drives the implementation's peer through its adapter (`connect`, `send`,
 * `recv`). The peer just sees its connection continue: every byte arrives once, in order, both
 * ways, and its handle reports no failure.
 *
 * `kit.observer.*`: the implementation plays every role (one process listens and connects to
 * itself, then forks its successor) and the kit watches through the implementation's own `trace`
 * lines (§15.1), which must be a run the checker of §13.2 accepts; an implementation that sends no
 * trace lines cannot be observed (`unsupported`).
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { createServer as createNetServer } from 'node:net';
import { ERRORS } from '../../reference/errors.js';
import { checkTraceText } from '../../reference/trace/index.js';
import { TOKEN_SIZE } from '../../reference/wire/index.js';
import { KitServer, RawOrigin, traceEvents, until } from '../kit-server.js';
import { CaseFailure, ImplProcess, Unsupported, recvBytes, type CaseContext, type KitCase } from '../run.js';

type Line = Record<string, unknown>;

function expectEqual(actual: Buffer, expected: Buffer, what: string, section: string): void {
  if (!actual.equals(expected)) {
    const at = [...actual].findIndex((b, i) => b !== expected[i]);
    throw new CaseFailure(`${what}: expected ${expected.length} bytes, got ${actual.length}; first difference at byte ${at < 0 ? Math.min(actual.length, expected.length) : at}`, section);
  }
}

const hex = (data: Buffer): string => data.toString('hex');

/** A promise the case awaits later: its rejection must not go unhandled meanwhile (it fails the case when awaited). */
function later<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => {});
  return promise;
}

/** The implementation's first process, which must claim `roles` (else the case does not apply). */
async function implementation(ctx: CaseContext, roles: readonly string[]): Promise<ImplProcess> {
  const impl = await ctx.process(0);
  const claimed = (impl.hello.roles as string[] | undefined) ?? [];
  const missing = roles.filter((r) => !claimed.includes(r));
  if (missing.length > 0) throw new Unsupported(`the implementation does not claim the ${missing.join(' and ')} role`);
  return impl;
}

/** A connection from the implementation's peer (handle `c1`) to the kit's origin. */
interface ClientSetup {
  readonly impl: ImplProcess;
  readonly kit: KitServer;
  readonly origin: ImplProcess;
  /** The peer's handle (the implementation's). */
  readonly handle: string;
  /** The origin's handle (the kit's); a successor inherits it under the same name. */
  readonly kitHandle: string;
}

/** Connects the implementation's peer to the kit's origin and moves a few bytes each way (§6.1, §6.4). */
async function openClient(ctx: CaseContext, fast: boolean, bytes = 3000): Promise<ClientSetup> {
  const impl = await implementation(ctx, ['peer']);
  await impl.ok('configure', { fast }, '15.1');
  const kit = await KitServer.start(ctx, { fast });
  const origin = await kit.node(0);
  const handle = 'c1';
  const accepted = kit.accepted();
  const { cid } = await impl.ok('connect', { addr: kit.addr, handle }, '6.1');
  const { handle: kitHandle, cid: kitCid } = await accepted;
  // §2.2: the connection's cid is the acceptor's; the connector learns it from the origin's HELLO.
  if (typeof cid === 'string' && cid.toLowerCase() !== kitCid) throw new CaseFailure(`connect answered cid ${cid}, but the origin's HELLO carried ${kitCid}`, '2.2');
  const hello = traceEvents(origin.trace).find((e) => e.kind === 'receive' && e.name === 'HELLO');
  if (hello !== undefined) {
    if (hello.fields.acceptor !== false) throw new CaseFailure('the connecting end\'s HELLO has the acceptor flag set', '6.1');
    if (hello.fields.cid !== `0x${'0'.repeat(32)}`) throw new CaseFailure(`the connecting end's HELLO carries cid ${String(hello.fields.cid)}, not 16 zero bytes`, '2.2');
  }
  if (bytes > 0) {
    const up = randomBytes(bytes);
    const sending = later(impl.ok('send', { handle, data: hex(up) }, '4.2'));
    expectEqual(await recvBytes(origin, kitHandle, up.length, '6.4'), up, 'the kit\'s origin read', '6.4');
    await sending;
    const down = randomBytes(bytes);
    await origin.ok('send', { handle: kitHandle, data: hex(down) }, '4.2');
    expectEqual(await recvBytes(impl, handle, down.length, '6.4'), down, 'the peer read from the kit\'s origin', '6.4');
  }
  return { impl, kit, origin, handle, kitHandle };
}

/** The peer's handle saw no failure, close or move: for the peer the connection just continues (§6.6). */
function continuing(impl: ImplProcess, handle: string, section: string): void {
  const bad = impl.events.find((e) => e.handle === handle && (e.event === 'error' || e.event === 'close' || e.event === 'rebound'));
  if (bad !== undefined) throw new CaseFailure(`the peer's handle reported ${String(bad.event)}${bad.code !== undefined ? ` ${String(bad.code)}` : ''} during a handoff that should have committed`, section);
}

/** Waits until the kit's origin has received DATA from the peer past `offset` (the peer is sending through the trigger). */
async function peerDataPast(origin: ImplProcess, offset: number): Promise<void> {
  await until(() => traceEvents(origin.trace.filter((l) => l.includes(' <~ P DATA '))).some((e) => Number(e.fields.offset) >= offset), 10_000, `DATA from the peer past offset ${offset}`, '6.2');
}

/**
 * What the kit's origin and successor saw of the peer in handoff `hid` (§6.2, §6.3, §6.6, §6.7):
 * one SUSPENDED, one ATTACH, one REBOUND, no ABORT, no DATA on C1 after SUSPENDED.
 */
async function checkPeerAnswers(origin: ImplProcess, successor: ImplProcess, hid: number, fast: boolean): Promise<void> {
  const ofHid = (name: string) => (e: { name: string; fields: Record<string, unknown> }) => e.name === name && Number(e.fields.hid) === hid;
  await until(() => traceEvents(origin.trace).some((e) => e.kind === 'receive' && (ofHid('REBOUND')(e) || ofHid('ABORT')(e))), 5000, `the peer's REBOUND (hid ${hid}) at the origin`, '6.6');
  const events = traceEvents(origin.trace);
  const received = events.filter((e) => e.kind === 'receive' && e.peer === 'P');
  const suspend = events.find((e) => e.kind === 'send' && ofHid('SUSPEND')(e));
  if (suspend === undefined) throw new CaseFailure(`the kit's origin sent no SUSPEND with hid ${hid}`, '6.2');
  if ((suspend.fields.fast === true) !== fast) throw new CaseFailure(`the kit's SUSPEND has fast=${String(suspend.fields.fast)}; expected ${String(fast)} (the HELLOs ${fast ? 'both' : 'did not both'} offer fast)`, '6.1');
  const abort = received.find(ofHid('ABORT'));
  if (abort !== undefined) throw new CaseFailure(`the peer aborted handoff ${hid} with code ${String(abort.fields.code)}`, '9.2');
  const suspendeds = received.filter(ofHid('SUSPENDED'));
  if (suspendeds.length !== 1) throw new CaseFailure(`the origin received ${suspendeds.length} SUSPENDED for hid ${hid}; one answers the SUSPEND`, fast ? '6.3' : '6.2');
  const at = received.indexOf(suspendeds[0]!);
  const late = received.slice(at + 1).find((e) => e.name === 'DATA' || e.name === 'FIN');
  if (late !== undefined) throw new CaseFailure(`the peer sent ${late.name} on C1 after SUSPENDED`, '6.7');
  if (received.filter(ofHid('REBOUND')).length !== 1) throw new CaseFailure(`the origin received no single REBOUND for hid ${hid}`, '6.6');
  const attaches = traceEvents(successor.trace).filter((e) => e.kind === 'receive' && ofHid('ATTACH')(e));
  if (attaches.length !== 1) throw new CaseFailure(`the successor received ${attaches.length} ATTACH for hid ${hid}; the peer connects C2 once`, fast ? '6.3' : '6.2');
}

/** What the kit's origin and successor received from the peer since the origin's first SUSPEND: to explain a handoff that did not commit. */
function peerAnswers(origin: ImplProcess, successor: ImplProcess): string {
  const events = traceEvents(origin.trace);
  const from = events.findIndex((e) => e.kind === 'send' && e.name === 'SUSPEND');
  if (from < 0) return 'the kit\'s origin sent no SUSPEND';
  const names = (list: typeof events): string => list.filter((e) => e.kind === 'receive' && e.peer === 'P' && e.name !== 'DATA').map((e) => `${e.name}${e.fields.code !== undefined ? `(code ${String(e.fields.code)})` : ''}`).join(', ') || 'nothing';
  return `after SUSPEND the origin received from the peer: ${names(events.slice(from))}; the successor: ${names(traceEvents(successor.trace))}`;
}

/** `recvBytes` at the kit's successor; a failure there means the handoff did not commit: say what the peer did. */
async function successorRead(origin: ImplProcess, successor: ImplProcess, handle: string, n: number, section: string): Promise<Buffer> {
  try {
    return await recvBytes(successor, handle, n, section);
  } catch (error) {
    if (!(error instanceof CaseFailure)) throw error;
    throw new CaseFailure(`the handoff did not commit (${error.message}): ${peerAnswers(origin, successor)}`, section);
  }
}

/**
 * One handoff by the kit while the implementation's peer keeps sending (§6.2/§6.3, §6.5): T1 (the
 * kit's origin closes), T3 (its successor reads) or T4 (its successor writes first).
 */
async function clientHandoff(ctx: CaseContext, trigger: 'T1' | 'T3' | 'T4', fast: boolean): Promise<void> {
  const { impl, kit, origin, handle, kitHandle } = await openClient(ctx, fast);
  if (fast) {
    const hello = traceEvents(origin.trace).find((e) => e.kind === 'receive' && e.name === 'HELLO');
    if (hello?.fields.fast !== true) throw new CaseFailure('the implementation claims the fast feature and was configured with fast, but its HELLO does not offer fast', '6.1');
  }
  const successor = await kit.fork(origin, [kitHandle]);
  // The peer keeps writing through the handoff: some of it reaches the origin before SUSPEND,
  // some in the window B'..D (§6.5), the rest is held and goes on C2 (§6.4).
  const during = randomBytes(200_000);
  const sending = later(impl.ok('send', { handle, data: hex(during) }, '6.4'));
  await peerDataPast(origin, 3000);
  const reply = randomBytes(100_000);
  let replying: Promise<Line> | undefined;
  if (trigger === 'T1') await origin.ok('close', { handle: kitHandle }, '2.4');
  if (trigger === 'T4') replying = later(successor.ok('send', { handle: kitHandle, data: hex(reply) }, '6.4'));
  expectEqual(await successorRead(origin, successor, kitHandle, during.length, fast ? '6.3' : '6.2'), during, 'the kit\'s successor read (the copy, then C2)', '6.5');
  await sending;
  replying ??= later(successor.ok('send', { handle: kitHandle, data: hex(reply) }, '6.4'));
  expectEqual(await recvBytes(impl, handle, reply.length, '6.6'), reply, 'the peer read from the successor', '6.6');
  await replying;
  // And on: the peer's later bytes go to the new owner.
  const after = randomBytes(50_000);
  const sendingAfter = later(impl.ok('send', { handle, data: hex(after) }, '6.6'));
  expectEqual(await recvBytes(successor, kitHandle, after.length, '6.6'), after, 'the successor read after the commit', '6.6');
  await sendingAfter;
  await checkPeerAnswers(origin, successor, 1, fast);
  continuing(impl, handle, '6.6');
}

/** Sends `recv` and waits for the peer's handle to fail (an `error` event or a failed `recv`). */
async function peerFailure(impl: ImplProcess, handle: string, section: string): Promise<string> {
  type Outcome = { code?: string; other?: string };
  const outcome = await Promise.race<Outcome>([
    impl.event((e) => e.event === 'error' && e.handle === handle).then((e) => ({ code: String(e.code) })),
    impl.command('recv', { handle }).then((r): Outcome => {
      if (r.ok === false) return { code: String((r.error as Line | undefined)?.code) };
      const value = (r.value as Line | undefined) ?? {};
      return { other: value.end === true ? 'end-of-stream' : `${String(value.data ?? '').length / 2} bytes` };
    }),
    new Promise<Outcome>((resolve) => setTimeout(() => resolve({ other: 'nothing within 5 s' }), 5000).unref()),
  ]);
  if (outcome.code === undefined) throw new CaseFailure(`the peer's handle should fail when the origin dies; recv gave ${outcome.other}${outcome.other === 'end-of-stream' ? ' (no FIN was exchanged: a loss, not a close, §9.7)' : ''}`, section);
  return outcome.code;
}

/** §9.3: the kit's origin dies suddenly; what the peer must see depends on how far the handoff got. */
async function originDies(ctx: CaseContext, at: 'open' | 'suspend' | 'rebind'): Promise<void> {
  const { impl, kit, origin, handle, kitHandle } = await openClient(ctx, false);
  const successor = await kit.fork(origin, [kitHandle]);
  if (at === 'open') {
    void origin.command('crash');
    await kit.originDied();
    const code = await peerFailure(impl, handle, '9.3');
    if (code !== 'ERR_PEER_LOST') throw new CaseFailure(`the origin died with no handoff under way: expected the peer to fail with ERR_PEER_LOST (row P5), got ${code}`, '9.3');
    return;
  }
  if (at === 'suspend') {
    await origin.ok('crashOn', { pattern: ' ~> P SUSPEND ' }, '15.1');
    void origin.command('close', { handle: kitHandle }); // T1; the origin dies right after SUSPEND
    await kit.originDied();
    const code = await peerFailure(impl, handle, '9.3');
    if (code !== 'ERR_ORIGIN_LOST') throw new CaseFailure(`the origin died after SUSPEND, before SUSPENDED reached it: expected the peer to fail with ERR_ORIGIN_LOST (row P10), got ${code}`, '9.3');
    return;
  }
  // After ORDER and COPIED, and REBIND: the peer holds the token and completes over C2 alone
  // (rows P18, P19; the successor S21, S22).
  const during = randomBytes(100_000);
  await impl.ok('send', { handle, data: hex(during) }, '6.4');
  await origin.ok('crashOn', { pattern: ' ~> P REBIND ' }, '15.1');
  void origin.command('close', { handle: kitHandle });
  await kit.originDied();
  expectEqual(await successorRead(origin, successor, kitHandle, during.length, '9.3'), during, 'the successor read after the origin died past REBIND', '9.3');
  const reply = randomBytes(50_000);
  await successor.ok('send', { handle: kitHandle, data: hex(reply) }, '9.3');
  expectEqual(await recvBytes(impl, handle, reply.length, '9.3'), reply, 'the peer read from the successor (completed without the origin)', '9.3');
  const after = randomBytes(50_000);
  const sending = later(impl.ok('send', { handle, data: hex(after) }, '9.3'));
  expectEqual(await recvBytes(successor, kitHandle, after.length, '9.3'), after, 'the successor read the peer\'s later bytes', '9.3');
  await sending;
  const bad = impl.events.find((e) => e.handle === handle && (e.event === 'error' || e.event === 'close'));
  if (bad !== undefined) throw new CaseFailure(`the peer's handle reported ${String(bad.event)} ${String(bad.code ?? '')}: it holds the token and must complete over C2 (row P19)`, '9.3');
}

/** §6.1, §15 item 5: a peer that did not offer fast answers SUSPEND(fast) with ABORT(CAPABILITY) and stays open. */
async function noFastCapability(ctx: CaseContext): Promise<void> {
  const impl = await implementation(ctx, ['peer']);
  await impl.ok('configure', { fast: false }, '15.1');
  const raw = await RawOrigin.start(ctx, true);
  // Where the SUSPEND(fast) points: nothing may connect there (§6.1: it MUST NOT act on it).
  let attached = 0;
  const trap = createNetServer((socket) => {
    attached++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => trap.listen(0, '127.0.0.1', () => resolve()));
  ctx.onCleanup(() => trap.close());
  const handle = 'c1';
  await impl.ok('connect', { addr: raw.addr, handle }, '6.1');
  const hello = await raw.hello(5000);
  if (hello.fast) throw new Unsupported('the implementation offers fast although configured not to: no peer here to receive an unoffered SUSPEND(fast)');
  const up = randomBytes(1000);
  await impl.ok('send', { handle, data: hex(up) }, '4.2');
  await until(() => raw.stream().length >= up.length, 5000, 'the peer\'s DATA', '4.2');
  expectEqual(raw.stream(), up, 'the origin read', '6.4');
  const down = randomBytes(500);
  raw.send({ type: 'DATA', offset: 0n, data: down });
  expectEqual(await recvBytes(impl, handle, down.length, '6.4'), down, 'the peer read', '6.4');
  const before = raw.received.length;
  const trapAddr = `tcp://127.0.0.1:${(trap.address() as { port: number }).port}`;
  raw.send({ type: 'SUSPEND', fast: true, hid: 1, sendEnd: BigInt(down.length), token: Uint8Array.from(randomBytes(TOKEN_SIZE)), addr: trapAddr });
  const answer = await raw.frame((m) => m.type !== 'DATA', 5000, 'an answer to SUSPEND(fast) (ABORT(CAPABILITY))', '6.1', before);
  if (answer.type !== 'ABORT') throw new CaseFailure(`a peer that did not offer fast answered SUSPEND(fast) with ${answer.type}; expected ABORT(hid 1, CAPABILITY) (row P21)`, '6.1');
  if (answer.hid !== 1 || answer.code !== ERRORS.CAPABILITY.code) throw new CaseFailure(`expected ABORT(hid 1, CAPABILITY=${ERRORS.CAPABILITY.code}), got ABORT(hid ${answer.hid}, code ${answer.code})`, '6.1');
  // It stays in OPEN (row P21): both directions go on at the offsets where they were.
  const more = randomBytes(1000);
  await impl.ok('send', { handle, data: hex(more) }, '6.1');
  await until(() => raw.stream().length >= up.length + more.length, 5000, 'the peer\'s DATA after its ABORT', '6.1');
  expectEqual(raw.stream(), Buffer.concat([up, more]), 'the origin read after the ABORT', '6.1');
  const down2 = randomBytes(500);
  raw.send({ type: 'DATA', offset: BigInt(down.length), data: down2 });
  expectEqual(await recvBytes(impl, handle, down2.length, '6.1'), down2, 'the peer read after its ABORT', '6.1');
  const acted = raw.received.slice(before).find((m) => m.type === 'SUSPENDED' || m.type === 'ERROR');
  if (acted !== undefined) throw new CaseFailure(`the peer sent ${acted.type} after SUSPEND(fast) it had not offered`, '6.1');
  if (attached > 0) throw new CaseFailure('the peer connected to the address in a SUSPEND(fast) it had not offered', '6.1');
  const bad = impl.events.find((e) => e.handle === handle && (e.event === 'error' || e.event === 'close'));
  if (bad !== undefined) throw new CaseFailure(`the peer's handle reported ${String(bad.event)} ${String(bad.code ?? '')}; it must stay open (row P21)`, '6.1');
}

/** §10.1: two handoffs in a row; the first successor owns the connection and hands it on. */
async function chain(ctx: CaseContext): Promise<void> {
  const { impl, kit, origin, handle, kitHandle } = await openClient(ctx, false);
  let owner = origin;
  let offset = 3000;
  for (const hid of [1, 3]) {
    const successor = await kit.fork(owner, [kitHandle]);
    const during = randomBytes(100_000);
    const sending = later(impl.ok('send', { handle, data: hex(during) }, '10.1'));
    await peerDataPast(owner, offset);
    await owner.ok('close', { handle: kitHandle }, '2.4'); // T1
    expectEqual(await successorRead(owner, successor, kitHandle, during.length, '10.1'), during, `the successor of handoff ${hid} read`, '10.1');
    await sending;
    const reply = randomBytes(50_000);
    await successor.ok('send', { handle: kitHandle, data: hex(reply) }, '10.1');
    expectEqual(await recvBytes(impl, handle, reply.length, '10.1'), reply, `the peer read from the successor of handoff ${hid}`, '10.1');
    await checkPeerAnswers(owner, successor, hid, false);
    owner = successor;
    offset += during.length;
  }
  continuing(impl, handle, '10.1');
}

// ---------------------------------------------------------------------------------------------
// Observer mode.

const SEND_OR_RECEIVE = /^@[0-9.]+ ([A-Za-z0-9]+) (~>|<~) ([A-Za-z0-9]+) /;

/** Receives in `lines` whose send is not (yet) there: trace lines still on their way to the kit. */
function unmatchedReceives(lines: readonly string[]): number {
  const count = new Map<string, number>();
  for (const line of lines) {
    const m = SEND_OR_RECEIVE.exec(line);
    if (m === null) continue;
    const key = m[2] === '~>' ? `${m[1]}>${m[3]}` : `${m[3]}>${m[1]}`;
    count.set(key, (count.get(key) ?? 0) + (m[2] === '~>' ? 1 : -1));
  }
  return [...count.values()].filter((n) => n < 0).reduce((a, n) => a - n, 0);
}

/** The implementation's trace once its lines have stopped coming (300 ms quiet, every receive's send there; at most 5 s). */
async function settledTrace(ctx: CaseContext, processes: readonly ImplProcess[]): Promise<string[]> {
  const end = Date.now() + 5000;
  let last = -1;
  let quietSince = Date.now();
  for (;;) {
    const total = processes.reduce((n, p) => n + p.trace.length, 0);
    if (total !== last) [last, quietSince] = [total, Date.now()];
    const merged = ctx.mergedTrace();
    if ((Date.now() - quietSince >= 300 && unmatchedReceives(merged) === 0) || Date.now() > end) return merged;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Observer mode: the implementation is origin, successor and peer (one process listens and
 * connects to itself, then forks); the kit moves bytes through the adapter and checks the
 * implementation's own trace with the checker of §13.2.
 */
async function observe(ctx: CaseContext, trigger: 'T1' | 'T3' | 'T4', fast: boolean, hops = 1): Promise<void> {
  const first = await implementation(ctx, ['server', 'peer']);
  await first.ok('configure', { fast }, '15.1');
  const { addr } = await first.ok('listen', { addr: 'tcp://127.0.0.1:0' }, '15.1');
  const handle = 'p1';
  await first.ok('connect', { addr, handle }, '6.1');
  const accepted = await first.event((e) => e.event === 'accepted');
  const server = String(accepted.handle);
  const up = randomBytes(2000);
  await first.ok('send', { handle, data: hex(up) }, '4.2');
  expectEqual(await recvBytes(first, server, up.length, '6.4'), up, 'the origin read', '6.4');
  const down = randomBytes(2000);
  await first.ok('send', { handle: server, data: hex(down) }, '4.2');
  expectEqual(await recvBytes(first, handle, down.length, '6.4'), down, 'the peer read', '6.4');
  const processes = [first];
  let owner = first;
  for (let hop = 1; hop <= hops; hop++) {
    // A successor that owns the connection forks again (§10.1); its handles keep their names.
    await owner.ok('fork', { handles: [server] }, '2.3');
    const successor = await ctx.process(hop);
    await successor.event((e) => e.event === 'inherited' && e.handle === server);
    processes.push(successor);
    // Small writes, each one DATA frame that arrives in one read: the reference traces the slices
    // of a frame that spans reads as separate receives, which the checker does not match to the send.
    const during = randomBytes(8000);
    const sending = later(first.ok('send', { handle, data: hex(during) }, '6.4'));
    const reply = randomBytes(6000);
    let replying: Promise<Line> | undefined;
    if (trigger === 'T1') await owner.ok('close', { handle: server }, '2.4');
    if (trigger === 'T4') replying = later(successor.ok('send', { handle: server, data: hex(reply) }, '6.4'));
    expectEqual(await recvBytes(successor, server, during.length, '6.5'), during, `the successor of hop ${hop} read`, '6.5');
    await sending;
    replying ??= later(successor.ok('send', { handle: server, data: hex(reply) }, '6.4'));
    expectEqual(await recvBytes(first, handle, reply.length, '6.6'), reply, `the peer read from the successor of hop ${hop}`, '6.6');
    await replying;
    owner = successor;
  }
  const trace = await settledTrace(ctx, processes);
  if (processes.every((p) => p.trace.length === 0)) throw new Unsupported('the implementation sends no trace lines (§15.1 MAY, §15 SHOULD): observer mode watches through them');
  const diagnostics = checkTraceText(`${trace.join('\n')}\n`, { source: 'implementation trace' });
  const d = diagnostics.find((x) => x.severity === 'error');
  if (d !== undefined) throw new CaseFailure(`the implementation's own trace is not a run the spec allows: line ${d.line ?? '?'}: ${d.code}: ${d.message}`, d.section);
  // A trace that stops short is checked only up to where it stops (§13.2): it must reach each commit.
  const commits = trace.filter((l) => / (~>|->) [A-Za-z0-9]+ COMMIT /.test(l)).length;
  if (commits < hops) throw new CaseFailure(`the implementation's trace shows ${commits} COMMIT for ${hops} handoff(s): the trace lines must cover every event of the connection`, '15.1');
}

export const CLIENT_CASES: readonly KitCase[] = [
  {
    id: 'kit.client.echo',
    title: 'The peer connects to the kit\'s origin: HELLO exchange, then 256 KiB each way byte-exact',
    sections: ['6.1', '2.2', '4.2', '6.4'],
    level: 'MUST',
    async run(ctx) {
      const { impl, origin, handle, kitHandle } = await openClient(ctx, false, 0);
      const up = randomBytes(256 * 1024);
      const sending = later(impl.ok('send', { handle, data: hex(up) }, '4.2'));
      expectEqual(await recvBytes(origin, kitHandle, up.length, '6.4'), up, 'the kit\'s origin read', '6.4');
      await sending;
      const down = randomBytes(256 * 1024);
      await origin.ok('send', { handle: kitHandle, data: hex(down) }, '4.2');
      expectEqual(await recvBytes(impl, handle, down.length, '6.4'), down, 'the peer read', '6.4');
      continuing(impl, handle, '6.4');
    },
  },
  {
    id: 'kit.client.t1-fig9',
    title: 'The kit hands the connection to its successor in the Fig. 9 order (T1) while the peer sends: every byte once, in order, both ways',
    sections: ['6.2', '6.4', '6.5', '6.6', '6.7'],
    level: 'MUST',
    run: (ctx) => clientHandoff(ctx, 'T1', false),
  },
  {
    id: 'kit.client.t3',
    title: 'Fig. 9 order started by the successor\'s read (T3) while the peer sends: every byte once, in order',
    sections: ['2.4', '6.2', '6.5', '6.6'],
    level: 'MUST',
    run: (ctx) => clientHandoff(ctx, 'T3', false),
  },
  {
    id: 'kit.client.t4',
    title: 'Fig. 9 order started by the successor\'s write (T4): its bytes reach the peer after the origin\'s, the peer\'s reach the successor',
    sections: ['2.4', '6.2', '6.4', '6.6'],
    level: 'MUST',
    run: (ctx) => clientHandoff(ctx, 'T4', false),
  },
  {
    id: 'kit.client.fast',
    title: 'The fast order when both HELLOs offer it: the peer attaches on SUSPEND(fast) alone; every byte once, in order',
    sections: ['6.1', '6.3', '6.5', '6.6'],
    level: 'MUST',
    needs: ['fast'],
    run: (ctx) => clientHandoff(ctx, 'T3', true),
  },
  {
    id: 'kit.client.no-fast-capability',
    title: 'A peer that did not offer fast answers SUSPEND(fast) with ABORT(CAPABILITY), does not act on it and stays open',
    sections: ['6.1', '15'],
    level: 'MUST',
    run: noFastCapability,
  },
  {
    id: 'kit.client.chain',
    title: 'Two handoffs in a row: the successor owns the connection and hands it on (hids 1, 3); the peer\'s stream continues',
    sections: ['10.1', '2.2', '6.4'],
    level: 'MUST',
    needs: ['chain'],
    run: chain,
  },
  {
    id: 'kit.client.origin-dies.open',
    title: 'The kit\'s origin is killed with no handoff under way (a successor holds a dormant handle): the peer fails with PEER_LOST',
    sections: ['9.3'],
    level: 'MUST',
    run: (ctx) => originDies(ctx, 'open'),
  },
  {
    id: 'kit.client.origin-dies.suspended',
    title: 'The kit\'s origin is killed right after SUSPEND (Fig. 9): the peer has no token and fails with ORIGIN_LOST',
    sections: ['9.3'],
    level: 'MUST',
    run: (ctx) => originDies(ctx, 'suspend'),
  },
  {
    id: 'kit.client.origin-dies.rebind',
    title: 'The kit\'s origin is killed right after REBIND: the peer holds the token and completes over C2 alone, byte-exact',
    sections: ['9.3'],
    level: 'MUST',
    run: (ctx) => originDies(ctx, 'rebind'),
  },
  {
    id: 'kit.observer.t1-fig9',
    title: 'Observer: the implementation is origin, successor and peer; T1 in the Fig. 9 order; its own trace is a run §13.2 accepts',
    sections: ['13.2', '6.2', '15.1'],
    level: 'SHOULD',
    run: (ctx) => observe(ctx, 'T1', false),
  },
  {
    id: 'kit.observer.t4',
    title: 'Observer: T4 at the implementation\'s successor in the Fig. 9 order; its own trace is a run §13.2 accepts',
    sections: ['13.2', '6.2', '2.4', '15.1'],
    level: 'SHOULD',
    run: (ctx) => observe(ctx, 'T4', false),
  },
  {
    id: 'kit.observer.t3-fast',
    title: 'Observer: T3 at the implementation\'s successor in the fast order; its own trace is a run §13.2 accepts',
    sections: ['13.2', '6.3', '2.4', '15.1'],
    level: 'SHOULD',
    needs: ['fast'],
    run: (ctx) => observe(ctx, 'T3', true),
  },
  {
    id: 'kit.observer.chain',
    title: 'Observer: two handoffs in a row (T1, then T1 at the new owner); its own trace is a run §13.2 accepts, hids 1 then 3',
    sections: ['13.2', '10.1', '2.2', '15.1'],
    level: 'SHOULD',
    needs: ['chain'],
    run: (ctx) => observe(ctx, 'T1', false, 2),
  },
];
