/**
 * The handoff over RDMA (spec §11.2): the Node layer with `transport: 'rdma'` on real queue pairs
 * (soft-RoCE in the lab). C1 is an RC QP between the peer and the origin; the successor, a real
 * child started with the library's `fork()`, opens its own verbs context and listens on an rdma_cm
 * rebind listener (JOIN's and REBIND's `addr` is `rdma://IP:PORT`); the peer connects a **new** QP
 * to it with the token (§11.2: a queue pair stays with its process); the origin copies what its
 * application left unread — frames already copied out of its registered receive buffers — over L.
 *
 * Each trigger T1–T4, both orders, the peer writing continuously through the handoff with MBs both
 * ways, a chain of three hops, and an origin killed with SIGKILL (before and during a handoff):
 * every byte is checked end to end, every failure must be a typed error.
 *
 * The device tests run only where an RDMA device exists (`npm run lab -- npx vitest run
 * test/reference/node/rdma-handoff.test.ts`); elsewhere they are skipped with the NO_DEVICE reason,
 * and the honest refusal (`ERR_NO_DEVICE` from `listen` and `connect`) is tested instead. Sizes are
 * modest: the lab's guest runs under TCG (a few MiB/s, control round trips of milliseconds).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ERRORS, type RebindError } from '../../../reference/errors.js';
import { connect, createServer, setTraceHook, type HostTraceEvent, type RebindServer, type RebindSocket } from '../../../reference/node/index.js';
import { rdmaAvailable, rdmaInterfaceAddress } from '../../../reference/transport/rdma/index.js';
import { closed, connected, connections, deadline, forkFixture, killChildren, listening, readAll, readExactly, sameBytes, sha256, startFixture, streamBytes, writeAll } from './helpers.js';

const availability = await rdmaAvailable();
const noDevice = availability.ok ? undefined : availability.error.message;
const ADDR = process.env.RDMA_LAB_ADDR ?? rdmaInterfaceAddress() ?? '10.77.0.1';
/** A test that needs a device: skipped elsewhere, with the NO_DEVICE reason in its name. */
const deviceIt = (name: string, fn: () => Promise<void>, timeout = 120_000): void =>
  it.skipIf(noDevice !== undefined)(`${name}${noDevice === undefined ? '' : ` — skipped: ${noDevice}`}`, fn, timeout);
/** Child processes start slowly in the guest (Node ~2 s under TCG). */
const CHILD_MS = 45_000;
/** Reading a whole stream back. */
const STREAM_MS = 60_000;
const TYPED = new Set(Object.keys(ERRORS).map((name) => `ERR_${name}`));

const servers: RebindServer[] = [];
const sockets: RebindSocket[] = [];
afterEach(async () => {
  setTraceHook(undefined);
  for (const s of sockets.splice(0)) s.destroy();
  for (const s of servers.splice(0)) s.close();
  await killChildren();
});

/** A server over RDMA on ADDR and one client connected to it over RDMA, in this process. */
async function rdmaPair(fast = true, allowHalfOpen = false): Promise<{ client: RebindSocket; origin: RebindSocket; port: number }> {
  const server = createServer({ transport: 'rdma', allowHalfOpen }).listen(0, ADDR);
  servers.push(server);
  const port = await listening(server);
  expect(server.transportAddress).toBe(`rdma://${ADDR}:${port}`);
  const accepted = connections(server);
  const client = connect({ port, host: ADDR, fast, transport: 'rdma' });
  sockets.push(client);
  await connected(client);
  const [origin] = await accepted;
  sockets.push(origin!);
  origin!.on('error', () => {}); // writes on the rebound handle fail on purpose (ERR_REBOUND)
  return { client, origin: origin!, port };
}

/** The peer's view of the handoff: SUSPEND and REBIND as received, and where it connected C2. */
function watchPeer(): HostTraceEvent[] {
  const events: HostTraceEvent[] = [];
  setTraceHook((e) => {
    if (e.actor === 'P' && e.kind === 'receive' && (e.name === 'SUSPEND' || e.name === 'REBIND' || e.name === 'ATTACHED' || e.name === 'REBOUND')) events.push(e);
  });
  return events;
}

/** §11.2 "C2": the successor's rebind listener is an rdma_cm id: the address the peer was sent is `rdma://IP:PORT`. */
function expectRdmaRebind(events: HostTraceEvent[], fast: boolean, originPort: number): string {
  const carrier = events.find((e) => (fast ? e.name === 'SUSPEND' : e.name === 'REBIND'));
  expect(carrier, `the peer received ${fast ? 'SUSPEND(fast)' : 'REBIND'}`).toBeDefined();
  const addr = String(carrier!.fields.addr);
  expect(addr).toMatch(new RegExp(`^rdma://${ADDR.replace(/\./g, '\\.')}:\\d+$`));
  expect(addr).not.toBe(`rdma://${ADDR}:${originPort}`); // the successor's own listener, not the origin's
  return addr;
}

function rebound(socket: RebindSocket): Promise<void> {
  if (socket.isRebound) return Promise.resolve();
  return deadline(new Promise((resolve) => socket.once('rebound', () => resolve())), STREAM_MS, "'rebound'");
}

describe('RDMA without a device (§11.2: never pretend)', () => {
  it.skipIf(noDevice === undefined)(`createServer and connect with transport rdma fail with ERR_NO_DEVICE saying why${noDevice === undefined ? ' — skipped: this machine has an RDMA device' : ''}`, async () => {
    const server = createServer({ transport: 'rdma' }).listen(0, ADDR);
    servers.push(server);
    const listenError = await deadline(new Promise<RebindError>((resolve) => server.once('error', resolve)), 10_000, "the server's error");
    expect(listenError.code).toBe('ERR_NO_DEVICE');
    expect(listenError.message).toMatch(/RDMA|rdma|ibv|device/);
    const client = connect({ port: 4791, host: ADDR, transport: 'rdma' });
    sockets.push(client);
    expect(((await closed(client)) as RebindError | undefined)?.code).toBe('ERR_NO_DEVICE');
    expect(rdmaInterfaceAddress()).toBeUndefined(); // no device, no RDMA interface to listen on
  });

  it('an unknown transport name is ERR_UNSUPPORTED (§11)', async () => {
    const server = createServer({ transport: 'carrier-pigeon' }).listen(0, '127.0.0.1');
    servers.push(server);
    const error = await deadline(new Promise<RebindError>((resolve) => server.once('error', resolve)), 10_000, "the server's error");
    expect(error.code).toBe('ERR_UNSUPPORTED');
  });
});

describe('the handoff over RDMA (§11.2) — C1 and C2 are RC queue pairs, the successor a real fork', () => {
  deviceIt('rdmaInterfaceAddress() finds the IP of the RDMA device’s network interface (the lab’s dummy0)', async () => {
    const found = rdmaInterfaceAddress();
    expect(found).toBeDefined();
    if (process.env.RDMA_LAB_ADDR !== undefined) expect(found).toBe(process.env.RDMA_LAB_ADDR);
  });

  for (const fast of [true, false]) {
    const order = fast ? 'fast order (§6.3)' : 'Fig. 9 order (§6.2)';
    deviceIt(`T3, ${order}: the child reads its inherited socket and echoes; the origin's unread bytes are copied; the peer rebinds to a new QP`, async () => {
      const { client, origin, port } = await rdmaPair(fast);
      const events = watchPeer();
      const data = streamBytes(40 + Number(fast), 400_000);
      const echoed = readAll(client, STREAM_MS);
      await writeAll(client, data.subarray(0, 100_000)); // unread at the origin: the copy carries it (§6.5)
      expect(client.remotePort).toBe(port);
      const child = await forkFixture('successor', { mode: 'echo' }, { connections: [origin] });
      const ready = await child.next<{ cids: string[] }>((m) => m.ready === true, CHILD_MS);
      expect(ready.cids).toEqual([origin.cid]);
      await writeAll(client, data.subarray(100_000), { end: true });
      expect(sameBytes(await echoed, data)).toBe('equal');
      await rebound(origin);
      const error = await new Promise<Error | null | undefined>((resolve) => origin.write('x', resolve));
      expect((error as RebindError).code).toBe('ERR_REBOUND');
      const addr = expectRdmaRebind(events, fast, port);
      expect(`rdma://${client.remoteAddress}:${client.remotePort}`).toBe(addr); // C2 is C1 now: a new QP to the successor
      expect(await closed(client, STREAM_MS)).toBeUndefined();
    });
  }

  deviceIt('T4: the child writes first; its bytes reach the peer before the echo, over a new QP', async () => {
    const { client, origin, port } = await rdmaPair();
    const events = watchPeer();
    const data = streamBytes(44, 200_000);
    const received = readAll(client, STREAM_MS);
    origin.write('from the parent;'); // before the fork: part of the stream the child continues (§6.4)
    await writeAll(client, data.subarray(0, 50_000));
    const child = await forkFixture('successor', { mode: 'write', greeting: 'from the child;' }, { connections: [origin] });
    expect(await child.next((m) => m.greeted !== undefined, CHILD_MS)).toMatchObject({ greeted: 'OWNER/OPEN' }); // completes at COMMIT (§6.4)
    await writeAll(client, data.subarray(50_000), { end: true });
    const all = await received;
    expect(all.subarray(0, 31).toString()).toBe('from the parent;from the child;');
    expect(sameBytes(all.subarray(31), data)).toBe('equal');
    await rebound(origin);
    expectRdmaRebind(events, true, port);
  });

  deviceIt('T1: the parent destroys its handle after the fork; the child owns before it touches it, then echoes', async () => {
    const { client, origin } = await rdmaPair();
    const data = streamBytes(45, 200_000);
    const echoed = readAll(client, STREAM_MS);
    await writeAll(client, data.subarray(0, 60_000));
    const child = await forkFixture('successor', { mode: 'hold' }, { connections: [origin] });
    await child.next((m) => m.ready === true, CHILD_MS);
    origin.destroy(); // T1 (§2.4)
    await rebound(origin);
    child.send({ cmd: 'go' });
    const went = await child.next<{ states: string[] }>((m) => m.went === true, CHILD_MS);
    expect(went.states).toEqual(['OWNER/OPEN']); // T1 did it
    await writeAll(client, data.subarray(60_000), { end: true });
    expect(sameBytes(await echoed, data)).toBe('equal');
  });

  deviceIt('T2: a whole origin process over RDMA (configure({ transport })) exits with exit(); the handoff runs before it ends', async () => {
    const originProcess = startFixture('rdma-origin', { host: ADDR, quota: 20_000, how: 'exit', successor: { mode: 'owner' } });
    const { port, address } = await originProcess.next<{ port: number; address: string }>((m) => m.port !== undefined, CHILD_MS);
    expect(address).toBe(`rdma://${ADDR}:${port}`);
    const client = connect({ port, host: ADDR, transport: 'rdma' });
    sockets.push(client);
    await connected(client);
    const data = streamBytes(46, 150_000);
    const echoed = readAll(client, STREAM_MS);
    await writeAll(client, data.subarray(0, 70_000)); // 20 000 echoed by the origin, the rest unread there
    await originProcess.next((m) => m.forked !== undefined, CHILD_MS);
    expect(await deadline(originProcess.exited, CHILD_MS, 'the origin to exit')).toBe(0);
    await writeAll(client, data.subarray(70_000), { end: true });
    expect(sameBytes(await echoed, data)).toBe('equal');
    expect(client.remotePort).not.toBe(port);
  });

  deviceIt('MBs both ways while the peer writes continuously through the handoff (T4 at the child, nothing read by the origin): byte-exact, exactly once', async () => {
    // allowHalfOpen: the child goes on writing after the peer's FIN (the successor's socket inherits it, §9.7).
    const { client, origin } = await rdmaPair(true, true);
    const toServer = streamBytes(47, 3 * 1024 * 1024);
    const fromChildBytes = 2 * 1024 * 1024;
    const fromChild = streamBytes(48, fromChildBytes);
    const received = readExactly(client, fromChildBytes, STREAM_MS * 2);
    // The peer never stops writing: the fork, the SUSPEND, the copy and the rebind happen meanwhile.
    let sent = 0;
    const writing = (async () => {
      const piece = 16 * 1024;
      for (let at = 0; at < toServer.length; at += piece) {
        const ok = client.write(toServer.subarray(at, at + piece));
        sent = at + piece;
        if (!ok) await deadline(new Promise((resolve) => client.once('drain', resolve)), STREAM_MS, "'drain'");
      }
      await new Promise<void>((resolve) => client.end(resolve));
    })();
    while (sent < 512 * 1024) await new Promise((resolve) => setTimeout(resolve, 10));
    const child = await forkFixture('successor', { mode: 'stream', sendSeed: 48, sendBytes: fromChildBytes }, { connections: [origin] });
    await child.next((m) => m.ready === true, CHILD_MS);
    await deadline(writing, STREAM_MS * 2, "the peer's writes");
    expect(sameBytes(await received, fromChild)).toBe('equal');
    const { result } = await child.next<{ result: { length: number; sha256: string } }>((m) => m.result !== undefined, STREAM_MS * 2);
    expect(result).toEqual({ length: toServer.length, sha256: sha256(toServer) });
    expect(origin.isRebound).toBe(true);
  }, 240_000);

  deviceIt('a chain of three hops over RDMA (T3, then T1, then T2): each successor listens on its own rdma_cm id; the echo is byte-exact; hids 1, 3, 5', async () => {
    const { client, origin } = await rdmaPair();
    const events = watchPeer();
    const chain = { mode: 'echo', quota: 100_000, handOn: 'T1', next: { mode: 'owner', quota: 100_000, handOn: 'T2', next: { mode: 'owner' } } };
    const data = streamBytes(49, 400_000);
    const echoed = readAll(client, STREAM_MS * 2);
    const hop1 = await forkFixture('successor', chain, { connections: [origin] });
    await hop1.next((m) => m.ready === true, CHILD_MS);
    await writeAll(client, data.subarray(0, 250_000));
    expect(await hop1.next((m) => m.handedOn === 1, CHILD_MS)).toMatchObject({ state: 'OWNER/REBOUND' });
    expect(await hop1.next<{ echoed: number }>((m) => m.echoed !== undefined && m.hop === 2, CHILD_MS)).toMatchObject({ echoed: 100_000 });
    await hop1.next((m) => m.ready === true && m.hop === 3, CHILD_MS);
    await writeAll(client, data.subarray(250_000), { end: true });
    expect(sameBytes(await echoed, data)).toBe('equal');
    const suspends = events.filter((e) => e.name === 'SUSPEND');
    expect(suspends.map((e) => e.fields.hid)).toEqual([1, 3, 5]);
    const addrs = suspends.map((e) => String(e.fields.addr));
    for (const addr of addrs) expect(addr).toMatch(/^rdma:\/\//);
    expect(new Set(addrs).size).toBe(3); // three processes, three listeners
  }, 240_000);
});

describe('an origin killed with SIGKILL over RDMA (§9.3): the survivors end with a typed error, never hang', () => {
  deviceIt('with no handoff under way (its child holds a dormant handle): the peer fails ERR_PEER_LOST once the kernel tears the QP down', async () => {
    const originProcess = startFixture('rdma-origin', { host: ADDR, quota: 10_000, how: 'hold', successor: { mode: 'owner' } });
    const { port } = await originProcess.next<{ port: number }>((m) => m.port !== undefined, CHILD_MS);
    const client = connect({ port, host: ADDR, transport: 'rdma' });
    sockets.push(client);
    await connected(client);
    const data = streamBytes(50, 10_000);
    const echoed = readExactly(client, data.length, STREAM_MS);
    await writeAll(client, data);
    expect(sameBytes(await echoed, data)).toBe('equal');
    await originProcess.next((m) => m.forked !== undefined, CHILD_MS);
    const ended = closed(client, STREAM_MS);
    originProcess.process.kill('SIGKILL');
    const error = (await ended) as RebindError | undefined;
    expect(error?.code).toBe('ERR_PEER_LOST');
    expect(client.destroyed).toBe(true);
  });

  deviceIt('during a handoff (killed as its SUSPEND reaches the peer, T3 at the child): the peer fails ERR_ORIGIN_LOST; what it got back is an exact prefix', async () => {
    const originProcess = startFixture('rdma-origin', { host: ADDR, quota: 10_000, how: 'hold', successor: { mode: 'echo' } });
    const { port } = await originProcess.next<{ port: number }>((m) => m.port !== undefined, CHILD_MS);
    let killedAt: string | undefined;
    setTraceHook((e) => {
      if (killedAt === undefined && e.actor === 'P' && e.kind === 'receive' && e.name === 'SUSPEND') {
        killedAt = e.text;
        originProcess.process.kill('SIGKILL'); // §9.3: after SUSPEND, before SUSPENDED reached the origin
      }
    });
    const client = connect({ port, host: ADDR, transport: 'rdma' });
    sockets.push(client);
    await connected(client);
    const chunks: Buffer[] = [];
    client.on('data', (chunk: Buffer) => chunks.push(chunk));
    const ended = closed(client, STREAM_MS);
    const data = streamBytes(51, 60_000);
    await writeAll(client, data).catch(() => {}); // writes may fail once the connection is lost
    const error = (await ended) as RebindError | undefined;
    expect(killedAt, 'the handoff started (the peer received SUSPEND)').toBeDefined();
    expect(error?.code, `outcome after ${killedAt}`).toBe('ERR_ORIGIN_LOST');
    expect(TYPED.has(error!.code)).toBe(true);
    const back = Buffer.concat(chunks);
    expect(sameBytes(back, data.subarray(0, back.length))).toBe('equal'); // nothing duplicated or reordered
  });
});
