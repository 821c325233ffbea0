/**
 * The four triggers across a real fork (spec §2.4), and their absence: a connection moves to a
 * child started with the library's `fork()` only on T1 (the parent closes its handle), T2 (the
 * parent exits), T3 (the child reads) or T4 (the child writes); holding the handle does nothing
 * on the wire (¶0032); after the commit the parent's handle is rebound and nothing starts a
 * second handoff (§6.6). The test process is the origin (server) and the peer (client); the bytes
 * are checked end to end, through the child's echo.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { RebindError } from '../../../reference/errors.js';
import { connect, setTraceHook, type HostTraceEvent, type RebindServer, type RebindSocket } from '../../../reference/node/index.js';
import {
  closed,
  deadline,
  forkFixture,
  killChildren,
  openPair,
  readAll,
  readExactly,
  sameBytes,
  sleep,
  startFixture,
  streamBytes,
  writeAll,
} from './helpers.js';

const servers: RebindServer[] = [];
const sockets: RebindSocket[] = [];
afterEach(async () => {
  setTraceHook(undefined);
  for (const s of sockets.splice(0)) s.destroy();
  for (const s of servers.splice(0)) s.close();
  await killChildren();
});

/** A server and a connected client in this process; `fast: false` on the client selects Fig. 9 (§6.1). */
async function pair(fast = true, allowHalfOpen = false): Promise<{ client: RebindSocket; origin: RebindSocket; port: number }> {
  const opened = await openPair({ servers, sockets }, { fast, allowHalfOpen });
  opened.origin.on('error', () => {}); // the tests write on the rebound handle on purpose: ERR_REBOUND is emitted as well (as net.Socket's EPIPE)
  return opened;
}

/** Records the trace events (§13.1) of this process for `cid`. */
function recordTrace(): HostTraceEvent[] {
  const events: HostTraceEvent[] = [];
  setTraceHook((event) => events.push(event));
  return events;
}

function rebound(socket: RebindSocket): Promise<void> {
  if (socket.isRebound) return Promise.resolve();
  return deadline(new Promise((resolve) => socket.once('rebound', () => resolve())), 10_000, "'rebound'");
}

/** The rebound state (§6.6): reads end, writes fail with ERR_REBOUND. */
async function expectRebound(origin: RebindSocket): Promise<void> {
  await rebound(origin);
  expect(origin.isRebound).toBe(true);
  expect(origin.protocolState).toBe('REBOUND');
  const error = await new Promise<Error | null | undefined>((resolve) => {
    if (origin.destroyed) resolve(new Error('destroyed'));
    else origin.write('too late', resolve);
  });
  if (!origin.destroyed || (error as RebindError).code !== undefined) expect((error as RebindError | undefined)?.code).toMatch(/^ERR_(REBOUND|STREAM_DESTROYED)$/);
}

for (const fast of [true, false]) {
  const order = fast ? 'fast order (§6.3)' : 'Fig. 9 order (§6.2)';

  describe(`triggers across a real fork, ${order}`, () => {
    it('T3: the child reads its inherited socket; it echoes everything, the parent is rebound', async () => {
      const { client, origin } = await pair(fast);
      const data = streamBytes(10, 200_000);
      const echoed = readAll(client);
      await writeAll(client, data.subarray(0, 50_000)); // unread at the origin: the copy carries it (§6.5)
      const child = await forkFixture('successor', { mode: 'echo' }, { connections: [origin] });
      const ready = await child.next<{ cids: string[]; states: string[] }>((m) => m.ready === true);
      expect(ready.cids).toEqual([origin.cid]);
      await writeAll(client, data.subarray(50_000), { end: true });
      expect(sameBytes(await echoed, data)).toBe('equal');
      const error = await new Promise<Error | null | undefined>((resolve) => origin.write('x', resolve));
      expect((error as RebindError).code).toBe('ERR_REBOUND');
      expect(origin.isRebound).toBe(true);
      expect(await closed(client)).toBeUndefined();
    });

    it('T3 while the parent left 3 MiB unread (it stopped reading C1 to slow the peer down): the copy carries them all', async () => {
      const { client, origin } = await pair(fast);
      const data = streamBytes(17, 3 * 1024 * 1024);
      const echoed = readAll(client, 20_000);
      const written = writeAll(client, data, { end: true }); // blocks on TCP flow control until the child reads
      await sleep(100);
      await forkFixture('successor', { mode: 'echo' }, { connections: [origin] });
      await deadline(written, 20_000, "the peer's writes");
      expect(sameBytes(await echoed, data)).toBe('equal');
      expect(origin.isRebound).toBe(true);
    });

    it('T4: the child writes first; its bytes reach the peer before the echo, nothing is lost', async () => {
      const { client, origin } = await pair(fast);
      const data = streamBytes(11, 100_000);
      const received = readAll(client);
      origin.write('from the parent;'); // before the fork: part of the stream the child continues (§6.4)
      await writeAll(client, data.subarray(0, 30_000));
      const child = await forkFixture('successor', { mode: 'write', greeting: 'from the child;' }, { connections: [origin] });
      await writeAll(client, data.subarray(30_000), { end: true });
      // The successor's write completes only once its bytes are part of the committed stream (§6.4).
      expect(await child.next((m) => m.greeted !== undefined)).toMatchObject({ greeted: 'OWNER/OPEN' });
      const all = await received;
      expect(all.subarray(0, 31).toString()).toBe('from the parent;from the child;');
      expect(sameBytes(all.subarray(31), data)).toBe('equal');
      await expectRebound(origin);
    });

    it('T1: the parent destroys its handle after the fork; the child, told afterwards, owns and echoes', async () => {
      const { client, origin } = await pair(fast);
      const data = streamBytes(12, 150_000);
      const echoed = readAll(client);
      await writeAll(client, data.subarray(0, 40_000));
      const child = await forkFixture('successor', { mode: 'hold' }, { connections: [origin] });
      await child.next((m) => m.ready === true);
      origin.destroy(); // T1 (§2.4)
      await rebound(origin);
      expect(origin.destroyed).toBe(true);
      child.send({ cmd: 'go' });
      const went = await child.next<{ states: string[] }>((m) => m.went === true);
      expect(went.states).toEqual(['OWNER/OPEN']); // it owned before it touched the handle: T1 did it
      await writeAll(client, data.subarray(40_000), { end: true });
      expect(sameBytes(await echoed, data)).toBe('equal');
    });
  });
}

describe('T1 before the JOIN (§2.4)', () => {
  it('the parent destroys its handle as soon as fork() returns: the close waits for the JOIN, then hands off', async () => {
    const { client, origin } = await pair();
    const data = streamBytes(18, 80_000);
    const echoed = readAll(client);
    await writeAll(client, data.subarray(0, 20_000));
    const child = await forkFixture('successor', { mode: 'hold' }, { connections: [origin] });
    origin.destroy(); // the child has not joined yet: it holds the handle from the fork on
    await rebound(origin);
    await child.next((m) => m.ready === true);
    child.send({ cmd: 'go' });
    expect(await child.next<{ states: string[] }>((m) => m.went === true)).toMatchObject({ states: ['OWNER/OPEN'] });
    await writeAll(client, data.subarray(20_000), { end: true });
    expect(sameBytes(await echoed, data)).toBe('equal');
  });
});

describe('T2: the origin process exits voluntarily (§2.4, §9.3)', () => {
  for (const how of ['exit', 'dry'] as const) {
    it(how === 'exit' ? 'exit(): the handoff runs before the process ends' : "the event loop runs dry ('beforeExit'): the handoff runs first", async () => {
      const origin = startFixture('origin', { how, quota: 20_000 });
      const { port } = await origin.next<{ port: number }>((m) => m.port !== undefined);
      const client = connect({ port, host: '127.0.0.1' });
      sockets.push(client);
      const data = streamBytes(13, 120_000);
      const echoed = readAll(client, 15_000);
      await writeAll(client, data.subarray(0, 60_000)); // the origin echoes 20 000, the rest is unread there
      const forked = await origin.next<{ forked: number }>((m) => m.forked !== undefined);
      expect(forked.forked).toBeGreaterThan(0);
      expect(await deadline(origin.exited, 10_000, 'the origin to exit')).toBe(0);
      await writeAll(client, data.subarray(60_000), { end: true });
      expect(sameBytes(await echoed, data)).toBe('equal');
    });
  }
});

describe('no trigger, no rebind; no second rebind (§2.4, §6.6)', () => {
  it('a child that holds the socket and never touches it: no SUSPEND on the wire, the parent keeps serving', async () => {
    const { client, origin } = await pair();
    const events = recordTrace();
    origin.pipe(origin); // the parent serves: echo
    const child = await forkFixture('successor', { mode: 'hold' }, { connections: [origin] });
    await child.next((m) => m.ready === true);
    const data = streamBytes(14, 100_000);
    const echoed = readExactly(client, data.length);
    for (let i = 0; i < 10; i++) {
      await writeAll(client, data.subarray(i * 10_000, (i + 1) * 10_000));
      await sleep(20);
    }
    expect(sameBytes(await echoed, data)).toBe('equal');
    child.send({ cmd: 'state' });
    const state = await child.next<{ states: string[] }>((m) => m.states !== undefined && m.went === undefined && m.ready === undefined);
    expect(state.states).toEqual(['DORMANT']);
    // On the wire (C1, between O and P): DATA only. L carried the child's JOIN (§5.1), nothing else.
    const wire = events.filter((e) => e.kind !== 'action' && (e.actor === 'P' || e.peer === 'P'));
    const handoff = wire.filter((e) => e.name !== 'DATA' && e.name !== 'HELLO');
    expect(wire.length).toBeGreaterThan(0);
    expect(events.filter((e) => e.kind !== 'action' && e.actor !== 'P' && e.peer !== 'P').map((e) => `${e.actor} ${e.kind} ${e.name}`)).toEqual(['O receive JOIN']);
    expect(handoff.map((e) => `${e.actor} ${e.kind} ${e.name}`)).toEqual([]); // no SUSPEND, nothing but DATA (¶0032)
    expect(origin.protocolState).toBe('OPEN');
    expect(origin.isRebound).toBe(false);
    const rest = readAll(client);
    client.end();
    expect((await rest).length).toBe(0);
  });

  it('after the commit: the old handle reads EOF and fails writes with ERR_REBOUND; a second trigger does nothing; a stale fork is revoked', async () => {
    const { client, origin } = await pair(true, true); // allowHalfOpen: the read side's end does not end the write side
    const stale = await forkFixture('successor', { mode: 'read' }, { connections: [origin] });
    await stale.next((m) => m.ready === true);
    const events = recordTrace();
    const successor = await forkFixture('successor', { mode: 'echo' }, { connections: [origin] }); // T3 (the latest holder)
    await successor.next((m) => m.ready === true);
    const data = streamBytes(15, 50_000);
    const echoed = readExactly(client, data.length);
    await sleep(50);
    await writeAll(client, data);
    await rebound(origin);
    expect(sameBytes(await echoed, data)).toBe('equal');
    expect((await readAll(origin)).length).toBe(0); // the old handle reads end-of-stream (§6.6)
    const error = await new Promise<Error | null | undefined>((resolve) => origin.write('x', resolve));
    expect((error as RebindError).code).toBe('ERR_REBOUND');
    const suspends = (): number => events.filter((e) => e.name === 'SUSPEND' && e.kind === 'send').length;
    expect(suspends()).toBe(1);
    origin.destroy(); // a second trigger at a rebound origin (T1): nothing (rows O37, §6.6)
    stale.send({ cmd: 'go' }); // the other holder reads (T3): its handle was revoked at the commit
    const failed = await stale.next<{ failed: string }>((m) => m.failed !== undefined || m.read !== undefined);
    expect(failed.failed).toBe('ERR_REVOKED');
    await sleep(100);
    expect(suspends()).toBe(1);
    const more = streamBytes(16, 10_000);
    const echoedMore = readExactly(client, more.length);
    await writeAll(client, more);
    expect(sameBytes(await echoedMore, more)).toBe('equal'); // the successor still serves
  });
});
