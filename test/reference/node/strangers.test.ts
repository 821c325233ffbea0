/**
 * Strangers at the successor's rebind listener (spec §8.2, §8.3, §14): raw TCP connections made
 * with reference/transport send ATTACH with a wrong token, a replayed token and an unknown cid.
 * Each is refused (REFUSE with TOKEN_INVALID, TOKEN_REPLAYED, UNKNOWN_CONNECTION) and closed,
 * and changes nothing: the real handoff completes and the echo through the successor is
 * byte-exact. The listener's address and the token are what the peer saw in SUSPEND(fast) or
 * REBIND (this process is the peer; its trace hook shows them).
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { ERRORS } from '../../../reference/errors.js';
import { setTraceHook, type RebindServer, type RebindSocket } from '../../../reference/node/index.js';
import { tcpTransport } from '../../../reference/transport/index.js';
import type { Message } from '../../../reference/wire/index.js';
import { deadline, forkFixture, killChildren, openPair, readExactly, sameBytes, streamBytes, writeAll } from './helpers.js';

const servers: RebindServer[] = [];
const sockets: RebindSocket[] = [];
afterEach(async () => {
  setTraceHook(undefined);
  for (const s of sockets.splice(0)) s.destroy();
  for (const s of servers.splice(0)) s.close();
  await killChildren();
});

function bytes(hex: unknown): Uint8Array {
  return Uint8Array.from(Buffer.from(String(hex).replace(/^0x/, ''), 'hex'));
}

/** A stranger's ATTACH on a fresh C2 to `addr`: resolves with what came back and whether C2 was closed. */
async function stranger(addr: string, attach: { cid: Uint8Array; hid: number; token: Uint8Array }): Promise<{ reply: Message[]; closed: boolean }> {
  const c2 = await tcpTransport.connect(addr);
  const reply: Message[] = [];
  c2.on('frame', (m) => reply.push(m));
  const closed = deadline(new Promise<boolean>((resolve) => c2.once('close', () => resolve(true))), 5000, 'the successor to close the stranger\'s C2');
  c2.send({ type: 'ATTACH', peerFin: false, ...attach, recvOffset: 0n, sendOffset: 0n, credits: 0 });
  return { reply, closed: await closed };
}

function refusal(code: keyof typeof ERRORS, hid: number): Message[] {
  return [{ type: 'REFUSE', hid, code: ERRORS[code].code }];
}

for (const fast of [true, false]) {
  describe(fast ? 'fast order: token from SUSPEND(fast)' : 'Fig. 9 order: token from REBIND', () => {
    it('wrong token during the handoff, replayed token and unknown cid after it: REFUSE each; the real handoff completes byte-exact', async () => {
      const { client, origin } = await openPair({ servers, sockets }, { fast });

      // What the peer learns: the successor's address and the token (§4.4, §4.6); and when it commits.
      let seen: { addr: string; token: Uint8Array; hid: number } | undefined;
      let wrongTokenTry: Promise<{ reply: Message[]; closed: boolean }> | undefined;
      const cid = bytes(client.cid);
      setTraceHook((e) => {
        if (e.actor !== 'P' || e.kind !== 'receive') return;
        if ((e.name === 'SUSPEND' && e.fields.fast === true) || e.name === 'REBIND') {
          seen = { addr: String(e.fields.addr), token: bytes(e.fields.token), hid: Number(e.fields.hid) };
        }
        if (e.name === 'ATTACHED' && seen !== undefined) {
          // The successor holds the connection (BOUND) but the origin has not committed yet.
          const wrong = Uint8Array.from(seen.token);
          wrong[0]! ^= 0xff;
          wrongTokenTry = stranger(seen.addr, { cid, hid: seen.hid, token: wrong });
        }
      });

      const data = streamBytes(70, 200_000);
      const echoed = readExactly(client, data.length, 15_000);
      await writeAll(client, data.subarray(0, 50_000));
      const child = await forkFixture('successor', { mode: 'echo' }, { connections: [origin!] }); // T3
      await child.next((m) => m.ready === true);
      await deadline(new Promise((resolve) => origin!.once('rebound', resolve)), 10_000, "'rebound'");
      setTraceHook(undefined);
      await writeAll(client, data.subarray(50_000));
      expect(sameBytes(await echoed, data)).toBe('equal');

      expect(seen).toBeDefined();
      expect(wrongTokenTry).toBeDefined();
      const wrong = await wrongTokenTry!;
      expect(wrong.reply).toEqual(refusal('TOKEN_INVALID', seen!.hid)); // §8.2 step 5
      expect(wrong.closed).toBe(true);

      const replay = await stranger(seen!.addr, { cid, hid: seen!.hid, token: seen!.token });
      expect(replay.reply).toEqual(refusal('TOKEN_REPLAYED', seen!.hid)); // §8.2 step 3
      const unknown = await stranger(seen!.addr, { cid: randomBytes(16), hid: seen!.hid, token: seen!.token });
      expect(unknown.reply).toEqual(refusal('UNKNOWN_CONNECTION', seen!.hid)); // §8.2 step 1
      const guess = await stranger(seen!.addr, { cid, hid: seen!.hid + 2, token: randomBytes(16) });
      expect(guess.reply).toEqual(refusal('TOKEN_INVALID', seen!.hid + 2));

      // None of it changed anything (§8.3): the successor still serves the connection.
      const more = streamBytes(71, 50_000);
      const echoedMore = readExactly(client, more.length, 10_000);
      await writeAll(client, more);
      expect(sameBytes(await echoedMore, more)).toBe('equal');
    }, 30_000);
  });
}
