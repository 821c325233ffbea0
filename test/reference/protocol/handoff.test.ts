import { describe, expect, it } from 'vitest';
import { ERRORS } from '../../../reference/errors.js';
import type { AttachMessage } from '../../../reference/wire/messages.js';
import { CID, Harness, TOKEN1, text } from './harness.js';

/** Connection up, some bytes both ways, a successor forked. */
function ready(fast = false, opts: ConstructorParameters<typeof Harness>[0] = {}): Harness {
  const h = new Harness({ fast, ...opts }).establish();
  h.flow('P');
  h.write('O', 'srv0');
  h.write('P', 'cli0');
  h.run();
  h.fork('O', 'S');
  return h;
}

/** What each direction delivered, exactly once and in order. */
function expectExactlyOnce(h: Harness): void {
  expect(text(h.delivered.get('O')) + text(h.delivered.get('S'))).toBe(text(h.written.get('P')));
  expect(text(h.delivered.get('P'))).toBe(text(h.written.get('O')) + text(h.written.get('S')));
}

const sentBy = (h: Harness, from: string, type: string) => h.sent.filter((s) => s.from === from && s.message.type === type).map((s) => s.message);

describe('triggers (§2.4)', () => {
  for (const fast of [false, true]) {
    const order = fast ? 'fast' : 'fig9';
    it(`T1: the origin's application closes → handoff, appHolds false (${order})`, () => {
      const h = ready(fast);
      h.feed('O', { kind: 'app-close' });
      h.flow('S');
      h.run();
      expect(h.O.state).toBe('REBOUND');
      expect(h.S.state).toBe('OWNER/OPEN');
      expect(text(h.delivered.get('S'))).toBe('cli0');
    });

    it(`T2: the origin exits → handoff (${order})`, () => {
      const h = ready(fast);
      h.trigger('O', 'T2');
      h.run();
      expect(h.O.state).toBe('REBOUND');
      h.flow('S');
      expect(text(h.delivered.get('S'))).toBe('cli0');
    });

    it(`T4: the successor writes; NEED(4); its bytes go on C2 after ATTACHED from Xo (${order})`, () => {
      const h = ready(fast);
      h.write('S', 'from-S');
      expect(sentBy(h, 'S', 'NEED')).toEqual([{ type: 'NEED', cid: CID, trigger: 4 }]);
      h.run();
      const data = h.sent.filter((s) => s.from === 'S' && s.message.type === 'DATA').map((s) => s.message);
      expect(data).toEqual([{ type: 'DATA', offset: 4n, data: new TextEncoder().encode('from-S') }]);
      expect(text(h.delivered.get('P'))).toBe('srv0from-S');
      expect(h.S.state).toBe('OWNER/OPEN');
    });
  }

  it('T1 without a successor is an ordinary close (FIN, close C1)', () => {
    const h = new Harness().establish();
    h.flow('P');
    h.feed('O', { kind: 'app-close' });
    h.run();
    expect(sentBy(h, 'O', 'FIN')).toEqual([{ type: 'FIN', offset: 0n }]);
    expect(h.ended.has('P')).toBe(true);
  });

  it('NEED at an origin with no addr is answered with REVOKE (X12)', () => {
    const h = new Harness().establish();
    const effects = h.feed('O', { kind: 'recv', channel: 'L', message: { type: 'NEED', cid: CID, trigger: 3 } });
    expect(effects).toContainEqual({ kind: 'send', channel: 'L', message: { type: 'REVOKE', cid: CID, hid: 1, code: ERRORS.REVOKED.code } });
  });
});

describe('laziness and the rebound state (§2.3, §6.6)', () => {
  it('a fork with no trigger sends nothing on C1; data keeps flowing on C1', () => {
    const h = ready();
    const before = h.sent.length;
    h.write('P', 'more');
    h.write('O', 'more');
    h.run();
    expect(h.sent.slice(before).map((s) => `${s.from}>${s.to} ${s.message.type}`)).toEqual(['P>O DATA', 'O>P DATA']);
    expect(h.S.state).toBe('DORMANT');
  });

  it('a second trigger during the handoff and after the commit starts nothing', () => {
    const h = ready();
    h.flow('S');
    h.deliver('S', 'O');
    h.trigger('O', 'T1');
    h.trigger('S', 'T3');
    h.run();
    expect(h.O.pendingTrigger).toBe(true);
    h.trigger('O', 'T1');
    // A NEED of the successor it moved to crossed the handoff: ignored (O38).
    h.feed('O', { kind: 'recv', channel: 'L', message: { type: 'NEED', cid: CID, trigger: 3 } });
    expect(h.names((s) => s.message.type === 'SUSPEND')).toEqual(['SUSPEND']);
    expect(h.names((s) => s.message.type === 'NEED')).toEqual(['NEED']);
    expect(sentBy(h, 'O', 'REVOKE')).toEqual([]);
    // A NEED of another (stale) holder is answered with REVOKE(REVOKED, committed hid) (O43, §6.6).
    const fx = h.O.handle({ kind: 'recv', channel: 'L', link: 'other', message: { type: 'NEED', cid: CID, trigger: 3 } });
    expect(fx.filter((e) => e.kind === 'send')).toEqual([{ kind: 'send', channel: 'L', link: 'other', message: { type: 'REVOKE', cid: CID, hid: 1, code: ERRORS.REVOKED.code } }]);
  });
});

describe('bytes in flight during the handoff (§6.4–§6.7)', () => {
  for (const fast of [false, true]) {
    const order = fast ? 'fast' : 'fig9';
    it(`the peer writes continuously; the origin writes until it stops; every byte once (${order})`, () => {
      const h = ready(fast, { maxPayload: 3 });
      h.read('O', 2); // R < received: unread bytes go in the copy
      h.flow('S');
      let i = 0;
      while (h.sent.length < 400 && (h.O.state !== 'REBOUND' || i < 200)) {
        h.write('P', `p${i}.`);
        if (h.O.state === 'OPEN' || h.O.state === 'SUSPENDING') h.write('O', `o${i}.`);
        h.deliver(['S', 'O', 'P', 'O', 'S', 'P'][i % 6]!, ['O', 'P', 'O', 'S', 'P', 'S'][i % 6]!);
        i++;
        if (i > 300) break;
      }
      h.run();
      expect(h.O.state).toBe('REBOUND');
      expect(h.failCodes('O')).toEqual([]);
      h.write('S', 'tail');
      h.run();
      expectExactlyOnce(h);
      // COPY frames are at most maxPayload bytes and contiguous from R = 2.
      const copies = sentBy(h, 'O', 'COPY') as Array<{ offset: bigint; data: Uint8Array }>;
      expect(copies[0]!.offset).toBe(2n);
      for (const c of copies) expect(c.data.length).toBeLessThanOrEqual(3);
    });
  }

  it('the origin may keep sending in SUSPENDING (fig9) and the peer receives it while SUSPENDED (P6)', () => {
    const h = ready();
    h.flow('S');
    h.deliver('S', 'O'); // SUSPEND out
    h.write('O', 'late'); // still allowed before REBIND
    h.deliver('O', 'P'); // SUSPEND → SUSPENDED
    expect(h.P.state).toBe('SUSPENDED');
    h.deliver('O', 'P'); // DATA in SUSPENDED
    h.run();
    expect(sentBy(h, 'O', 'REBIND')).toMatchObject([{ sendEnd: 8n }]);
    expectExactlyOnce(h);
  });

  it('held writes of the peer go on C2 from Yp after ATTACHED; a held shutdown follows (§9.7)', () => {
    const h = ready(true);
    h.flow('S');
    h.deliver('S', 'O');
    h.deliver('O', 'S');
    h.deliver('O', 'P'); // SUSPEND(fast): the peer stops
    h.write('P', 'held');
    h.feed('P', { kind: 'app-shutdown' });
    expect(sentBy(h, 'P', 'DATA')).toHaveLength(1);
    h.run();
    expect(h.sent.filter((s) => s.from === 'P' && s.channel === 'C1' && s.to === 'S').map((s) => s.message.type)).toEqual(['DATA', 'FIN']);
    expect(h.ended.has('S')).toBe(true);
    expectExactlyOnce(h);
  });

  it("the origin's FIN before the handoff: ORDER.originFin, the successor may not write (§9.7)", () => {
    const h = ready();
    h.feed('O', { kind: 'app-shutdown' });
    h.flow('S');
    h.run();
    expect(sentBy(h, 'O', 'ORDER')).toMatchObject([{ originFin: true, sendEnd: 4n }]);
    h.write('S', 'x');
    expect(h.failCodes('S')).toContain('CLOSED');
  });

  it("the peer's FIN before SUSPENDED: COPIED.peerFin = ATTACH.peerFin; the successor reads the copy then end", () => {
    const h = ready();
    h.feed('P', { kind: 'app-shutdown' });
    h.flow('S');
    h.run();
    expect(sentBy(h, 'O', 'COPIED')).toMatchObject([{ peerFin: true, recvEnd: 4n }]);
    expect(sentBy(h, 'P', 'ATTACH')).toMatchObject([{ peerFin: true, sendOffset: 4n }]);
    expect(text(h.delivered.get('S'))).toBe('cli0');
    expect(h.ended.has('S')).toBe(true);
  });
});

describe('chained handoff (§10.1)', () => {
  it('the successor becomes the origin and hands off again with hid 3', () => {
    const h = ready();
    h.flow('S');
    h.run();
    expect(h.S.state).toBe('OWNER/OPEN');
    h.write('S', 'S-data');
    h.write('P', 'to-S');
    h.run();
    // S forks S2; S's origin engine learns the address from JOIN.
    h.fork('S', 'S2');
    h.flow('S2');
    h.run();
    expect(h.S.state).toBe('OWNER/REBOUND');
    expect(h.engines.get('S2')!.state).toBe('OWNER/OPEN');
    expect(h.sent.filter((s) => s.message.type === 'SUSPEND').map((s) => [s.from, (s.message as { hid: number }).hid])).toEqual([['O', 1], ['S', 3]]);
    h.write('P', 'final');
    h.write('S2', 'bye');
    h.run();
    expect(text(h.delivered.get('O')) + text(h.delivered.get('S')) + text(h.delivered.get('S2'))).toBe(text(h.written.get('P')));
    expect(text(h.delivered.get('P'))).toBe(text(h.written.get('O')) + text(h.written.get('S')) + text(h.written.get('S2')));
  });
});

describe('authentication (§8)', () => {
  const attach = (over: Partial<AttachMessage> = {}): AttachMessage => ({ type: 'ATTACH', peerFin: false, cid: CID, hid: 1, token: new Uint8Array(16).fill(7), recvOffset: 4n, sendOffset: 4n, credits: 0, ...over });

  it("a stranger's wrong token is refused (TOKEN_INVALID) and the real handoff completes", () => {
    const h = ready();
    h.flow('S');
    h.deliver('S', 'O'); // SUSPEND
    h.deliver('O', 'P'); // SUSPENDED
    h.deliver('P', 'O'); // copy, ORDER, REBIND
    h.deliver('O', 'S'); // COPY
    h.deliver('O', 'S'); // COPIED
    h.deliver('O', 'S'); // ORDER
    expect(h.S.state).toBe('READY');
    h.stranger('S', attach());
    h.deliver('X', 'S');
    expect(h.S.state).toBe('READY');
    expect(h.sent.filter((s) => s.to === 'X').map((s) => s.message)).toEqual([{ type: 'REFUSE', hid: 1, code: ERRORS.TOKEN_INVALID.code }]);
    expect(h.hasTimer('S', 'ARMED')).toBe(true);
    h.run();
    expect(h.S.state).toBe('OWNER/OPEN');
    expect(h.failCodes('S')).toEqual([]);
  });

  it('a replayed token after the commit is refused with TOKEN_REPLAYED; the connection is unaffected', () => {
    const h = ready();
    h.flow('S');
    h.run();
    h.stranger('S', attach({ token: TOKEN1 }));
    h.run();
    // The owner's listener refuses the replay (S12 from OWNER); the connection is unaffected.
    expect(h.sent.filter((s) => s.to === 'X').map((s) => s.message)).toEqual([{ type: 'REFUSE', hid: 1, code: ERRORS.TOKEN_REPLAYED.code }]);
    h.write('P', 'still');
    h.run();
    expectExactlyOnce(h);
  });

  it('a replayed token before COMMIT is refused with TOKEN_REPLAYED', () => {
    const h = ready();
    h.stopAndWaitUntilArmed(); // NEED, SUSPEND, SUSPENDED, COPY, COPIED, ORDER
    h.deliver('O', 'P'); // REBIND → ATTACH
    h.deliver('P', 'S'); // ATTACH consumed
    expect(h.S.state).toBe('BOUND');
    h.stranger('S', attach({ token: TOKEN1 }));
    h.deliver('X', 'S');
    expect(h.sent.filter((s) => s.to === 'X').map((s) => s.message)).toEqual([{ type: 'REFUSE', hid: 1, code: ERRORS.TOKEN_REPLAYED.code }]);
    h.run();
    expect(h.S.state).toBe('OWNER/OPEN');
  });

  it('an ATTACH for another cid is UNKNOWN_CONNECTION; a second early ATTACH is TOKEN_INVALID; a held one is refused after the hold time', () => {
    const h = ready();
    h.stranger('S', attach({ cid: new Uint8Array(16).fill(1) }));
    h.deliver('X', 'S');
    h.stranger('S', attach(), 'Y');
    h.deliver('Y', 'S'); // held (X2): no ORDER yet
    h.stranger('S', attach(), 'Z');
    h.deliver('Z', 'S');
    expect(h.sent.filter((s) => s.message.type === 'REFUSE').map((s) => [s.to, s.message])).toEqual([
      ['X', { type: 'REFUSE', hid: 1, code: ERRORS.UNKNOWN_CONNECTION.code }],
      ['Z', { type: 'REFUSE', hid: 1, code: ERRORS.TOKEN_INVALID.code }],
    ]);
    h.fire('S', 'HOLD');
    expect(h.sent.filter((s) => s.to === 'Y').map((s) => s.message)).toEqual([{ type: 'REFUSE', hid: 1, code: ERRORS.TOKEN_INVALID.code }]);
    expect(h.S.state).toBe('DORMANT');
  });

  it('an ATTACH after the handoff was revoked is TOKEN_EXPIRED (X7)', () => {
    const h = ready();
    h.flow('S');
    h.deliver('S', 'O');
    h.deliver('O', 'P');
    h.deliver('P', 'O');
    h.deliver('O', 'S');
    h.deliver('O', 'S');
    h.deliver('O', 'S'); // READY
    h.feed('S', { kind: 'recv', channel: 'L', message: { type: 'REVOKE', cid: CID, hid: 1, code: ERRORS.ABORTED.code } });
    expect(h.S.state).toBe('REVOKED');
    expect(h.failCodes('S')).toEqual(['REVOKED']);
    h.stranger('S', attach({ token: TOKEN1 }));
    h.deliver('X', 'S');
    expect(h.sent.filter((s) => s.to === 'X').map((s) => s.message)).toEqual([{ type: 'REFUSE', hid: 1, code: ERRORS.TOKEN_EXPIRED.code }]);
  });
});
