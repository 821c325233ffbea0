/**
 * One valid message of every type (spec §4 wire, §5 local), for the transport round-trip tests.
 */
import type { Message } from '../../../reference/wire/index.js';

const cid = Uint8Array.from({ length: 16 }, (_, i) => i + 1);
const token = Uint8Array.from({ length: 16 }, (_, i) => 0xf0 ^ i);

/** Wire messages 0x01–0x0D (§4), including both layouts of SUSPEND. */
export const WIRE_SAMPLES: readonly Message[] = [
  { type: 'HELLO', fast: true, acceptor: true, cid, maxPayload: 65536, credits: 0 },
  { type: 'DATA', offset: 12n, data: Uint8Array.of(1, 2, 3) },
  { type: 'FIN', offset: 2n ** 64n - 1n },
  { type: 'SUSPEND', fast: false, hid: 1 },
  { type: 'SUSPEND', fast: true, hid: 3, sendEnd: 100n, token, addr: 'tcp://[::1]:4000' },
  { type: 'SUSPENDED', hid: 1, sendEnd: 7n, recvOffset: 8n },
  { type: 'REBIND', hid: 1, sendEnd: 9n, token, addr: 'tcp://127.0.0.1:4000' },
  { type: 'ATTACH', peerFin: true, cid, hid: 1, token, recvOffset: 1n, sendOffset: 2n, credits: 0 },
  { type: 'ATTACHED', hid: 1, recvOffset: 1n, sendOffset: 2n, credits: 0 },
  { type: 'REBOUND', hid: 1 },
  { type: 'ABORT', hid: 2, code: 0x0402 },
  { type: 'REFUSE', hid: 2, code: 0x0301 },
  { type: 'ERROR', code: 0x0201, reason: 'unexpected — ünïcode' },
  { type: 'CREDIT', credits: 5 },
];

/** Local messages 0x41–0x48 (§5). */
export const LOCAL_SAMPLES: readonly Message[] = [
  { type: 'JOIN', pid: 4242, addr: 'tcp://127.0.0.1:5000' },
  { type: 'NEED', cid, trigger: 3 },
  { type: 'ORDER', fast: false, originFin: true, cid, hid: 1, token, sendEnd: 10n },
  { type: 'COPY', cid, hid: 1, offset: 5n, data: Uint8Array.of(9, 8, 7) },
  { type: 'COPIED', peerFin: false, cid, hid: 1, recvEnd: 8n },
  { type: 'COMMIT', cid, hid: 1 },
  { type: 'REVOKE', cid, hid: 1, code: 0x0407 },
  { type: 'RELEASE', cid },
];
