import { describe, expect, it } from 'vitest';
import { ERRORS } from '../../../reference/errors.js';
import { CID, Harness, text } from './harness.js';

function ready(fast = false): Harness {
  const h = new Harness({ fast }).establish();
  h.flow('P');
  h.write('O', 'srv0');
  h.write('P', 'cli0');
  h.run();
  h.read('O', 2);
  h.fork('O', 'S');
  return h;
}

/** Delivers until quiet, then fires the earliest timer of a live actor, until no timer runs. */
function settle(h: Harness): void {
  for (let i = 0; i < 50; i++) {
    h.run();
    let next: [string, string, number] | undefined;
    for (const [actor, timers] of h.timers) {
      if (h.dead.has(actor)) continue;
      for (const [name, at] of timers) if (next === undefined || at < next[2]) next = [actor, name, at];
    }
    if (next === undefined) return;
    h.fire(next[0], next[1]);
  }
  throw new Error('settle: timers keep running');
}

const sentBy = (h: Harness, from: string, type: string) => h.sent.filter((s) => s.from === from && s.message.type === type).map((s) => s.message);

/** After an abort that resumed on C1: every byte once, the successor's handle dead. */
function expectResumed(h: Harness): void {
  expect(h.O.state).toBe('OPEN');
  expect(h.P.state).toBe('OPEN');
  expect(['REVOKED', 'FAILED']).toContain(h.S.state);
  h.flow('O');
  h.write('P', 'after');
  h.write('O', 'after');
  h.run();
  expect(text(h.delivered.get('O'))).toBe(text(h.written.get('P')));
  expect(text(h.delivered.get('P'))).toBe(text(h.written.get('O')));
  expect(h.delivered.get('S')).toBeUndefined();
}

describe('timeouts (§9.1, §9.2)', () => {
  for (const fast of [false, true]) {
    const order = fast ? 'fast' : 'fig9';
    it(`SUSPEND timer: ABORT(TIMEOUT), the peer answers, resume on C1 with all bytes (${order})`, () => {
      const h = ready(fast);
      h.flow('S');
      h.deliver('S', 'O'); // SUSPEND sent, not delivered yet
      h.write('P', 'in-flight');
      h.fire('O', 'SUSPEND');
      expect(h.O.state).toBe('ABORTING');
      expect(sentBy(h, 'O', 'ABORT')).toEqual([{ type: 'ABORT', hid: 1, code: ERRORS.TIMEOUT.code }]);
      settle(h);
      expect(sentBy(h, 'O', 'REVOKE')).toEqual([{ type: 'REVOKE', cid: CID, hid: 1, code: ERRORS.ABORTED.code }]);
      // Fig. 9: REVOKE ends the successor's part; fast: it may have attached, and the closed C2 fails it first.
      expect(h.failCodes('S')).toEqual([fast ? 'TRANSPORT_FAILED' : 'REVOKED']);
      expectResumed(h);
    });
  }

  it('REBOUND timer: ABORT(TIMEOUT) crosses REBIND; the peer aborts; resume (fig9)', () => {
    const h = ready();
    h.flow('S');
    h.deliver('S', 'O');
    h.deliver('O', 'P'); // SUSPEND → SUSPENDED
    h.deliver('P', 'O'); // SUSPENDED → copy, ORDER, REBIND
    expect(h.O.state).toBe('AWAIT_REBOUND');
    h.fire('O', 'REBOUND');
    settle(h);
    expectResumed(h);
  });

  it('ABORT timer: the peer never answers; REVOKE(TIMEOUT), ERROR(TIMEOUT), fail TIMEOUT; the peer fails PEER_LOST', () => {
    const h = ready();
    h.flow('S');
    h.deliver('S', 'O');
    h.fire('O', 'SUSPEND');
    h.fire('O', 'ABORT');
    expect(h.O.state).toBe('FAILED');
    expect(h.failCodes('O')).toEqual(['TIMEOUT']);
    settle(h);
    expect(h.failCodes('S')).toEqual(['REVOKED']);
    expect(h.failCodes('P')).toEqual(['PEER_LOST']);
  });

  it('REBIND timer at the peer: ABORT(TIMEOUT), resume; the late REBIND is ignored (P8, P23)', () => {
    const h = ready();
    h.flow('S');
    h.deliver('S', 'O');
    h.deliver('O', 'P'); // SUSPENDED in flight
    h.fire('P', 'REBIND');
    expect(h.P.state).toBe('OPEN');
    settle(h);
    expectResumed(h);
  });

  it('ATTACH timer at the peer: ABORT(TIMEOUT), close C2, resume (P15)', () => {
    const h = ready(true);
    h.flow('S');
    h.deliver('S', 'O');
    h.deliver('O', 'S');
    h.deliver('O', 'P'); // SUSPEND(fast) → SUSPENDED, connect, ATTACH
    h.fire('P', 'ATTACH');
    expect(sentBy(h, 'P', 'ABORT')).toEqual([{ type: 'ABORT', hid: 1, code: ERRORS.TIMEOUT.code }]);
    settle(h);
    expectResumed(h);
  });

  it('ARMED timer at the successor: fail TIMEOUT (S26)', () => {
    const h = ready();
    h.stopAndWaitUntilArmed(); // NEED, SUSPEND, SUSPENDED, COPY, COPIED, ORDER
    expect(h.S.state).toBe('READY');
    h.fire('S', 'ARMED');
    expect(h.S.state).toBe('FAILED');
    expect(h.failCodes('S')).toEqual(['TIMEOUT']);
  });

  it('COPY and COMMIT timers at the successor: ERROR(TIMEOUT) on C2, fail TIMEOUT (S27, S28)', () => {
    for (const [timer, state] of [['COPY', 'ATTACHED_COPYING'], ['COMMIT', 'BOUND']] as const) {
      const h = ready(true);
      h.flow('S');
      h.deliver('S', 'O');
      h.deliver('O', 'S'); // ORDER(fast)
      h.deliver('O', 'P'); // SUSPEND → SUSPENDED, ATTACH
      h.deliver('P', 'S'); // ATTACH before the copy
      if (state === 'BOUND') {
        h.deliver('P', 'O'); // SUSPENDED → copy
        h.deliver('O', 'S');
        h.deliver('O', 'S');
      }
      expect(h.S.state).toBe(state);
      h.fire('S', timer);
      expect(h.S.state).toBe('FAILED');
      expect(h.failCodes('S')).toEqual(['TIMEOUT']);
      expect(sentBy(h, 'S', 'ERROR')).toMatchObject([{ code: ERRORS.TIMEOUT.code }]);
    }
  });

  it('NEED timer (X3): no ORDER after NEED → fail TIMEOUT', () => {
    const h = ready();
    h.flow('S');
    h.fire('S', 'NEED');
    expect(h.S.state).toBe('FAILED');
    expect(h.failCodes('S')).toEqual(['TIMEOUT']);
  });
});

describe('REFUSE → abort → resume (§8.3, §9.2)', () => {
  it('an early ATTACH held past the hold time is refused; the peer aborts; the origin revokes and resumes', () => {
    const h = ready();
    h.flow('S');
    h.deliver('S', 'O');
    h.deliver('O', 'P');
    h.deliver('P', 'O'); // copy, ORDER (on L, held back), REBIND
    h.deliver('O', 'P'); // REBIND → ATTACH
    h.deliver('P', 'S'); // ATTACH before ORDER: held (X2)
    h.fire('S', 'HOLD');
    expect(sentBy(h, 'S', 'REFUSE')).toEqual([{ type: 'REFUSE', hid: 1, code: ERRORS.TOKEN_INVALID.code }]);
    h.run();
    expect(sentBy(h, 'P', 'ABORT')).toEqual([{ type: 'ABORT', hid: 1, code: ERRORS.REFUSE.code }]);
    expect(h.S.state).toBe('REVOKED');
    expectResumed(h);
  });

  it('a broken copy disarms the order and the ATTACH is refused with STREAM_GAP (X5)', () => {
    const h = ready();
    h.flow('S');
    h.deliver('S', 'O');
    h.deliver('O', 'P');
    h.deliver('P', 'O');
    // A COPY out of sequence reaches the successor before the origin's own copy.
    h.feed('S', { kind: 'recv', channel: 'L', message: { type: 'COPY', cid: CID, hid: 1, offset: 0n, data: new Uint8Array([1]) } });
    h.run();
    expect(sentBy(h, 'S', 'REFUSE')).toEqual([{ type: 'REFUSE', hid: 1, code: ERRORS.STREAM_GAP.code }]);
    expectResumed(h);
  });

  it('a peer that did not offer fast answers SUSPEND(fast) with ABORT(CAPABILITY); the origin resumes and later uses fig9 (§6.1)', () => {
    const h = new Harness({ fast: true, peerOffersFast: false }).establish();
    h.flow('P');
    h.write('P', 'cli0');
    h.run();
    h.fork('O', 'S');
    h.flow('S');
    h.run();
    expect(sentBy(h, 'P', 'ABORT')).toEqual([{ type: 'ABORT', hid: 1, code: ERRORS.CAPABILITY.code }]);
    expect(h.O.state).toBe('OPEN');
    expect(h.S.state).toBe('REVOKED');
    // A new successor: the origin now uses the stop-and-wait order with hid 3.
    h.fork('O', 'S2');
    h.flow('S2');
    h.run();
    expect(sentBy(h, 'O', 'SUSPEND').at(-1)).toEqual({ type: 'SUSPEND', fast: false, hid: 3 });
    expect(h.engines.get('S2')!.state).toBe('OWNER/OPEN');
    expect(text(h.delivered.get('S2'))).toBe('cli0');
  });
});

describe('death and cuts at each step (§9.3–§9.6)', () => {
  const scenarios: Array<{ fast: boolean; victim: string }> = [];
  for (const fast of [false, true]) for (const victim of ['O', 'S', 'P', 'cutC1', 'cutC2']) scenarios.push({ fast, victim });

  for (const { fast, victim } of scenarios) {
    it(`${victim} at every step of the ${fast ? 'fast' : 'fig9'} order: completion or typed failure, never a lost or doubled byte`, () => {
      for (let k = 0; k < 24; k++) {
        const h = ready(fast);
        h.flow('S');
        h.write('P', 'p1');
        // k deliveries in global FIFO order, then the failure.
        for (let i = 0; i < k && h.step(); i++);
        if (victim === 'cutC1') h.cut('O', 'C1');
        else if (victim === 'cutC2') h.cut('P', 'C2');
        else h.kill(victim);
        settle(h);
        for (const actor of ['O', 'S', 'P']) {
          if (h.dead.has(actor)) continue;
          const engine = h.engines.get(actor)!;
          const fails = h.failCodes(actor);
          // Typed failure, or a live state that waits for nothing.
          expect(h.timers.get(actor)?.size ?? 0, `${actor} k=${k}`).toBe(0);
          if (fails.length === 0) expect(['OPEN', 'REBOUND', 'LEFT', 'DORMANT', 'RELEASED', 'READY_ALONE'].some((s) => engine.state.endsWith(s)), `${actor} in ${engine.state} k=${k}`).toBe(true);
        }
        // Whatever was delivered is a prefix of what was written: nothing doubled or reordered.
        const serverSide = text(h.delivered.get('O')) + text(h.delivered.get('S'));
        expect(text(h.written.get('P')).startsWith(serverSide), `k=${k}: ${serverSide}`).toBe(true);
        expect((text(h.written.get('O')) + text(h.written.get('S'))).startsWith(text(h.delivered.get('P')))).toBe(true);
        // If the connection survived on both ends, it is complete.
        const owner = h.O.state === 'OPEN' ? 'O' : h.S.state === 'OWNER/OPEN' ? 'S' : undefined;
        if (owner !== undefined && h.P.state === 'OPEN' && !h.dead.has(owner) && h.failCodes('P').length === 0 && h.failCodes(owner).length === 0) {
          h.flow(owner);
          h.run();
          expect(text(h.delivered.get('O')) + text(h.delivered.get('S')), `k=${k}`).toBe(text(h.written.get('P')));
        }
      }
    });
  }
});

