/**
 * The emulated socket in Node's idiom (reference/node/socket.ts, net.ts): what applications written
 * against `net.Socket` rely on, over real TCP on 127.0.0.1 with the HELLO exchange (§6.1), without
 * any handoff. Every test that moves data checks the bytes end to end.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ERRORS, RebindError } from '../../../reference/errors.js';
import { tcpTransport } from '../../../reference/transport/index.js';
import type { Message } from '../../../reference/wire/index.js';
import { connect, createServer, RebindSocket, type RebindServer } from '../../../reference/node/index.js';
import { closed, connected, connections, deadline, listening, readAll, sameBytes, sleep, streamBytes, writeAll } from './helpers.js';

const servers: RebindServer[] = [];
const sockets: RebindSocket[] = [];
afterEach(() => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const s of servers.splice(0)) s.close();
});

async function server(options: Parameters<typeof createServer>[0] = {}): Promise<{ server: RebindServer; port: number }> {
  const srv = createServer(options as never).listen(0, '127.0.0.1');
  servers.push(srv);
  return { server: srv, port: await listening(srv) };
}

function client(...args: unknown[]): RebindSocket {
  const socket = connect(...args);
  sockets.push(socket);
  return socket;
}

describe('RebindSocket in Node idiom', () => {
  it('echoes 1 MiB of random bytes exactly (pipe to itself)', async () => {
    const { server: srv, port } = await server();
    srv.on('connection', (s: RebindSocket) => s.pipe(s));
    const data = streamBytes(1, 1 << 20);
    const c = client(port, '127.0.0.1');
    const received = readAll(c);
    await writeAll(c, data, { end: true });
    expect(sameBytes(await received, data)).toBe('equal');
  });

  it("write/end: 'data', 'end', 'finish' and 'close' in order on both sides, and 'connect'/'ready' on the client", async () => {
    const { server: srv, port } = await server();
    const events: string[] = [];
    const accepted = connections(srv);
    const c = client({ port, host: '127.0.0.1' });
    c.on('ready', () => events.push('client ready'));
    await connected(c);
    expect(c.connecting).toBe(false);
    expect(c.readyState).toBe('open');
    const [s] = await accepted;
    s!.on('end', () => events.push('server end'));
    s!.on('close', () => events.push('server close'));
    const fromClient = readAll(s!);
    const fromServer = readAll(c);
    s!.once('data', () => s!.write('ef')); // before the client's FIN: without allowHalfOpen the server's side ends with it
    c.write('ab');
    await sleep(20);
    c.end('cd');
    c.on('finish', () => events.push('client finish'));
    expect((await fromClient).toString()).toBe('abcd');
    expect((await fromServer).toString()).toBe('ef');
    await closed(c);
    await closed(s!);
    expect(events).toContain('client ready');
    expect(events.indexOf('server end')).toBeLessThan(events.indexOf('server close'));
    expect(c.destroyed && s!.destroyed).toBe(true);
    expect(c.bytesWritten).toBe(4);
    expect(s!.bytesRead).toBe(4);
    expect(c.bytesRead).toBe(2);
  });

  it("destroy() without a successor is an ordinary close (§9.7): the other end gets 'end' and 'close', no error", async () => {
    const { server: srv, port } = await server();
    const accepted = connections(srv);
    const c = client(port);
    await connected(c);
    const [s] = await accepted;
    const received = readAll(c);
    s!.write('last words');
    s!.destroy();
    expect((await received).toString()).toBe('last words');
    expect(await closed(c)).toBeUndefined();
    expect(await closed(s!)).toBeUndefined();
  });

  it('a write after end() fails with ERR_STREAM_WRITE_AFTER_END, as on net.Socket', async () => {
    const { server: srv, port } = await server();
    const accepted = connections(srv);
    const c = client(port);
    await connected(c);
    await accepted;
    c.end();
    const error = await new Promise<Error | null | undefined>((resolve) => c.write('late', resolve));
    expect((error as { code?: string }).code).toBe('ERR_STREAM_WRITE_AFTER_END');
  });

  it("backpressure: write() returns false while the peer does not read, 'drain' follows once it does; bytes exact", async () => {
    const { server: srv, port } = await server();
    const accepted = connections(srv);
    const c = client(port);
    await connected(c);
    const [s] = await accepted;
    s!.pause(); // the server application does not read yet
    const piece = streamBytes(2, 64 * 1024);
    const chunks: Buffer[] = [];
    let full = false;
    for (let i = 0; i < 1024 && !full; i++) {
      const chunk = Buffer.from(piece);
      chunk.writeUInt32BE(i, 0);
      chunks.push(chunk);
      full = !c.write(chunk);
      if (i % 16 === 15) await sleep(1); // let the transport move what it can
    }
    expect(full).toBe(true); // the flow control reached the writer (≤ 64 MiB)
    const drained = deadline(new Promise((resolve) => c.once('drain', resolve)), 10_000, "'drain'");
    const received = readAll(s!);
    s!.resume();
    await drained;
    c.end();
    expect(sameBytes(await received, Buffer.concat(chunks))).toBe('equal');
  });

  it('async iteration: for await (const chunk of socket) reads every byte in order, then ends', async () => {
    const { server: srv, port } = await server();
    const data = streamBytes(3, 300_000);
    const iterated = new Promise<Buffer>((resolve) => {
      srv.on('connection', (s: RebindSocket) => {
        void (async () => {
          const chunks: Buffer[] = [];
          for await (const chunk of s) chunks.push(chunk as Buffer);
          resolve(Buffer.concat(chunks));
        })();
      });
    });
    const c = client(port);
    await writeAll(c, data, { end: true, piece: 7000 });
    expect(sameBytes(await deadline(iterated, 5000, 'the iteration'), data)).toBe('equal');
    expect(await closed(c)).toBeUndefined(); // the loop's end destroyed the server's socket: an ordinary close
  });

  it('half-close (allowHalfOpen): the server answers after the client ended its side', async () => {
    const { server: srv, port } = await server({ allowHalfOpen: true });
    srv.on('connection', (s: RebindSocket) => {
      const request: Buffer[] = [];
      s.on('data', (d: Buffer) => request.push(d));
      s.on('end', () => {
        expect(s.writable).toBe(true); // its own side is still open
        setTimeout(() => s.end(`got ${Buffer.concat(request).toString()}`), 20);
      });
    });
    const c = client(port);
    const reply = readAll(c);
    c.end('question');
    expect((await reply).toString()).toBe('got question');
  });

  it('half-open server, the client closed after its FIN (§9.7): end-of-stream, then a write fails with ERR_CLOSED, no PEER_LOST', async () => {
    const { server: srv, port } = await server({ allowHalfOpen: true });
    const accepted = connections(srv);
    const c = client(port);
    await connected(c);
    const [s] = await accepted;
    const errors: Error[] = [];
    s!.on('error', (e) => errors.push(e));
    const request = readAll(s!);
    c.end('request');
    c.destroy(); // FIN, then the transport closes: the ordinary end of the client's side
    expect((await request).toString()).toBe('request');
    await sleep(50);
    const error = await new Promise<Error | null | undefined>((resolve) => s!.write('reply', resolve));
    expect((error as RebindError).code).toBe('ERR_CLOSED');
    expect(errors.map((e) => (e as RebindError).code)).toEqual(['ERR_CLOSED']);
  });

  it('without allowHalfOpen the server side ends itself when the client ends', async () => {
    const { server: srv, port } = await server();
    const accepted = connections(srv);
    const c = client(port);
    const [s] = await accepted;
    const finished = new Promise((resolve) => s!.once('finish', resolve));
    const serverRead = readAll(s!);
    c.end('bye');
    expect((await serverRead).toString()).toBe('bye');
    await deadline(finished, 5000, "server 'finish'");
    expect(await closed(c)).toBeUndefined();
  });

  it('addresses: remoteAddress/remotePort/localAddress/localPort match on both ends', async () => {
    const { server: srv, port } = await server();
    const accepted = connections(srv);
    const c = client(port, '127.0.0.1');
    await connected(c);
    const [s] = await accepted;
    expect(c.remoteAddress).toBe('127.0.0.1');
    expect(c.remotePort).toBe(port);
    expect(c.remoteFamily).toBe('IPv4');
    expect(c.localAddress).toBe('127.0.0.1');
    expect(s!.localPort).toBe(port);
    expect(s!.remotePort).toBe(c.localPort);
    expect(s!.address()).toEqual({ address: '127.0.0.1', port, family: 'IPv4' });
    expect(srv.address()).toEqual({ address: '127.0.0.1', port, family: 'IPv4' });
    expect(s!.role).toBe('origin');
    expect(c.role).toBe('peer');
    expect(s!.cid).toMatch(/^[0-9a-f]{32}$/);
    expect(c.cid).toBe(s!.cid); // the acceptor's HELLO fixes the cid (§6.1)
    const counted = await new Promise<number>((resolve) => srv.getConnections((_e, n) => resolve(n)));
    expect(counted).toBe(1);
  });

  it("setNoDelay/setKeepAlive chain; setTimeout emits 'timeout' after idleness and is re-armed by traffic; 0 turns it off", async () => {
    const { server: srv, port } = await server();
    const accepted = connections(srv);
    const c = client(port);
    await connected(c);
    const [s] = await accepted;
    expect(c.setNoDelay(true)).toBe(c);
    expect(c.setKeepAlive(true, 1000)).toBe(c);
    const started = Date.now();
    await deadline(new Promise<void>((resolve) => c.setTimeout(80, resolve)), 2000, "'timeout'");
    expect(Date.now() - started).toBeGreaterThanOrEqual(70);
    // Traffic re-arms the timer: 'timeout' comes no earlier than 150 ms after the last byte arrived.
    let lastData = 0;
    const timedOut = deadline(new Promise<number>((resolve) => s!.setTimeout(150, () => resolve(Date.now()))), 5000, "the server's 'timeout'");
    const echo = readAll(s!);
    s!.on('data', () => (lastData = Date.now()));
    for (let i = 0; i < 5; i++) {
      c.write('x');
      await sleep(25);
    }
    expect((await timedOut) - lastData).toBeGreaterThanOrEqual(140);
    let more = 0;
    s!.on('timeout', () => (more += 1));
    s!.setTimeout(0); // off
    c.write('x');
    await sleep(250);
    expect(more).toBe(0);
    c.end();
    expect((await echo).toString()).toBe('xxxxxx');
  });

  it('connect to a closed port fails with a RebindError ERR_UNREACHABLE', async () => {
    const { server: srv, port } = await server();
    await new Promise((resolve) => srv.close(resolve));
    servers.length = 0;
    const c = client(port, '127.0.0.1');
    const error = await deadline(new Promise<Error>((resolve) => c.once('error', resolve)), 5000, "'error'");
    expect(error).toBeInstanceOf(RebindError);
    expect((error as RebindError).code).toBe('ERR_UNREACHABLE');
    await closed(c);
    expect(c.destroyed).toBe(true);
  });

  it('pipe() between two sockets: a proxy in front of an echo server moves 512 KiB exactly, both ways', async () => {
    const echo = await server();
    echo.server.on('connection', (s: RebindSocket) => s.pipe(s));
    const proxy = await server({ allowHalfOpen: true }); // the client's FIN must not end the way back
    proxy.server.on('connection', (front: RebindSocket) => {
      const back = client(echo.port);
      front.pipe(back).pipe(front);
    });
    const data = streamBytes(4, 512 * 1024);
    const c = client(proxy.port);
    const received = readAll(c);
    await writeAll(c, data, { end: true, piece: 10_000 });
    expect(sameBytes(await received, data)).toBe('equal');
  });

  it("a connection that does not open with HELLO gets ERROR(UNEXPECTED_MESSAGE) and is closed; the server emits 'clientError' (§6.1)", async () => {
    const { server: srv, port } = await server();
    const clientError = deadline(new Promise<Error>((resolve) => srv.once('clientError', resolve)), 5000, "'clientError'");
    const raw = await tcpTransport.connect(`tcp://127.0.0.1:${port}`);
    const frames: Message[] = [];
    raw.on('frame', (m) => frames.push(m));
    const gone = deadline(new Promise((resolve) => raw.once('close', resolve)), 5000, 'the server to close');
    raw.send({ type: 'DATA', offset: 0n, data: Uint8Array.of(1, 2, 3) });
    await gone;
    expect(frames.map((f) => f.type)).toEqual(['HELLO', 'ERROR']); // the acceptor's HELLO goes first, at once
    expect(frames[0]).toMatchObject({ acceptor: true });
    expect(frames[1]).toMatchObject({ code: ERRORS.UNEXPECTED_MESSAGE.code });
    expect(await clientError).toMatchObject({ code: 'ERR_UNEXPECTED_MESSAGE' });
  });

  it('writes made before the HELLO exchange are sent after it, in order', async () => {
    const { server: srv, port } = await server();
    const accepted = connections(srv);
    const c = client(port);
    expect(c.connecting).toBe(true);
    expect(c.readyState).toBe('opening');
    c.write('one ');
    c.write('two');
    c.end();
    const [s] = await accepted;
    expect((await readAll(s!)).toString()).toBe('one two');
  });
});
