/**
 * The RDMA RC binding as a Transport (spec §11.2): FrameConnections over one RC QP each, frames of
 * every wire type round-tripping byte-exact, credits in the first frames, large writes split and
 * carried with CREDIT frames, pause/resume back-pressure, end() and destroy().
 *
 * The device tests run only where an RDMA device exists (the lab: `npm run lab -- npx vitest run
 * test/reference/transport/rdma`); elsewhere they are skipped with the NO_DEVICE reason and the
 * NO_DEVICE tests run instead.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { RebindError } from '../../../../reference/errors.js';
import type { RdmaFrameConnection } from '../../../../reference/transport/rdma/connection.js';
import { DEFAULT_CREDITS, RdmaTransport, rdmaAvailable, rdmaTransport } from '../../../../reference/transport/rdma/index.js';
import type { FrameConnection, FrameListener } from '../../../../reference/transport/transport.js';
import { encodeFrame, type DataMessage, type Message } from '../../../../reference/wire/index.js';
import { parseAddress } from '../../../../reference/transport/transport.js';
import { rcConnect } from '../../../../reference/transport/rdma/rc.js';
import { asJson, closeOf, deadline, nextFrames } from '../helpers.js';
import { WIRE_SAMPLES } from '../samples.js';

const availability = await rdmaAvailable();
const noDevice = availability.ok ? undefined : availability.error.message;
const ADDR = process.env.RDMA_LAB_ADDR ?? '10.77.0.1';
/** A test that needs a device: skipped elsewhere, with the NO_DEVICE reason in its name. */
const deviceIt = (name: string, fn: () => Promise<void>): void =>
  it.skipIf(noDevice !== undefined)(`${name}${noDevice === undefined ? '' : ` — skipped: ${noDevice}`}`, fn);

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const cid = Uint8Array.from({ length: 16 }, (_, i) => 0xa0 + i);
const hello = (acceptor: boolean, maxPayload: number): Message => ({
  type: 'HELLO',
  fast: true,
  acceptor,
  cid: acceptor ? cid : new Uint8Array(16),
  maxPayload,
  credits: 0, // the engine's value; the RDMA transport announces its own (§11.2)
});

/** A listener on ADDR and a connected pair, with the HELLO exchange of §6.1 done. */
async function pair(options: { maxPayload?: number; transport?: RdmaTransport } = {}): Promise<{ client: FrameConnection; server: FrameConnection; listener: FrameListener }> {
  const transport = options.transport ?? rdmaTransport;
  const maxPayload = options.maxPayload ?? 65536;
  let accepted!: (c: FrameConnection) => void;
  const serverSide = new Promise<FrameConnection>((resolve) => (accepted = resolve));
  const listener = await transport.listen(`rdma://${ADDR}:0`, (c) => accepted(c), { maxPayload });
  cleanups.push(() => listener.close());
  const client = await deadline(transport.connect(listener.address, { maxPayload, timeoutMs: 10_000 }), 15_000, 'connect');
  const server = await deadline(serverSide, 10_000, 'accept');
  cleanups.push(() => client.destroy(), () => server.destroy());
  const [toServer, toClient] = [nextFrames(server, 1, 10_000), nextFrames(client, 1, 10_000)];
  server.send(hello(true, maxPayload));
  client.send(hello(false, maxPayload));
  const [[fromClient], [fromServer]] = await Promise.all([toServer, toClient]);
  server.setPeerMaxPayload((fromClient as { maxPayload: number }).maxPayload);
  client.setPeerMaxPayload((fromServer as { maxPayload: number }).maxPayload);
  return { client, server, listener };
}

/** Collects DATA frames until `total` bytes arrived; checks contiguous offsets; returns the bytes. */
function collectData(connection: FrameConnection, total: number, ms = 30_000): Promise<{ bytes: Buffer; frames: number }> {
  const chunks: Uint8Array[] = [];
  let received = 0;
  let frames = 0;
  return deadline(
    new Promise((resolve, reject) => {
      const onFrame = (message: Message): void => {
        if (message.type !== 'DATA') return reject(new Error(`unexpected ${message.type}`));
        if (message.offset !== BigInt(received)) return reject(new Error(`offset ${message.offset}, expected ${received}`));
        chunks.push(message.data);
        received += message.data.length;
        frames++;
        if (received >= total) {
          connection.off('frame', onFrame);
          resolve({ bytes: Buffer.concat(chunks), frames });
        }
      };
      connection.on('frame', onFrame);
    }),
    ms,
    `${total} data bytes`,
  );
}

const credits = (c: FrameConnection) => (c as RdmaFrameConnection).creditState;

describe('RdmaTransport (§11.2) on a device', () => {
  deviceIt('HELLO carries the transport’s credits; every wire frame round-trips byte-exact; addresses are rdma://', async () => {
      const { client, server, listener } = await pair();
      expect(client.transport).toBe('rdma');
      expect(client.remoteAddress).toBe(listener.address);
      expect(server.localAddress).toBe(listener.address);
      expect(server.remoteAddress).toBe(client.localAddress);
      expect(credits(client).sendCredits).toBe(DEFAULT_CREDITS); // from the server's HELLO
      expect(credits(server).sendCredits).toBe(DEFAULT_CREDITS);

      const samples = WIRE_SAMPLES.filter((m) => m.type !== 'HELLO' && m.type !== 'CREDIT');
      const atServer = nextFrames(server, samples.length, 10_000);
      for (const message of samples) client.send(message);
      expect(asJson(await atServer)).toEqual(asJson(samples));
      const atClient = nextFrames(client, samples.length, 10_000);
      for (const message of samples) server.send(message);
      expect(asJson(await atClient)).toEqual(asJson(samples));
    },
  );

  deviceIt('first frame on C2: ATTACH gets the credits, and so does ATTACHED', async () => {
    let accepted!: (c: FrameConnection) => void;
    const serverSide = new Promise<FrameConnection>((resolve) => (accepted = resolve));
    const listener = await rdmaTransport.listen(`rdma://${ADDR}:0`, (c) => accepted(c), { maxPayload: 4096 });
    cleanups.push(() => listener.close());
    const peer = await rdmaTransport.connect(listener.address, { maxPayload: 4096, timeoutMs: 10_000 });
    const successor = await deadline(serverSide, 10_000, 'accept');
    cleanups.push(() => peer.destroy(), () => successor.destroy());
    const attach = WIRE_SAMPLES.find((m) => m.type === 'ATTACH') as Message;
    const attached = WIRE_SAMPLES.find((m) => m.type === 'ATTACHED') as Message;
    const atSuccessor = nextFrames(successor, 1, 10_000);
    peer.send(attach);
    const [gotAttach] = await atSuccessor;
    expect(gotAttach).toMatchObject({ type: 'ATTACH', credits: DEFAULT_CREDITS });
    const atPeer = nextFrames(peer, 2, 10_000);
    successor.send(attached);
    successor.send({ type: 'REBOUND', hid: 1 });
    const [gotAttached, next] = await atPeer;
    expect(gotAttached).toMatchObject({ type: 'ATTACHED', credits: DEFAULT_CREDITS });
    expect(next).toMatchObject({ type: 'REBOUND', hid: 1 });
  });

  deviceIt('large writes are split into DATA frames of maxPayload − 8 and carried byte-exact by CREDIT flow, both ways at once', async () => {
    const { client, server } = await pair({ maxPayload: 16384 });
    const up = randomBytes(1024 * 1024);
    const down = randomBytes(300 * 1024 + 17);
    const atServer = collectData(server, up.length);
    const atClient = collectData(client, down.length);
    const start = process.hrtime.bigint();
    client.sendData(0n, up);
    server.sendData(0n, down);
    const [fromClient, fromServer] = await Promise.all([atServer, atClient]);
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    expect(fromClient.bytes.equals(up)).toBe(true);
    expect(fromServer.bytes.equals(down)).toBe(true);
    expect(fromClient.frames).toBe(Math.ceil(up.length / (16384 - 8)));
    // 65 frames into 8 credits: the receiver must have announced its buffers again and again.
    expect(credits(server).creditFramesSent).toBeGreaterThan(0);
    expect(credits(client).creditFramesReceived).toBe(credits(server).creditFramesSent);
    console.log(`[rdma frames] ${((up.length + down.length) / 1024 / 1024).toFixed(2)} MiB in ${fromClient.frames + fromServer.frames} DATA frames of ≤ 16 KiB: ${ms.toFixed(0)} ms, ${(((up.length + down.length) / 1024 / 1024) / (ms / 1000)).toFixed(1)} MiB/s`);
    // Idle ends do not trade CREDIT frames forever (§11.2 MUST NOT).
    await sleep(300);
    const before = [credits(client).creditFramesSent, credits(server).creditFramesSent];
    await sleep(300);
    expect([credits(client).creditFramesSent, credits(server).creditFramesSent]).toEqual(before);
    // Both ends still hold credits for control frames.
    expect(credits(client).sendCredits).toBeGreaterThanOrEqual(2);
    expect(credits(server).sendCredits).toBeGreaterThanOrEqual(2);
  });

  deviceIt('pause() withholds buffers so the sender stops at its credits; resume() delivers everything in order', async () => {
    const { client, server } = await pair({ maxPayload: 4096 });
    server.pause();
    const frames = Array.from({ length: 40 }, (_, i): DataMessage => ({ type: 'DATA', offset: BigInt(i * 100), data: randomBytes(100) }));
    for (const frame of frames) client.send(frame);
    await sleep(500);
    // DATA stops with fewer than 3 credits left (§11.2 reservation). The client had 8 credits and
    // gets 1 more: the server's buffer of the client's HELLO, reposted and announced in a CREDIT
    // when the client fell below 3 (MUST). So 8 + 1 − 2 = 7 DATA frames went out.
    expect(credits(client).sendCredits).toBe(2);
    expect(credits(server).creditFramesSent).toBe(1);
    expect(client.bufferedAmount).toBe((40 - (DEFAULT_CREDITS + 1 - 2)) * (8 + 8 + 100));
    const all = nextFrames(server, frames.length, 20_000);
    server.resume();
    expect(asJson(await all)).toEqual(asJson(frames));
    expect(client.bufferedAmount).toBe(0);
  });

  deviceIt('end() sends what is queued, then both ends close without error; destroy() closes the other end', async () => {
    const { client, server } = await pair({ maxPayload: 4096 });
    const data = randomBytes(20_000);
    const all: Message[] = [];
    server.on('frame', (m) => all.push(m));
    const serverClosed = closeOf(server, 10_000);
    client.sendData(0n, data);
    client.send({ type: 'FIN', offset: BigInt(data.length) });
    await deadline(client.end(), 10_000, 'end()');
    expect(await serverClosed).toBeUndefined(); // 'close' comes after every frame sent before end()
    expect(all.map((m) => m.type)).toEqual(['DATA', 'DATA', 'DATA', 'DATA', 'DATA', 'FIN']);
    expect(Buffer.concat(all.flatMap((m) => (m.type === 'DATA' ? [m.data] : []))).equals(data)).toBe(true);
    expect(client.closed).toBe(true);
    expect(() => client.send({ type: 'REBOUND', hid: 1 })).toThrow(expect.objectContaining({ code: 'ERR_CLOSED' }));

    const second = await pair({ maxPayload: 4096 });
    const otherClosed = closeOf(second.server, 10_000);
    const ownClosed = closeOf(second.client, 10_000);
    second.client.destroy(new RebindError('ABORTED', 'test abort'));
    expect(await ownClosed).toMatchObject({ code: 'ERR_ABORTED' });
    expect(await otherClosed).toBeUndefined(); // DISCONNECTED: a clean end seen from the other side
  });

  deviceIt('the receiver checks §11.2 on raw SENDs: < 3 credits, a short or long completion, and an overrun fail the connection', async () => {
    expect(() => new RdmaTransport({ credits: 2 })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
    const frame = (m: Message): Uint8Array => encodeFrame(m);
    // Each case: frames sent in phases; before the next phase the server must have delivered `wait` frames.
    const cases: { name: string; phases: Uint8Array[][]; wait: number; code: string }[] = [
      { name: 'HELLO with 2 credits', phases: [[frame({ ...hello(false, 4096), credits: 2 } as Message)]], wait: 0, code: 'ERR_FRAME_BAD_FIELD' },
      { name: 'HELLO cut short', phases: [[frame({ ...hello(false, 4096), credits: 8 } as Message).subarray(0, 20)]], wait: 0, code: 'ERR_FRAME_TRUNCATED' },
      { name: 'HELLO + 1 byte', phases: [[Uint8Array.from([...frame({ ...hello(false, 4096), credits: 8 } as Message), 0])]], wait: 0, code: 'ERR_FRAME_BAD_LENGTH' },
      // The server granted 8 credits (its HELLO is never sent here, so it cannot send CREDIT): its
      // first-frame buffer and 8 more take HELLO + 8 frames; once it has reposted them, a 10th
      // frame lands in an unannounced buffer — a frame without a credit.
      {
        name: 'overrun',
        phases: [
          [frame({ ...hello(false, 4096), credits: 8 } as Message), ...Array.from({ length: DEFAULT_CREDITS }, (_, i) => frame({ type: 'REBOUND', hid: i + 1 }))],
          [frame({ type: 'REBOUND', hid: 99 })],
        ],
        wait: 1 + DEFAULT_CREDITS,
        code: 'ERR_TRANSPORT_FAILED',
      },
    ];
    for (const { name, phases, wait, code } of cases) {
      let accepted!: (c: FrameConnection) => void;
      const serverSide = new Promise<FrameConnection>((resolve) => (accepted = resolve));
      const listener = await rdmaTransport.listen(`rdma://${ADDR}:0`, (c) => accepted(c), { maxPayload: 4096 });
      cleanups.push(() => listener.close());
      const { port } = parseAddress(listener.address);
      const raw = await rcConnect(ADDR, port, { recvCount: 16, recvSize: 4096 + 8, sendCount: 16 }, () => ({ onReceive: () => {}, onSendComplete: () => {}, onClose: () => {} }), { timeoutMs: 10_000 });
      cleanups.push(() => raw.destroy());
      const server = await deadline(serverSide, 10_000, 'accept');
      const closed = closeOf(server, 10_000);
      const delivered = wait > 0 ? nextFrames(server, wait, 10_000) : Promise.resolve([]);
      for (const [i, phase] of phases.entries()) {
        if (i > 0) await delivered;
        for (const bytes of phase) {
          const slot = raw.acquireSendSlot(bytes.length) as number;
          raw.sendBuffer(slot).set(bytes);
          raw.postSend(slot, bytes.length);
        }
      }
      const error = await closed;
      expect({ name, code: error?.code }).toEqual({ name, code });
      raw.destroy();
    }
  });

  deviceIt('figures: DATA frames/s and µs per HELLO-sized round trip (printed, not asserted)', async () => {
    const { client, server } = await pair({ maxPayload: 65536 });
    const rounds = 50;
    const start = process.hrtime.bigint();
    for (let i = 0; i < rounds; i++) {
      const got = nextFrames(server, 1);
      client.send({ type: 'REBOUND', hid: i + 1 });
      await got;
      const back = nextFrames(client, 1);
      server.send({ type: 'REBOUND', hid: i + 1 });
      await back;
    }
    const rtt = Number(process.hrtime.bigint() - start) / 1000 / rounds;
    const count = 300;
    const payload = randomBytes(4096);
    const atServer = collectData(server, count * payload.length);
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < count; i++) client.sendData(BigInt(i * payload.length), payload);
    await atServer;
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    console.log(`[rdma frames] control round trip ${rtt.toFixed(0)} µs; 4 KiB DATA: ${(count / seconds).toFixed(0)} frames/s, ${((count * 4096) / 1024 / 1024 / seconds).toFixed(1)} MiB/s`);
    expect(rtt).toBeGreaterThan(0);
  });
});

describe('RdmaTransport without a device (§11.2 "No device")', () => {
  it.skipIf(noDevice === undefined)(`listen and connect reject with NO_DEVICE saying why${noDevice === undefined ? ' — skipped: this machine has an RDMA device' : ''}`, async () => {
    const listening = rdmaTransport.listen('rdma://127.0.0.1:0', () => {});
    await expect(listening).rejects.toBeInstanceOf(RebindError);
    await expect(listening).rejects.toMatchObject({ code: 'ERR_NO_DEVICE', section: '11.2' });
    await expect(rdmaTransport.connect('rdma://127.0.0.1:4791')).rejects.toMatchObject({ code: 'ERR_NO_DEVICE' });
    expect(await rdmaAvailable()).toMatchObject({ ok: false, error: { code: 'ERR_NO_DEVICE' } });
  });

  it('refuses other schemes and bad options before touching any device', async () => {
    await expect(rdmaTransport.connect('tcp://127.0.0.1:80')).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
    await expect(rdmaTransport.listen('rdma://10.0.0.1', () => {})).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
    await expect(rdmaTransport.connect('rdma://10.0.0.1:1', { maxPayload: 10 })).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
    expect(rdmaTransport.name).toBe('rdma');
  });
});
