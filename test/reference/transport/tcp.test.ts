/**
 * The TCP binding (spec §11.1) over real sockets on 127.0.0.1: framing, every wire type,
 * chunking, 8 MB both ways with backpressure, failures and the registry.
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { RebindError } from '../../../reference/errors.js';
import {
  formatAddress,
  getTransport,
  parseAddress,
  registerTransport,
  tcpTransport,
  transportFor,
  transportNames,
  type FrameConnection,
  type FrameListener,
} from '../../../reference/transport/index.js';
import { encodeFrame, type Message } from '../../../reference/wire/index.js';
import { asJson, closeOf, deadline, nextFrames, tcpPair } from './helpers.js';
import { LOCAL_SAMPLES, WIRE_SAMPLES } from './samples.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function pair(options: { maxPayload?: number; sliceData?: boolean } = {}): Promise<{ client: FrameConnection; server: FrameConnection; listener: FrameListener }> {
  const p = await tcpPair(options);
  cleanups.push(() => p.listener.close(), () => p.client.destroy(), () => p.server.destroy());
  return p;
}

/** A listener whose accepted connection is handed to the test, and a raw socket connected to it. */
async function rawClient(): Promise<{ raw: net.Socket; server: FrameConnection }> {
  let accepted!: (c: FrameConnection) => void;
  const serverSide = new Promise<FrameConnection>((resolve) => (accepted = resolve));
  const listener = await tcpTransport.listen('tcp://127.0.0.1:0', (c) => accepted(c));
  const { port } = parseAddress(listener.address);
  const raw = net.connect({ host: '127.0.0.1', port, noDelay: true });
  raw.on('error', () => {});
  const server = await deadline(serverSide, 5000, 'accept');
  cleanups.push(() => listener.close(), () => raw.destroy(), () => server.destroy());
  return { raw, server };
}

const concat = (frames: readonly Message[]): Buffer => Buffer.concat(frames.map((m) => encodeFrame(m)));

describe('addresses (§3.2)', () => {
  it('parses IPv4, bracketed IPv6 and DNS names', () => {
    expect(parseAddress('tcp://127.0.0.1:40123')).toEqual({ scheme: 'tcp', host: '127.0.0.1', port: 40123 });
    expect(parseAddress('tcp://[::1]:1')).toEqual({ scheme: 'tcp', host: '::1', port: 1 });
    expect(parseAddress('rdma://host.example:65535')).toEqual({ scheme: 'rdma', host: 'host.example', port: 65535 });
    expect(parseAddress('tcp://0.0.0.0:0', { allowPortZero: true }).port).toBe(0);
  });

  it.each(['', 'tcp://', '127.0.0.1:80', 'tcp://::1:80', 'tcp://host', 'tcp://host:0', 'tcp://host:65536', 'tcp://host:080', 'tcp://a b:80', 'tcp://[zz]:80', 'tcp://host:80/path'])(
    'refuses %j with INVALID_ARGUMENT',
    (address) => {
      expect(() => parseAddress(address)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
    },
  );

  it('formats IPv6 in brackets', () => {
    expect(formatAddress('tcp', '::1', 5)).toBe('tcp://[::1]:5');
    expect(formatAddress('tcp', '10.0.0.1', 5)).toBe('tcp://10.0.0.1:5');
  });
});

describe('registry (§11)', () => {
  it("getTransport('tcp') is the TCP binding; 'rdma' the RDMA binding; an unknown name is UNSUPPORTED", () => {
    expect(getTransport('tcp')).toBe(tcpTransport);
    expect(transportFor('tcp://127.0.0.1:1')).toBe(tcpTransport);
    expect(getTransport('rdma').name).toBe('rdma');
    expect(transportFor('rdma://10.0.0.1:7471')).toBe(getTransport('rdma'));
    expect(() => getTransport('sctp')).toThrow(expect.objectContaining({ code: 'ERR_UNSUPPORTED' }));
    expect(transportNames()).toContain('tcp');
  });

  it('registerTransport adds a binding by name', () => {
    const fake = { name: 'fake', listen: () => Promise.reject(new Error('no')), connect: () => Promise.reject(new Error('no')) };
    registerTransport(fake);
    expect(getTransport('fake')).toBe(fake);
  });
});

describe('TCP: frames (§3, §11.1)', () => {
  it('every wire type round-trips both ways, with URI addresses', async () => {
    const { client, server, listener } = await pair();
    expect(client.transport).toBe('tcp');
    expect(client.remoteAddress).toBe(listener.address);
    expect(server.localAddress).toBe(listener.address);
    expect(server.remoteAddress).toBe(client.localAddress);
    expect(client.localAddress).toMatch(/^tcp:\/\/127\.0\.0\.1:[1-9][0-9]*$/);

    const atServer = nextFrames(server, WIRE_SAMPLES.length);
    const atClient = nextFrames(client, WIRE_SAMPLES.length);
    client.cork();
    for (const m of WIRE_SAMPLES) expect(client.send(m)).toBe(true);
    client.uncork();
    for (const m of [...WIRE_SAMPLES].reverse()) server.send(m);
    expect(asJson(await atServer)).toEqual(asJson(WIRE_SAMPLES));
    expect(asJson(await atClient)).toEqual(asJson([...WIRE_SAMPLES].reverse()));
  });

  it('works over IPv6 loopback when the host has it', async () => {
    let listener: FrameListener;
    try {
      listener = await tcpTransport.listen('tcp://[::1]:0', (c) => c.on('frame', (m) => c.send(m)));
    } catch (error) {
      expect((error as RebindError).code).toBe('ERR_TRANSPORT_FAILED'); // no IPv6 here: listening fails cleanly
      return;
    }
    cleanups.push(() => listener.close());
    expect(listener.address).toMatch(/^tcp:\/\/\[::1\]:[0-9]+$/);
    const client = await tcpTransport.connect(listener.address);
    cleanups.push(() => client.destroy());
    const echoed = nextFrames(client, 1);
    client.send({ type: 'REBOUND', hid: 7 });
    expect(asJson(await echoed)).toEqual(asJson([{ type: 'REBOUND', hid: 7 }]));
  });

  it('many frames in one write arrive intact and in order', async () => {
    const { raw, server } = await rawClient();
    const frames = nextFrames(server, WIRE_SAMPLES.length * 3);
    raw.write(concat([...WIRE_SAMPLES, ...WIRE_SAMPLES, ...WIRE_SAMPLES]));
    expect(asJson(await frames)).toEqual(asJson([...WIRE_SAMPLES, ...WIRE_SAMPLES, ...WIRE_SAMPLES]));
  });

  it('frames split across many writes (one byte each) arrive intact', async () => {
    const { raw, server } = await rawClient();
    const bytes = concat(WIRE_SAMPLES);
    const frames = nextFrames(server, WIRE_SAMPLES.length, 20_000);
    for (let i = 0; i < bytes.length; i++) {
      raw.write(bytes.subarray(i, i + 1));
      if (i % 4 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    expect(asJson(await frames)).toEqual(asJson(WIRE_SAMPLES));
  });

  it('sendData splits over the peer maxPayload and keeps offsets contiguous (§3.3, §4.2)', async () => {
    const { client, server } = await pair();
    client.setPeerMaxPayload(1024);
    expect(client.peerMaxPayload).toBe(1024);
    const data = randomBytes(5000);
    const frames = nextFrames(server, 5); // 1016 + 1016 + 1016 + 1016 + 936
    client.sendData(1000n, data);
    const got = (await frames) as Extract<Message, { type: 'DATA' }>[];
    expect(got.map((m) => m.offset)).toEqual([1000n, 2016n, 3032n, 4048n, 5064n]);
    expect(got.map((m) => m.data.length)).toEqual([1016, 1016, 1016, 1016, 936]);
    expect(Buffer.concat(got.map((m) => m.data)).equals(data)).toBe(true);
    // A small DATA goes as one copied frame.
    const one = nextFrames(server, 1);
    client.sendData(2n ** 64n - 1n, Uint8Array.of(0xab));
    expect(asJson(await one)).toEqual(asJson([{ type: 'DATA', offset: 2n ** 64n - 1n, data: Uint8Array.of(0xab) }]));
  });

  it('with sliceData, a large DATA frame arrives as several DATA messages with contiguous offsets', async () => {
    const { client, server } = await pair({ sliceData: true });
    const data = randomBytes(1_000_000);
    const parts: Extract<Message, { type: 'DATA' }>[] = [];
    const all = deadline(
      new Promise<void>((resolve) => {
        let next = 5n;
        server.on('frame', (m) => {
          if (m.type !== 'DATA' || m.offset !== next) throw new Error(`unexpected ${m.type}`);
          parts.push(m);
          next += BigInt(m.data.length);
          if (next === 5n + BigInt(data.length)) resolve();
        });
      }),
      10_000,
      'sliced DATA',
    );
    client.sendData(5n, data); // one frame (below the 1 MiB limit), many reads
    await all;
    expect(parts.length).toBeGreaterThan(1);
    expect(Buffer.concat(parts.map((m) => m.data)).equals(data)).toBe(true);
  });

  it('refuses bad sendData/send arguments and bad limits', async () => {
    const { client } = await pair();
    expect(() => client.sendData(0n, new Uint8Array(0))).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
    expect(() => client.sendData(-1n, Uint8Array.of(1))).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
    expect(() => client.sendData(2n ** 64n - 1n, Uint8Array.of(1, 2))).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
    expect(() => client.setPeerMaxPayload(1023)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
    expect(() => client.setPeerMaxPayload(16_777_217)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
    client.setPeerMaxPayload(1024);
    expect(() => client.send({ type: 'DATA', offset: 0n, data: new Uint8Array(1017) })).toThrow(expect.objectContaining({ code: 'ERR_FRAME_TOO_LARGE' }));
    expect(() => client.send({ type: 'REBOUND', hid: 0 })).toThrow(expect.objectContaining({ code: 'ERR_FRAME_BAD_FIELD' }));
  });

  it('a frame above this end’s maxPayload fails the connection with FRAME_TOO_LARGE (§3.3)', async () => {
    const { client, server } = await pair({ maxPayload: 1024 });
    const closed = closeOf(server);
    client.send({ type: 'DATA', offset: 0n, data: new Uint8Array(2000) });
    expect((await closed)?.code).toBe('ERR_FRAME_TOO_LARGE');
    expect(await closeOf(client)).toBeUndefined(); // the sender sees the connection closed
  });
});

describe('TCP: 8 MB both ways with backpressure', () => {
  it('is byte-exact, a paused receiver holds its frames, and the sender waits for drain', async () => {
    const { client, server } = await pair();
    const SIZE = 8 * 1024 * 1024;
    const CHUNK = 256 * 1024;
    const up = randomBytes(SIZE);
    const down = randomBytes(SIZE);

    const receive = (connection: FrameConnection): { bytes: Promise<Buffer>; count: () => number } => {
      const parts: Uint8Array[] = [];
      let next = 0n;
      let frames = 0;
      const bytes = new Promise<Buffer>((resolve, reject) => {
        connection.on('frame', (m) => {
          frames++;
          if (m.type !== 'DATA' || m.offset !== next) return reject(new Error(`unexpected ${m.type} at ${next}`));
          parts.push(m.data);
          next += BigInt(m.data.length);
          if (next === BigInt(SIZE)) resolve(Buffer.concat(parts));
        });
      });
      return { bytes, count: () => frames };
    };
    const send = async (connection: FrameConnection, bytes: Buffer): Promise<number> => {
      let drains = 0;
      for (let pos = 0; pos < SIZE; pos += CHUNK) {
        if (!connection.sendData(BigInt(pos), bytes.subarray(pos, pos + CHUNK))) {
          await deadline(new Promise((resolve) => connection.once('drain', () => resolve(undefined))), 10_000, 'drain');
          drains++;
        }
      }
      return drains;
    };

    const atServer = receive(server);
    const atClient = receive(client);
    server.pause();
    const clientSent = send(client, up);
    const serverSent = send(server, down);
    await sleep(150);
    expect(atServer.count()).toBe(0); // paused: nothing delivered
    expect(client.bufferedAmount).toBeGreaterThan(0); // the kernel buffers are full: backpressure reached the sender
    server.resume();

    const [drainsUp, drainsDown, gotUp, gotDown] = await deadline(
      Promise.all([clientSent, serverSent, atServer.bytes, atClient.bytes]),
      30_000,
      '8 MB both ways',
    );
    expect(drainsUp).toBeGreaterThan(0);
    expect(drainsDown).toBeGreaterThan(0);
    expect(gotUp.equals(up)).toBe(true);
    expect(gotDown.equals(down)).toBe(true);
  });

  it('pause() from a frame listener holds the rest of a batch until resume(), then close follows', async () => {
    const { raw, server } = await rawClient();
    const seen: string[] = [];
    server.on('frame', (m) => {
      seen.push(m.type);
      if (seen.length === 1) server.pause();
    });
    const closed = closeOf(server);
    raw.end(concat(WIRE_SAMPLES.slice(0, 4)));
    await sleep(100);
    expect(seen).toEqual(['HELLO']);
    server.resume();
    expect(await closed).toBeUndefined();
    expect(seen).toEqual(WIRE_SAMPLES.slice(0, 4).map((m) => m.type));
  });

  it('resume() inside a frame listener does not deliver out of order', async () => {
    const { raw, server } = await rawClient();
    const seen: number[] = [];
    server.on('frame', (m) => {
      seen.push(Number((m as { offset: bigint }).offset));
      server.pause();
      server.resume();
    });
    const frames = nextFrames(server, 5);
    raw.write(concat([0n, 1n, 2n, 3n, 4n].map((offset) => ({ type: 'FIN', offset }))));
    await frames;
    expect(seen).toEqual([0, 1, 2, 3, 4]);
  });
});

describe('TCP: closing and failures (§9.6, §11.1)', () => {
  it('end() flushes and both ends see a clean close; send after end is CLOSED', async () => {
    const { client, server } = await pair();
    const frames = nextFrames(server, 2);
    const serverClosed = closeOf(server);
    client.send({ type: 'DATA', offset: 0n, data: Uint8Array.of(1) });
    client.send({ type: 'FIN', offset: 1n });
    const ended = client.end();
    expect(client.closed).toBe(true);
    expect(() => client.send({ type: 'FIN', offset: 1n })).toThrow(expect.objectContaining({ code: 'ERR_CLOSED' }));
    expect(() => client.sendData(1n, Uint8Array.of(1))).toThrow(expect.objectContaining({ code: 'ERR_CLOSED' }));
    expect((await frames).map((m) => m.type)).toEqual(['DATA', 'FIN']);
    expect(await serverClosed).toBeUndefined();
    await deadline(ended, 5000, 'end()');
    await client.end(); // again: already closed
    client.destroy(); // no-op after close
  });

  it('destroy(error) closes at once with that error; the other end sees a close', async () => {
    const { client, server } = await pair();
    const mine = closeOf(client);
    const theirs = closeOf(server);
    const error = new RebindError('ABORTED', 'test');
    client.destroy(error);
    expect(await mine).toBe(error);
    expect(await theirs).toBeUndefined();
  });

  it('sending on a connection that was lost returns false until close is seen', async () => {
    const { raw, server } = await rawClient();
    const closed = closeOf(server);
    raw.end();
    await closed;
    expect(() => server.send({ type: 'REBOUND', hid: 1 })).toThrow(expect.objectContaining({ code: 'ERR_CLOSED' }));
  });

  it('connect to a closed port is UNREACHABLE', async () => {
    const listener = await tcpTransport.listen('tcp://127.0.0.1:0', () => {});
    const address = listener.address;
    await listener.close();
    await expect(tcpTransport.connect(address)).rejects.toMatchObject({ code: 'ERR_UNREACHABLE', detail: { code: 'ECONNREFUSED' } });
  });

  it('connect refuses bad arguments, and gives up on timeout or abort with UNREACHABLE', async () => {
    await expect(tcpTransport.connect('tcp://127.0.0.1:0')).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
    await expect(tcpTransport.connect('rdma://127.0.0.1:1')).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
    await expect(tcpTransport.connect('tcp://127.0.0.1:1', { timeoutMs: -1 })).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
    await expect(tcpTransport.connect('tcp://127.0.0.1:1', { maxPayload: 5 })).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
    await expect(tcpTransport.listen('tcp://nonsense', () => {})).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
    // 192.0.2.1 (TEST-NET-1) is never routed: the connect either hangs (timeout) or fails at once.
    await expect(tcpTransport.connect('tcp://192.0.2.1:9', { timeoutMs: 50 })).rejects.toMatchObject({ code: 'ERR_UNREACHABLE' });
    const controller = new AbortController();
    const pending = tcpTransport.connect('tcp://192.0.2.1:9', { signal: controller.signal });
    controller.abort();
    await expect(pending).rejects.toMatchObject({ code: 'ERR_UNREACHABLE' });
    await expect(tcpTransport.connect('tcp://127.0.0.1:9', { signal: AbortSignal.abort() })).rejects.toMatchObject({
      code: 'ERR_UNREACHABLE',
      detail: { aborted: true },
    });
  });

  it('listening on a port in use is TRANSPORT_FAILED', async () => {
    const listener = await tcpTransport.listen('tcp://127.0.0.1:0', () => {});
    cleanups.push(() => listener.close());
    await expect(tcpTransport.listen(listener.address, () => {})).rejects.toMatchObject({ code: 'ERR_TRANSPORT_FAILED', detail: { code: 'EADDRINUSE' } });
  });

  it('garbage from the other side closes with the codec error, after the frames before it', async () => {
    const { raw, server } = await rawClient();
    const frames = nextFrames(server, 1);
    const closed = closeOf(server);
    raw.write(Buffer.concat([encodeFrame({ type: 'FIN', offset: 3n }), Buffer.from('GET / HTTP/1.1\r\n\r\n')]));
    expect((await frames)[0]?.type).toBe('FIN');
    const error = await closed;
    expect(error).toBeInstanceOf(RebindError);
    expect(error?.code).toBe('ERR_FRAME_BAD_VERSION');
    expect(error?.detail.streamOffset).toBe(16);
  });

  it('a local frame on a TCP connection is FRAME_UNKNOWN_TYPE (§3.1)', async () => {
    const { raw, server } = await rawClient();
    const closed = closeOf(server);
    raw.write(encodeFrame(LOCAL_SAMPLES[1] as Message));
    expect((await closed)?.code).toBe('ERR_FRAME_UNKNOWN_TYPE');
  });

  it('an EOF inside a frame is FRAME_TRUNCATED (§11.1)', async () => {
    const { raw, server } = await rawClient();
    const closed = closeOf(server);
    raw.end(encodeFrame({ type: 'DATA', offset: 0n, data: new Uint8Array(100) }).subarray(0, 50));
    expect((await closed)?.code).toBe('ERR_FRAME_TRUNCATED');
  });

  it('a reset is TRANSPORT_FAILED', async () => {
    const { raw, server } = await rawClient();
    const closed = closeOf(server);
    raw.write(encodeFrame({ type: 'DATA', offset: 0n, data: new Uint8Array(100) }).subarray(0, 30));
    await sleep(50);
    raw.resetAndDestroy();
    const error = await closed;
    expect(error?.code).toBe('ERR_TRANSPORT_FAILED');
    expect(error?.section).toBe('11.1');
    expect(error?.detail).toMatchObject({ code: 'ECONNRESET', bufferedBytes: 30 });
  });

  it('a paused connection that is destroyed emits close once, without its held frames', async () => {
    const { raw, server } = await rawClient();
    const seen: Message[] = [];
    server.on('frame', (m) => seen.push(m));
    server.pause();
    raw.end(concat(WIRE_SAMPLES));
    await sleep(50);
    server.resume(); // reads and delivers, then pause again mid-way
    server.pause();
    const closed = closeOf(server);
    await sleep(50);
    server.destroy();
    server.destroy();
    expect(await closed).toBeUndefined();
    expect(seen.length).toBeLessThanOrEqual(WIRE_SAMPLES.length);
  });
});
