/**
 * The kit's cases (spec §15, §15.1), first slice: the adapter contract, and the server side
 * (origin and successor) with the kit as the peer over TCP. Ids are stable and hierarchical.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { parseTrace } from '../../reference/trace/parse.js';
import { CaseFailure, readBytes, recvBytes, Unsupported, type CaseContext, type KitCase } from '../run.js';

function expectEqual(actual: Buffer, expected: Buffer, what: string, section: string): void {
  if (!actual.equals(expected)) {
    const at = [...actual].findIndex((b, i) => b !== expected[i]);
    throw new CaseFailure(`${what}: expected ${expected.length} bytes, got ${actual.length}; first difference at byte ${at < 0 ? Math.min(actual.length, expected.length) : at}`, section);
  }
}

/** Listens through the adapter, connects the kit's peer, and waits for the accepted handle. */
async function openConnection(ctx: CaseContext, fast: boolean, count = 1): Promise<{ handle: string; peer: Awaited<ReturnType<CaseContext['peer']>>; addr: string; more: Array<{ handle: string; peer: Awaited<ReturnType<CaseContext['peer']>> }> }> {
  const origin = await ctx.process(0);
  await origin.ok('configure', { fast }, '15.1');
  const addr = String((await origin.ok('listen', { addr: 'tcp://127.0.0.1:0' }, '15.1')).addr);
  const opened: Array<{ handle: string; peer: Awaited<ReturnType<CaseContext['peer']>> }> = [];
  for (let i = 0; i < count; i++) {
    const peer = await ctx.peer(addr, { fast });
    const seen = new Set(opened.map((o) => o.handle));
    const accepted = await origin.event((e) => e.event === 'accepted' && !seen.has(String(e.handle)));
    opened.push({ handle: String(accepted.handle), peer });
  }
  return { ...opened[0]!, addr, more: opened.slice(1) };
}

/**
 * The first frames' `credits` follow the binding the connection runs on (§11.1: 0 on TCP, and no
 * CREDIT frame; §11.2: at least 3 on RDMA), as the kit's peer received them.
 */
function checkBindingCredits(ctx: CaseContext, addr: string): void {
  const rdma = addr.startsWith('rdma://');
  for (const e of ctx.peerTrace) {
    if (e.kind !== 'receive') continue;
    if (!rdma && e.name === 'CREDIT') throw new CaseFailure('the peer received a CREDIT frame over TCP', '11.1');
    if (!['HELLO', 'ATTACHED'].includes(e.name)) continue;
    const credits = Number(e.fields.credits);
    if (!rdma && credits !== 0) throw new CaseFailure(`${e.name} over TCP carries credits=${credits}, expected 0`, '11.1');
    if (rdma && !(credits >= 3)) throw new CaseFailure(`${e.name} over RDMA carries credits=${credits}, expected at least 3`, '11.2');
  }
}

/** A handoff to a forked successor (§2.4, §6): T1 (the origin closes) or T3 (the child reads). */
async function handoffCase(ctx: CaseContext, trigger: 'T1' | 'T3', fast: boolean): Promise<void> {
  const origin = await ctx.process(0);
  const { handle, peer, addr } = await openConnection(ctx, fast);
  const before = randomBytes(3000);
  peer.write(before);
  expectEqual(await recvBytes(origin, handle, before.length, '6.4'), before, 'the origin read', '6.4');
  await origin.ok('fork', { handles: [handle] }, '2.3');
  const successor = await ctx.process(1);
  await successor.event((e) => e.event === 'inherited' && e.handle === handle);
  if (ctx.peerTrace.some((e) => e.name === 'SUSPEND')) throw new CaseFailure('SUSPEND before any trigger: a fork alone must send nothing on the wire', '2.4');
  // The peer keeps writing through the handoff (the window B'..D, §6.5).
  const during = randomBytes(200_000);
  peer.write(during);
  if (trigger === 'T1') await origin.ok('close', { handle }, '2.4');
  const got = await recvBytes(successor, handle, during.length, '6.5');
  expectEqual(got, during, 'the successor read (copy, then C2)', '6.5');
  const reply = randomBytes(100_000);
  await successor.ok('send', { handle, data: reply.toString('hex') }, '6.7');
  expectEqual(await readBytes(peer, reply.length), reply, 'the peer read from the successor', '6.6');
  checkBindingCredits(ctx, addr);
  const suspends = ctx.peerTrace.filter((e) => e.kind === 'receive' && e.name === 'SUSPEND');
  if (suspends.length !== 1) throw new CaseFailure(`the peer received ${suspends.length} SUSPENDs: one rebind per handoff`, '6.6');
  if ((suspends[0]!.fields.fast === true) !== fast) throw new CaseFailure(`SUSPEND fast=${String(suspends[0]!.fields.fast)}, but the HELLOs ${fast ? 'both' : 'did not both'} offer fast`, '6.1');
}

export const SERVER_CASES: readonly KitCase[] = [
  {
    id: 'kit.adapter.hello',
    title: 'The adapter says hello with the token, its roles and features',
    sections: ['15.1'],
    level: 'MUST',
    async run(ctx) {
      const first = await ctx.process(0);
      if (!(first.hello.roles as string[]).includes('server')) throw new CaseFailure('the adapter does not claim the server role', '15.1');
    },
  },
  {
    id: 'kit.adapter.honest-unsupported',
    title: 'A feature that does not exist is answered unsupported, never ok',
    sections: ['15.1'],
    level: 'MUST',
    async run(ctx) {
      const result = await (await ctx.process(0)).command('probe', { feature: 'teleport' });
      if (result.unsupported === undefined) throw new CaseFailure(`probe of a feature that cannot exist answered ${JSON.stringify(result)}`, '15.1');
    },
  },
  {
    id: 'kit.server.echo',
    title: 'HELLO exchange, then 256 KiB each way byte-exact and in order; first frames carry the binding\'s credits',
    sections: ['6.1', '4.2', '6.4', '2.1', '11.1', '11.2'],
    level: 'MUST',
    async run(ctx) {
      const origin = await ctx.process(0);
      const { handle, peer, addr } = await openConnection(ctx, false);
      const data = randomBytes(256 * 1024);
      peer.write(data);
      const got = await recvBytes(origin, handle, data.length, '6.4');
      expectEqual(got, data, 'the origin read', '6.4');
      await origin.ok('send', { handle, data: got.toString('hex') }, '4.2');
      expectEqual(await readBytes(peer, data.length), data, 'the peer read', '6.4');
      checkBindingCredits(ctx, addr);
    },
  },
  {
    id: 'kit.server.t1-fig9',
    title: 'T1 after fork: the Fig. 9 order hands the connection to the child; bytes written during it arrive exactly once',
    sections: ['2.3', '2.4', '6.2', '6.5', '6.6'],
    level: 'MUST',
    run: (ctx) => handoffCase(ctx, 'T1', false),
  },
  {
    id: 'kit.server.t3-fast',
    title: 'T3 in the child: the fast order; bytes written during it arrive exactly once',
    sections: ['2.3', '2.4', '6.3', '6.5', '6.6'],
    level: 'MUST',
    needs: ['fast'],
    run: (ctx) => handoffCase(ctx, 'T3', true),
  },
  {
    id: 'kit.server.identity',
    title: 'Each connection gets its own random cid from the acceptor, and a handoff keeps it',
    sections: ['2.2'],
    level: 'MUST',
    async run(ctx) {
      const origin = await ctx.process(0);
      const { handle, peer, more } = await openConnection(ctx, false, 2);
      const cids = [peer.cid, more[0]!.peer.cid];
      for (const cid of cids) if (!/^[0-9a-f]{32}$/.test(cid) || /^0+$/.test(cid)) throw new CaseFailure(`the acceptor's HELLO carries cid ${cid}: expected 16 random bytes, not zero`, '2.2');
      if (cids[0] === cids[1]) throw new CaseFailure(`two connections share the cid ${cids[0]!}`, '2.2');
      await origin.ok('fork', { handles: [handle] }, '2.3');
      const successor = await ctx.process(1);
      const inherited = await successor.event((e) => e.event === 'inherited' && e.handle === handle);
      if (inherited.cid !== undefined && inherited.cid !== cids[0]) throw new CaseFailure(`the successor holds cid ${String(inherited.cid)}, the connection is ${cids[0]!}`, '2.2');
      const data = randomBytes(1000);
      peer.write(data);
      expectEqual(await recvBytes(successor, handle, data.length, '6.5'), data, 'the successor read', '6.5');
      const attach = ctx.peerTrace.find((e) => e.kind === 'send' && e.name === 'ATTACH');
      if (attach === undefined) throw new CaseFailure('the successor read, but the peer never sent ATTACH', '6.2');
      if (String(attach.fields.cid) !== `0x${cids[0]!}`) throw new CaseFailure(`ATTACH carries cid ${String(attach.fields.cid)}, the connection is 0x${cids[0]!}`, '2.2');
    },
  },
  {
    id: 'kit.server.many',
    title: 'Three connections forked at once: each is handed off with its own fresh token; one cut does not touch the others',
    sections: ['10.2', '8.1'],
    level: 'MUST',
    async run(ctx) {
      const origin = await ctx.process(0);
      const { handle, peer, more } = await openConnection(ctx, false, 3);
      const connections = [{ handle, peer }, ...more];
      await origin.ok('fork', { handles: 'all' }, '2.3');
      const successor = await ctx.process(1);
      for (const c of connections) await successor.event((e) => e.event === 'inherited' && e.handle === c.handle);
      // §10.2: the third connection's peer vanishes; the other two must not notice.
      connections[2]!.peer.destroy();
      for (const c of connections.slice(0, 2)) {
        const data = randomBytes(20_000);
        c.peer.write(data);
        expectEqual(await recvBytes(successor, c.handle, data.length, '10.2'), data, `the successor read on ${c.handle}`, '10.2');
        const reply = randomBytes(20_000);
        await successor.ok('send', { handle: c.handle, data: reply.toString('hex') }, '10.2');
        expectEqual(await readBytes(c.peer, reply.length), reply, `the peer of ${c.handle} read`, '10.2');
      }
      // §8.1: a fresh token per handoff, not derived from the cid, never zero.
      const rebinds = ctx.peerTrace.filter((e) => e.kind === 'receive' && e.name === 'REBIND');
      const tokens = rebinds.map((e) => String(e.fields.token));
      if (tokens.length < 2) throw new CaseFailure(`the peers received ${tokens.length} REBIND(s) for two handoffs`, '6.2');
      if (new Set(tokens).size !== tokens.length) throw new CaseFailure(`two handoffs share the token ${tokens.join(', ')}`, '8.1');
      for (const token of tokens) {
        if (/^0x0+$/.test(token)) throw new CaseFailure('a REBIND carries the zero token', '8.1');
        if (connections.some((c) => token === `0x${c.peer.cid}`)) throw new CaseFailure(`a token equals a cid (${token})`, '8.1');
      }
    },
  },
  {
    id: 'kit.adapter.trace-notation',
    title: 'Trace lines an implementation sends are in the notation of §13.1, times never decreasing',
    sections: ['13.1', '15.1'],
    level: 'SHOULD',
    async run(ctx) {
      const origin = await ctx.process(0);
      const { handle, peer } = await openConnection(ctx, false);
      peer.write('trace me');
      await recvBytes(origin, handle, 8, '6.4');
      await origin.ok('fork', { handles: [handle] }, '2.3');
      const successor = await ctx.process(1);
      await successor.event((e) => e.event === 'inherited' && e.handle === handle);
      peer.write('and the successor');
      await recvBytes(successor, handle, 17, '6.5');
      await new Promise((resolve) => setTimeout(resolve, 150)); // the last trace lines are on their way
      if (origin.trace.length === 0) throw new Unsupported('the implementation sends no trace lines (optional, §15.1)');
      for (const [who, lines] of [['origin', origin.trace], ['successor', successor.trace]] as const) {
        const { events, diagnostics } = parseTrace(lines.join('\n'));
        if (diagnostics.length > 0) throw new CaseFailure(`the ${who}'s trace line ${diagnostics[0]!.line ?? '?'} is not in the notation: ${diagnostics[0]!.message}`, '13.1');
        let last = -Infinity;
        for (const e of events) {
          if (e.time === undefined) continue;
          if (e.time < last) throw new CaseFailure(`the ${who}'s trace times decrease at its line ${e.line}: ${lines[e.line - 1] ?? ''}`, '13.1');
          last = e.time;
        }
      }
    },
  },
];
