/**
 * Chained handoffs and many connections (spec §10): a successor that owns the connection forks
 * again and hands it on, three hops, each by another trigger; and a hundred connections handed to
 * one child at once. The peer checks every byte through the owners' echo.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { connect, createServer, setTraceHook, type HostTraceEvent, type RebindServer, type RebindSocket } from '../../../reference/node/index.js';
import { connected, connections, deadline, forkFixture, killChildren, listening, readAll, readExactly, sameBytes, streamBytes, writeAll } from './helpers.js';

const servers: RebindServer[] = [];
const sockets: RebindSocket[] = [];
afterEach(async () => {
  setTraceHook(undefined);
  for (const s of sockets.splice(0)) s.destroy();
  for (const s of servers.splice(0)) s.close();
  await killChildren();
});

async function serve(): Promise<{ server: RebindServer; port: number }> {
  const server = createServer().listen(0, '127.0.0.1');
  servers.push(server);
  return { server, port: await listening(server) };
}

describe('chained handoffs (§10.1)', () => {
  it('three hops (T3, then T1 at the first successor, then T2 at the second): the echo is byte-exact, hids go 1, 3, 5', async () => {
    const { server, port } = await serve();
    const accepted = connections(server);
    const client = connect({ port, host: '127.0.0.1' });
    sockets.push(client);
    await connected(client);
    const [origin] = await accepted;
    sockets.push(origin!);
    const events: HostTraceEvent[] = [];
    setTraceHook((e) => {
      if (e.actor === 'P' && e.kind === 'receive' && e.name === 'SUSPEND') events.push(e);
    });

    // hop 1 reads at once (T3), echoes 100 000 bytes, forks hop 2 and closes its handle (T1);
    // hop 2 waits to own, echoes 150 000, forks hop 3 and exits (T2); hop 3 echoes the rest.
    const chain = {
      mode: 'echo',
      quota: 100_000,
      handOn: 'T1',
      next: { mode: 'owner', quota: 150_000, handOn: 'T2', next: { mode: 'owner' } },
    };
    const data = streamBytes(30, 600_000);
    const echoed = readAll(client, 20_000);
    const hop1 = await forkFixture('successor', chain, { connections: [origin!] });
    await hop1.next((m) => m.ready === true);
    await writeAll(client, data.subarray(0, 300_000));
    expect(await hop1.next<{ echoed: number }>((m) => m.echoed !== undefined && m.hop === 1, 15_000)).toMatchObject({ echoed: 100_000 });
    expect(await hop1.next((m) => m.handedOn === 1, 15_000)).toMatchObject({ state: 'OWNER/REBOUND' }); // the first successor's own origin engine (§10.1)
    expect(await hop1.next<{ echoed: number }>((m) => m.echoed !== undefined && m.hop === 2, 15_000)).toMatchObject({ echoed: 150_000 });
    await hop1.next((m) => m.ready === true && m.hop === 3, 15_000);
    await writeAll(client, data.subarray(300_000), { end: true });
    expect(sameBytes(await echoed, data)).toBe('equal');
    expect(events.map((e) => e.fields.hid)).toEqual([1, 3, 5]); // the acceptor's parity, +2 per hop (§2.2, §10.1)
    expect(origin!.isRebound).toBe(true);
  }, 40_000);
});

describe('many connections (§10.2)', () => {
  it('100 connections handed to one child at once (T1 on all): each echo byte-exact', async () => {
    const { server, port } = await serve();
    const count = 100;
    const accepted = connections(server, count);
    const clients: RebindSocket[] = [];
    for (let i = 0; i < count; i++) {
      const c = connect({ port, host: '127.0.0.1' });
      sockets.push(c);
      clients.push(c);
    }
    await Promise.all(clients.map(connected));
    const origins = await accepted;
    sockets.push(...origins);
    const byCid = new Map(origins.map((o) => [o.cid, o]));
    const data = clients.map((_, i) => streamBytes(100 + i, 20_000));
    const echoes = clients.map((c, i) => readExactly(c, data[i]!.length * 2, 20_000));
    // The first half is written before the handoff: unread at the origin, so the copy carries it (§6.5).
    await Promise.all(clients.map((c, i) => writeAll(c, data[i]!)));

    const child = await forkFixture('successor', { mode: 'hold' }, { connections: origins });
    const ready = await child.next<{ cids: string[] }>((m) => m.ready === true);
    expect(new Set(ready.cids)).toEqual(new Set(byCid.keys()));
    const rebound = origins.map((o) => deadline(new Promise((resolve) => o.once('rebound', resolve)), 20_000, "'rebound'"));
    for (const o of origins) o.destroy(); // T1 on every connection
    await Promise.all(rebound);
    child.send({ cmd: 'go' });
    const went = await child.next<{ states: string[] }>((m) => m.went === true);
    expect(went.states.filter((s) => s !== 'OWNER/OPEN')).toEqual([]);
    await Promise.all(clients.map((c, i) => writeAll(c, data[i]!)));
    const results = await Promise.all(echoes);
    results.forEach((got, i) => expect(sameBytes(got, Buffer.concat([data[i]!, data[i]!]))).toBe('equal'));
  }, 40_000);
});
