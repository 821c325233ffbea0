/**
 * Exactly-once under load (spec §6.4, §6.5, §6.7): the nodejs/node#8353 scenario, where a parent
 * and its forked child both use one socket. The peer writes 4 MiB without pause while the parent
 * reads and writes as fast as it can; the child then starts writing its own 4 MiB (T4) and
 * reading. The handoff happens in the middle of all this. Checked end to end: what the parent
 * read followed by what the child read is exactly the peer's stream; what the peer read is
 * exactly the parent's completed writes followed by the child's stream. In the fast order (§6.3)
 * and in Fig. 9's (§6.2, `fast: false` at the client).
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { RebindServer, RebindSocket } from '../../../reference/node/index.js';
import { deadline, forkFixture, killChildren, openPair, readAll, sameBytes, sha256, sleep, streamBytes } from './helpers.js';

const servers: RebindServer[] = [];
const sockets: RebindSocket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const s of servers.splice(0)) s.close();
  await killChildren();
});

const MIB = 1 << 20;

/**
 * Opens once the child is there. Until then each writer stops after its first 512 KiB (a fork
 * takes a while, and on loopback 4 MiB would be gone before it), so that the rest of each stream
 * is written while the handoff runs: it starts as soon as the child writes (T4).
 */
interface Gate {
  open: boolean;
}

/** Waits while the gate is closed and `written` is past the first 512 KiB. */
async function pace(gate: Gate, written: number): Promise<void> {
  while (!gate.open && written >= 512 * 1024) await sleep(5);
}

/** The peer writes `data` with backpressure, paced by `gate`, then ends. */
async function peerWrites(socket: RebindSocket, data: Buffer, gate: Gate, piece = 16 * 1024): Promise<void> {
  for (let at = 0; at < data.length; at += piece) {
    const ok = socket.write(data.subarray(at, at + piece));
    if (!ok) await deadline(new Promise((resolve) => socket.once('drain', resolve)), 20_000, "the peer's 'drain'");
    await pace(gate, at);
  }
  socket.end();
}

/** The parent writes stream `data` until its handle is rebound; resolves with the bytes whose write completed. */
function writeUntilRebound(socket: RebindSocket, data: Buffer, gate: Gate, piece = 16 * 1024): Promise<{ completed: number; errors: string[] }> {
  return new Promise((resolve) => {
    let completed = 0;
    let at = 0;
    let pending = 0;
    let stopped = false;
    const errors: string[] = [];
    const finish = (): void => {
      if (stopped && pending === 0) resolve({ completed, errors });
    };
    const stop = (): void => {
      stopped = true;
      finish();
    };
    socket.once('rebound', stop);
    socket.once('close', stop);
    socket.on('error', (e: Error & { code?: string }) => {
      errors.push(e.code ?? e.message);
      stop();
    });
    const pump = (): void => {
      while (!stopped && at < data.length) {
        if (!gate.open && at >= 512 * 1024) {
          void pace(gate, at).then(pump);
          return;
        }
        const part = data.subarray(at, at + piece);
        at += part.length;
        pending += 1;
        const ok = socket.write(part, (error) => {
          pending -= 1;
          if (error === null || error === undefined) {
            if (errors.length > 0 || socket.isRebound) errors.push(`a write completed after the handle failed (${completed})`);
            completed += part.length;
          }
          finish();
        });
        if (!ok) {
          socket.once('drain', pump);
          return;
        }
      }
      if (at >= data.length) stop();
    };
    pump();
  });
}

for (const fast of [true, false]) {
  describe(fast ? 'fast order (§6.3)' : 'Fig. 9 order (§6.2)', () => {
    it('4 MiB each way while both processes use the socket: every byte once, in order (nodejs/node#8353)', async () => {
      // allowHalfOpen: the child goes on writing after the peer's FIN (the successor's socket inherits it).
      const { client, origin } = await openPair({ servers, sockets }, { fast, allowHalfOpen: true });

      const fromPeer = streamBytes(21, 4 * MIB);
      const fromParent = streamBytes(22, 4 * MIB);
      const childSends = 4 * MIB;
      const fromChild = streamBytes(23, childSends);

      // The peer writes without pause (once the child is there) and reads everything.
      const gate: Gate = { open: false };
      const peerRead = readAll(client, 30_000);
      const peerWrote = peerWrites(client, fromPeer, gate);

      // The parent reads and writes as fast as it can.
      const parentChunks: Buffer[] = [];
      let parentRead = 0;
      origin!.on('data', (chunk: Buffer) => {
        parentChunks.push(chunk);
        parentRead += chunk.length;
      });
      const parentWrote = writeUntilRebound(origin!, fromParent, gate);

      // Once traffic flows both ways, the child comes and writes at once (T4) while reading.
      await deadline(
        new Promise<void>((resolve) => {
          const poll = (): void => (parentRead >= 512 * 1024 ? resolve() : void setTimeout(poll, 2));
          poll();
        }),
        10_000,
        'the parent to read 512 KiB',
      );
      const child = await forkFixture('successor', { mode: 'stream', sendSeed: 23, sendBytes: childSends }, { connections: [origin!] });
      await child.next((m) => m.ready === true);
      // Open the gate when the handoff starts (the child's first write, T4, made the origin suspend).
      await deadline(
        new Promise<void>((resolve) => {
          const poll = (): void => (origin!.protocolState !== 'OPEN' ? resolve() : void setTimeout(poll, 1));
          poll();
        }),
        10_000,
        'the handoff to start',
      );
      gate.open = true;

      const { completed, errors } = await deadline(parentWrote, 20_000, "the parent's writes to stop");
      await deadline(peerWrote, 30_000, "the peer's writes");
      const { result } = await child.next<{ result: { length: number; sha256: string } }>((m) => m.result !== undefined, 30_000);
      const received = await peerRead;

      // The peer's stream: the parent's part, then the child's part, nothing lost or doubled.
      const parentPart = Buffer.concat(parentChunks);
      expect(sameBytes(parentPart, fromPeer.subarray(0, parentPart.length))).toBe('equal');
      expect(parentPart.length + result.length).toBe(fromPeer.length);
      expect(result.sha256).toBe(sha256(fromPeer.subarray(parentPart.length)));

      // The other direction: the parent's completed writes, then the child's stream.
      expect(errors.filter((e) => e !== 'ERR_REBOUND')).toEqual([]); // only held writes may fail, with ERR_REBOUND (§6.4)
      expect(completed).toBeGreaterThan(0);
      expect(received.length).toBe(completed + childSends);
      expect(sameBytes(received.subarray(0, completed), fromParent.subarray(0, completed))).toBe('equal');
      expect(sameBytes(received.subarray(completed), fromChild)).toBe('equal');

      expect(origin!.isRebound).toBe(true);
    }, 60_000);
  });
}
