/**
 * Worker pools (spec §10.2): `handoff(socket, worker)` hands one connection to a process started
 * earlier (plain `child_process.fork`) that called `acceptHandoffs`; it receives the connection
 * record outside the protocol (§2.3), joins the origin's L once, and gets a dormant handle; the
 * origin's close of its handle is T1. Several connections go to the same worker, one after the
 * other and at once; every echo is byte-exact.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { connect, createServer, handoff, type RebindServer, type RebindSocket } from '../../../reference/node/index.js';
import { connected, connections, deadline, killChildren, listening, readExactly, sameBytes, startFixture, streamBytes, writeAll, type Child } from './helpers.js';

const servers: RebindServer[] = [];
const sockets: RebindSocket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const s of servers.splice(0)) s.close();
  await killChildren();
});

/** `count` connections to a server of this process: the clients and the origin's sockets, in the same order. */
async function open(count: number): Promise<Array<{ client: RebindSocket; origin: RebindSocket }>> {
  const server = createServer().listen(0, '127.0.0.1');
  servers.push(server);
  const port = await listening(server);
  const pairs: Array<{ client: RebindSocket; origin: RebindSocket }> = [];
  for (let i = 0; i < count; i++) {
    const accepted = connections(server);
    const client = connect({ port, host: '127.0.0.1' });
    sockets.push(client);
    await connected(client);
    const [origin] = await accepted;
    sockets.push(origin!);
    pairs.push({ client, origin: origin! });
  }
  return pairs;
}

async function worker(): Promise<Child> {
  const w = startFixture('worker');
  await w.next((m) => m.ready === true);
  return w;
}

/** Writes `first`, hands the connection over, writes `second`; the echo must be both, exactly. */
async function handOver(pair: { client: RebindSocket; origin: RebindSocket }, w: Child, seed: number): Promise<void> {
  const first = streamBytes(seed, 30_000);
  const second = streamBytes(seed + 1000, 30_000);
  const echoed = readExactly(pair.client, first.length + second.length, 15_000);
  await writeAll(pair.client, first); // unread at the origin: it goes in the copy (§6.5)
  await deadline(handoff(pair.origin, w.process), 15_000, 'the handoff to commit');
  expect(pair.origin.isRebound).toBe(true);
  await writeAll(pair.client, second);
  expect(sameBytes(await echoed, Buffer.concat([first, second]))).toBe('equal');
}

describe('handoff(socket, worker) (§10.2)', () => {
  it('three connections to the same worker, one after the other', async () => {
    const w = await worker();
    const pairs = await open(3);
    for (const [i, pair] of pairs.entries()) {
      await handOver(pair, w, 40 + i);
      const adopted = await w.next<{ state: string }>((m) => m.adopted === pair.origin.cid);
      expect(adopted.state).toBe('DORMANT'); // a dormant handle: nothing on the wire until T1 (§2.3)
    }
  }, 30_000);

  it('four connections handed to the same worker at once', async () => {
    const w = await worker();
    const pairs = await open(4);
    await Promise.all(pairs.map((pair, i) => handOver(pair, w, 50 + i)));
  }, 30_000);

  it('a connection whose socket is not owned any more cannot be handed off (ERR_CLOSED)', async () => {
    const w = await worker();
    const [pair] = await open(1);
    await handOver(pair!, w, 60);
    await expect(handoff(pair!.origin, w.process)).rejects.toMatchObject({ code: 'ERR_CLOSED' });
  }, 30_000);
});
