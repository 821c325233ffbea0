/**
 * The local channel (spec §11.3, §5.1) in one process: JOIN first, every local type both ways,
 * rejections, the wire/local type classes and the socket file's life.
 */
import { existsSync, statSync } from 'node:fs';
import net from 'node:net';
import { dirname } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { RebindError } from '../../../reference/errors.js';
import { connectLocal, listenLocal, type LocalChannel, type LocalListener } from '../../../reference/transport/index.js';
import { encodeFrame, type JoinMessage, type Message } from '../../../reference/wire/index.js';
import { asJson, closeOf, deadline, nextFrames } from './helpers.js';
import { LOCAL_SAMPLES, WIRE_SAMPLES } from './samples.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** An origin listener that hands out joined channels, and the rejections it saw. */
async function origin(options: { joinTimeoutMs?: number } = {}): Promise<{
  listener: LocalListener;
  joined: Promise<{ channel: LocalChannel; join: JoinMessage }>;
  rejected: Promise<RebindError>;
}> {
  let onJoined!: (v: { channel: LocalChannel; join: JoinMessage }) => void;
  let onRejected!: (e: RebindError) => void;
  const joined = new Promise<{ channel: LocalChannel; join: JoinMessage }>((resolve) => (onJoined = resolve));
  const rejected = new Promise<RebindError>((resolve) => (onRejected = resolve));
  const listener = await listenLocal((channel, join) => {
    cleanups.push(() => channel.destroy());
    onJoined({ channel, join });
  }, { ...options, onReject: onRejected });
  cleanups.push(() => listener.close());
  return { listener, joined, rejected };
}

/** A raw Unix socket to the listener, to send what a conforming successor would not. */
function raw(path: string): net.Socket {
  const socket = net.connect({ path });
  socket.on('error', () => {});
  cleanups.push(() => socket.destroy());
  return socket;
}

describe('local channel (§11.3)', () => {
  it('JOIN comes first and goes to onJoin; then every local type round-trips both ways', async () => {
    const { listener, joined } = await origin();
    expect(statSync(dirname(listener.path)).mode & 0o777).toBe(0o700); // §11.3 trust: only this user
    const successor = await connectLocal(listener.path, { pid: 1234, addr: 'tcp://127.0.0.1:7000' });
    cleanups.push(() => successor.destroy());
    const { channel, join } = await deadline(joined, 5000, 'JOIN');
    expect(join).toEqual({ type: 'JOIN', pid: 1234, addr: 'tcp://127.0.0.1:7000' });
    expect(channel.transport).toBe('local');
    expect(successor.transport).toBe('local');
    expect(successor.remoteAddress).toBe(`unix:${listener.path}`);
    expect(channel.localAddress).toBe(`unix:${listener.path}`);

    const others = LOCAL_SAMPLES.filter((m) => m.type !== 'JOIN');
    const atOrigin = nextFrames(channel, others.length);
    const atSuccessor = nextFrames(successor, others.length);
    for (const m of others) successor.send(m);
    for (const m of others) channel.send(m);
    expect(asJson(await atOrigin)).toEqual(asJson(others));
    expect(asJson(await atSuccessor)).toEqual(asJson(others));
  });

  it('JOIN and many frames in one write, or split one byte per write, arrive intact', async () => {
    for (const split of [false, true]) {
      let onJoined!: (v: { channel: LocalChannel; join: JoinMessage }) => void;
      const joined = new Promise<{ channel: LocalChannel; join: JoinMessage }>((resolve) => (onJoined = resolve));
      const others = LOCAL_SAMPLES.filter((m) => m.type !== 'JOIN');
      let frames!: Promise<Message[]>;
      const listener = await listenLocal((channel, join) => {
        cleanups.push(() => channel.destroy());
        frames = nextFrames(channel, others.length, 20_000); // listeners attached inside onJoin see every later frame
        onJoined({ channel, join });
      });
      cleanups.push(() => listener.close());
      const socket = raw(listener.path);
      const bytes = Buffer.concat(LOCAL_SAMPLES.map((m) => encodeFrame(m)));
      if (!split) socket.write(bytes);
      else {
        for (let i = 0; i < bytes.length; i++) {
          socket.write(bytes.subarray(i, i + 1));
          if (i % 8 === 0) await new Promise((resolve) => setImmediate(resolve));
        }
      }
      const { join } = await deadline(joined, 10_000, 'JOIN');
      expect(asJson([join])).toEqual(asJson([LOCAL_SAMPLES[0] as Message]));
      expect(asJson(await frames)).toEqual(asJson(others));
    }
  });

  it('several successors join the same listener, each on its own channel', async () => {
    const joins: number[] = [];
    let both!: () => void;
    const done = new Promise<void>((resolve) => (both = resolve));
    const listener = await listenLocal((channel, join) => {
      cleanups.push(() => channel.destroy());
      joins.push(join.pid);
      if (joins.length === 2) both();
    });
    cleanups.push(() => listener.close());
    const a = await connectLocal(listener.path, { pid: 1, addr: 'tcp://127.0.0.1:1' });
    const b = await connectLocal(listener.path, { pid: 2, addr: 'tcp://127.0.0.1:2' });
    cleanups.push(() => a.destroy(), () => b.destroy());
    await deadline(done, 5000, 'two JOINs');
    expect(joins.sort()).toEqual([1, 2]);
  });

  it('a first frame other than JOIN is UNEXPECTED_MESSAGE and L is closed (§5.1)', async () => {
    const { listener, rejected } = await origin();
    const socket = raw(listener.path);
    const ended = new Promise((resolve) => socket.on('close', resolve));
    socket.write(encodeFrame(LOCAL_SAMPLES[1] as Message)); // NEED
    const error = await deadline(rejected, 5000, 'rejection');
    expect(error.code).toBe('ERR_UNEXPECTED_MESSAGE');
    expect(error.detail.type).toBe('NEED');
    await deadline(ended, 5000, 'the raw socket closed');
  });

  it('a second JOIN is UNEXPECTED_MESSAGE and closes L (§5.1)', async () => {
    const { listener, joined } = await origin();
    const successor = await connectLocal(listener.path, { pid: 1, addr: 'tcp://127.0.0.1:1' });
    cleanups.push(() => successor.destroy());
    const { channel } = await deadline(joined, 5000, 'JOIN');
    const seen: Message[] = [];
    channel.on('frame', (m) => seen.push(m));
    const closed = closeOf(channel);
    successor.send({ type: 'JOIN', pid: 1, addr: 'tcp://127.0.0.1:1' });
    expect((await closed)?.code).toBe('ERR_UNEXPECTED_MESSAGE');
    expect(seen).toEqual([]); // the second JOIN is not delivered
    expect(await closeOf(successor)).toBeUndefined(); // the successor sees L closed
  });

  it('a wire frame on L is FRAME_UNKNOWN_TYPE, at either end (§3.1)', async () => {
    const { listener, joined, rejected } = await origin();
    // Before JOIN, at the origin:
    raw(listener.path).write(encodeFrame(WIRE_SAMPLES[0] as Message));
    expect((await deadline(rejected, 5000, 'rejection')).code).toBe('ERR_FRAME_UNKNOWN_TYPE');
    // After JOIN, at the successor (the origin's side sends a wire frame by raw bytes is not possible
    // through the API, so the successor checks what a joined origin receives instead):
    const successor = await connectLocal(listener.path, { pid: 1, addr: 'tcp://127.0.0.1:1' });
    cleanups.push(() => successor.destroy());
    const { channel } = await deadline(joined, 5000, 'JOIN');
    const closed = closeOf(channel);
    expect(() => successor.send({ type: 'FIN', offset: 0n })).not.toThrow(); // the encoder does not know the channel
    expect((await closed)?.code).toBe('ERR_FRAME_UNKNOWN_TYPE');
  });

  it('a process that connects and sends nothing is dropped after joinTimeoutMs (TIMEOUT)', async () => {
    const { listener, rejected } = await origin({ joinTimeoutMs: 50 });
    raw(listener.path);
    expect((await deadline(rejected, 5000, 'rejection')).code).toBe('ERR_TIMEOUT');
  });

  it('a process that connects and leaves before JOIN is reported', async () => {
    const { listener, rejected } = await origin();
    raw(listener.path).end();
    expect((await deadline(rejected, 5000, 'rejection')).code).toBe('ERR_UNEXPECTED_MESSAGE');
  });

  it('close() removes the socket file and its directory; joined channels live on', async () => {
    const { listener, joined } = await origin();
    const successor = await connectLocal(listener.path, { pid: 1, addr: 'tcp://127.0.0.1:1' });
    cleanups.push(() => successor.destroy());
    const { channel } = await deadline(joined, 5000, 'JOIN');
    expect(existsSync(listener.path)).toBe(true);
    await listener.close();
    await listener.close();
    expect(existsSync(listener.path)).toBe(false);
    expect(existsSync(dirname(listener.path))).toBe(false);
    const frames = nextFrames(successor, 1);
    channel.send({ type: 'COMMIT', cid: new Uint8Array(16).fill(1), hid: 1 });
    expect((await frames)[0]?.type).toBe('COMMIT');
    await expect(connectLocal(listener.path, { pid: 1, addr: 'tcp://127.0.0.1:1' })).rejects.toMatchObject({ code: 'ERR_UNREACHABLE' });
  });

  it('closing one end gives the other a close without error (lost L, §11.3)', async () => {
    const { listener, joined } = await origin();
    const successor = await connectLocal(listener.path, { pid: 1, addr: 'tcp://127.0.0.1:1' });
    const { channel } = await deadline(joined, 5000, 'JOIN');
    const closed = closeOf(channel);
    await deadline(successor.end(), 5000, 'end()');
    expect(await closed).toBeUndefined();
  });

  it('connectLocal refuses a bad path or JOIN, and an unreachable path is UNREACHABLE', async () => {
    await expect(connectLocal('', { pid: 1, addr: 'tcp://127.0.0.1:1' })).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
    await expect(connectLocal('/nonexistent/L.sock', { pid: -1, addr: 'x' })).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
    await expect(connectLocal('/nonexistent/L.sock', { pid: 1, addr: '' })).rejects.toMatchObject({ code: 'ERR_FRAME_BAD_FIELD' });
    await expect(connectLocal('/nonexistent/L.sock', { pid: 1, addr: 'tcp://127.0.0.1:1' })).rejects.toMatchObject({
      code: 'ERR_UNREACHABLE',
      section: '11.3',
      detail: { code: 'ENOENT' },
    });
  });

  it('listenLocal in a directory that does not exist is TRANSPORT_FAILED', async () => {
    await expect(listenLocal(() => {}, { directory: '/nonexistent-rebind-dir' })).rejects.toMatchObject({
      code: 'ERR_TRANSPORT_FAILED',
      detail: { code: 'ENOENT' },
    });
  });
});
