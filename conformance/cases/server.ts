/**
 * The kit's cases (spec §15, §15.1), first slice: the adapter contract, and the server side
 * (origin and successor) with the kit as the peer over TCP. Ids are stable and hierarchical.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { CaseFailure, readBytes, recvBytes, type CaseContext, type KitCase } from '../run.js';

function expectEqual(actual: Buffer, expected: Buffer, what: string, section: string): void {
  if (!actual.equals(expected)) {
    const at = [...actual].findIndex((b, i) => b !== expected[i]);
    throw new CaseFailure(`${what}: expected ${expected.length} bytes, got ${actual.length}; first difference at byte ${at < 0 ? Math.min(actual.length, expected.length) : at}`, section);
  }
}

/** Listens through the adapter, connects the kit's peer, and waits for the accepted handle. */
async function openConnection(ctx: CaseContext, fast: boolean): Promise<{ handle: string; peer: Awaited<ReturnType<CaseContext['peer']>> }> {
  const origin = await ctx.process(0);
  await origin.ok('configure', { fast }, '15.1');
  const { addr } = await origin.ok('listen', { addr: 'tcp://127.0.0.1:0' }, '15.1');
  const peer = await ctx.peer(String(addr), { fast });
  const accepted = await origin.event((e) => e.event === 'accepted');
  return { handle: String(accepted.handle), peer };
}

/** A handoff to a forked successor (§2.4, §6): T1 (the origin closes) or T3 (the child reads). */
async function handoffCase(ctx: CaseContext, trigger: 'T1' | 'T3', fast: boolean): Promise<void> {
  const origin = await ctx.process(0);
  const { handle, peer } = await openConnection(ctx, fast);
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
    title: 'HELLO exchange, then 256 KiB each way byte-exact through the adapter',
    sections: ['6.1', '4.2', '6.4'],
    level: 'MUST',
    async run(ctx) {
      const origin = await ctx.process(0);
      const { handle, peer } = await openConnection(ctx, false);
      const data = randomBytes(256 * 1024);
      peer.write(data);
      const got = await recvBytes(origin, handle, data.length, '6.4');
      expectEqual(got, data, 'the origin read', '6.4');
      await origin.ok('send', { handle, data: got.toString('hex') }, '4.2');
      expectEqual(await readBytes(peer, data.length), data, 'the peer read', '6.4');
    },
  },
  {
    id: 'kit.server.t1-fig9',
    title: 'T1 after fork: the Fig. 9 order hands the connection to the child; bytes written during it arrive exactly once',
    sections: ['2.4', '6.2', '6.5', '6.6'],
    level: 'MUST',
    run: (ctx) => handoffCase(ctx, 'T1', false),
  },
  {
    id: 'kit.server.t3-fast',
    title: 'T3 in the child: the fast order; bytes written during it arrive exactly once',
    sections: ['2.4', '6.3', '6.5', '6.6'],
    level: 'MUST',
    needs: ['fast'],
    run: (ctx) => handoffCase(ctx, 'T3', true),
  },
];
