/**
 * `asSent` (§11.2, §13.1): traces show the credits a binding writes into first frames (RDMA),
 * and messages unchanged where the binding sends them as the engine made them (TCP).
 */
import { describe, expect, it } from 'vitest';
import { asSent } from '../../../reference/transport/transport.js';
import type { Message } from '../../../reference/wire/index.js';

const hello = { type: 'HELLO', fast: false, acceptor: true, cid: new Uint8Array(16), maxPayload: 1 << 20, credits: 0 } as unknown as Message;

describe('asSent', () => {
  it('first frames carry the binding\'s credits when it has them (RDMA)', () => {
    expect(asSent({ firstFrameCredits: 8 }, hello)).toMatchObject({ type: 'HELLO', credits: 8 });
    expect(hello).toMatchObject({ credits: 0 }); // the engine's message is not changed
  });

  it('leaves messages alone on TCP, and never touches CREDIT or frames without credits', () => {
    expect(asSent({}, hello)).toBe(hello);
    const credit = { type: 'CREDIT', credits: 5 } as unknown as Message;
    expect(asSent({ firstFrameCredits: 8 }, credit)).toBe(credit);
    const data = { type: 'DATA', offset: 0n, data: new Uint8Array([1]) } as unknown as Message;
    expect(asSent({ firstFrameCredits: 8 }, data)).toBe(data);
  });
});
