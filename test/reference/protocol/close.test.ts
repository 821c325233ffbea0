import { describe, expect, it } from 'vitest';
import { Harness, text } from './harness.js';

/** Connection up, some bytes both ways (4 each), optionally a successor forked. */
function ready(fork: boolean): Harness {
  const h = new Harness().establish();
  h.flow('P');
  h.write('O', 'srv0');
  h.write('P', 'cli0');
  h.run();
  if (fork) h.fork('O', 'S');
  return h;
}

const sentBy = (h: Harness, from: string, type: string) => h.sent.filter((s) => s.from === from && s.message.type === type).map((s) => s.message);

/** T1, then what an ordinary close must look like (row O45, §9.7): FIN on C1 at offset 6, no handoff. */
function expectOrdinaryClose(h: Harness): void {
  h.write('O', 'AB');
  h.run();
  h.trigger('O', 'T1');
  h.run();
  expect(h.O.state).toBe('CLOSED');
  expect(sentBy(h, 'O', 'FIN')).toEqual([{ type: 'FIN', offset: 6n }]);
  expect(h.names((s) => s.from === 'O' && ['SUSPEND', 'ORDER', 'REBIND', 'COPY', 'COPIED'].includes(s.message.type))).toEqual([]);
  expect(text(h.delivered.get('P'))).toBe('srv0AB');
  // The peer read the whole stream and its end (FIN): its application sees end of stream.
  expect(h.ended.has('P')).toBe(true);
  expect(h.failCodes('O')).toEqual([]);
  // A write on the closed handle fails with CLOSED (§9.7).
  h.write('O', 'late');
  expect(h.failCodes('O')).toEqual(['CLOSED']);
}

describe('T1 with no successor holding a live handle: an ordinary close (O45, §9.7, F12)', () => {
  it('no successor was ever forked', () => {
    const h = ready(false);
    expect(h.O.successorHolds).toBe(false);
    expectOrdinaryClose(h);
  });

  it('the successor RELEASEd its dormant handle (§5.8)', () => {
    const h = ready(true);
    expect(h.O.successorHolds).toBe(true);
    h.feed('S', { kind: 'app-close' });
    h.run();
    expect(sentBy(h, 'S', 'RELEASE')).toHaveLength(1);
    expect(h.O.successorHolds).toBe(false);
    expectOrdinaryClose(h);
  });

  it('the successor died and L was lost (§9.4)', () => {
    const h = ready(true);
    h.kill('S');
    h.run();
    expect(h.O.state).toBe('OPEN');
    expect(h.O.successorHolds).toBe(false);
    expectOrdinaryClose(h);
  });

  it('with a successor that holds its handle, T1 still starts a handoff (O1)', () => {
    const h = ready(true);
    h.trigger('O', 'T1');
    expect(h.O.state).toBe('SUSPENDING');
    expect(sentBy(h, 'O', 'SUSPEND')).toHaveLength(1);
    expect(sentBy(h, 'O', 'FIN')).toEqual([]);
  });
});
