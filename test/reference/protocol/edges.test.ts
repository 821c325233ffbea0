import { describe, expect, it } from 'vitest';
import { ERRORS } from '../../../reference/errors.js';
import { transitionsFor } from '../../../reference/tables.js';
import { CID, Harness, text } from './harness.js';

function ready(fast = false): Harness {
  const h = new Harness({ fast }).establish();
  h.flow('P');
  h.write('O', 'srv0');
  h.write('P', 'cli0');
  h.run();
  h.fork('O', 'S');
  return h;
}

const sentBy = (h: Harness, from: string, type: string) => h.sent.filter((s) => s.from === from && s.message.type === type).map((s) => s.message);

/** Fast order up to ATTACHED_COPYING: ORDER and ATTACH at the successor, no copy yet. */
function attachedCopying(): Harness {
  const h = ready(true);
  h.flow('S');
  h.deliver('S', 'O');
  h.deliver('O', 'S'); // ORDER
  h.deliver('O', 'P'); // SUSPEND → SUSPENDED, ATTACH
  h.deliver('P', 'S'); // ATTACH
  expect(h.S.state).toBe('ATTACHED_COPYING');
  return h;
}

describe('edges of the successor (§6.4, §7.5, §9.8)', () => {
  it('REVOKE(COLLISION) sends it back to waiting with its handle (X4)', () => {
    const h = ready();
    h.flow('S');
    h.feed('S', { kind: 'recv', channel: 'L', message: { type: 'REVOKE', cid: CID, hid: 1, code: ERRORS.COLLISION.code } });
    expect(h.S.state).toBe('NEEDED');
  });

  it('COPIED after ATTACHED with another recvEnd: ERROR(STREAM_GAP) on C2, fail STREAM_GAP', () => {
    const h = attachedCopying();
    h.feed('S', { kind: 'recv', channel: 'L', message: { type: 'COPIED', peerFin: false, cid: CID, hid: 1, recvEnd: 99n } });
    expect(h.S.state).toBe('FAILED');
    expect(h.failCodes('S')).toEqual(['STREAM_GAP']);
    expect(sentBy(h, 'S', 'ERROR')).toMatchObject([{ code: ERRORS.STREAM_GAP.code }]);
  });

  it('a C2 DATA out of sequence after ATTACHED: ERROR(OFFSET_MISMATCH), fail', () => {
    const h = attachedCopying();
    const link = 'P#1';
    h.feed('S', { kind: 'recv', channel: 'C2', link, message: { type: 'DATA', offset: 1000n, data: new Uint8Array([1]) } });
    expect(h.failCodes('S')).toEqual(['OFFSET_MISMATCH']);
  });

  it('ERROR from the peer on the attached C2 fails the successor (S34, §4.12); a second ATTACH there is unexpected', () => {
    const h = attachedCopying();
    h.feed('S', { kind: 'recv', channel: 'C2', link: 'P#1', message: { type: 'ERROR', code: ERRORS.TIMEOUT.code, reason: '' } });
    // Whatever the table's row for it says (S34), else X11 (as lost C2, S25): TRANSPORT_FAILED.
    const row = transitionsFor('successor', 'ATTACHED_COPYING', 'recv ERROR')[0] ?? transitionsFor('successor', 'ATTACHED_COPYING', 'lost C2')[0]!;
    const failAction = row.do.find((a) => a.startsWith('fail '))!;
    expect(h.failCodes('S')).toEqual([failAction.slice(5)]);
    expect(h.S.state).toBe(row.to);
    const g = attachedCopying();
    const attach = g.sent.find((s) => s.message.type === 'ATTACH')!.message;
    g.feed('S', { kind: 'recv', channel: 'C2', link: 'P#1', message: attach });
    expect(g.failCodes('S')).toEqual(['UNEXPECTED_MESSAGE']);
  });

  it('lost L in ATTACHED_COPYING: ERROR(ORIGIN_LOST) on C2, fail (S23); lost C2 of a held ATTACH drops it', () => {
    const h = attachedCopying();
    h.feed('S', { kind: 'lost', channel: 'L' });
    expect(h.failCodes('S')).toEqual(['ORIGIN_LOST']);
    const g = ready();
    g.stranger('S', { type: 'ATTACH', peerFin: false, cid: CID, hid: 1, token: new Uint8Array(16), recvOffset: 4n, sendOffset: 4n, credits: 0 });
    g.deliver('X', 'S');
    expect(g.hasTimer('S', 'HOLD')).toBe(true);
    g.feed('S', { kind: 'lost', channel: 'C2', link: 'X#1' });
    expect(g.hasTimer('S', 'HOLD')).toBe(false);
  });

  it('an early ATTACH still held when the handoff is revoked is refused with TOKEN_EXPIRED', () => {
    const g = ready();
    g.flow('S');
    g.stranger('S', { type: 'ATTACH', peerFin: false, cid: CID, hid: 1, token: new Uint8Array(16), recvOffset: 4n, sendOffset: 4n, credits: 0 });
    g.deliver('X', 'S');
    g.feed('S', { kind: 'recv', channel: 'L', message: { type: 'REVOKE', cid: CID, hid: 1, code: ERRORS.ABORTED.code } });
    expect(g.S.state).toBe('REVOKED');
    expect(g.sent.filter((s) => s.to === 'X').map((s) => s.message)).toEqual([{ type: 'REFUSE', hid: 1, code: ERRORS.TOKEN_EXPIRED.code }]);
  });

  it('a shutdown by the successor before it owns is held and sent after ATTACHED (§9.7)', () => {
    const h = ready();
    h.write('S', 'w');
    h.feed('S', { kind: 'app-shutdown' });
    h.run();
    expect(h.sent.filter((s) => s.from === 'S' && (s.message.type === 'DATA' || s.message.type === 'FIN')).map((s) => s.message.type)).toEqual(['DATA', 'FIN']);
    expect(h.ended.has('P')).toBe(true);
  });
});

describe('deferred close (§9.7)', () => {
  it("the successor's close during a handoff is deferred and done by the owner (FIN on the new C1)", () => {
    const h = ready();
    h.flow('S');
    h.deliver('S', 'O');
    h.feed('S', { kind: 'app-close' });
    expect(h.S.state).toBe('NEEDED');
    h.run();
    // The owner has no successor of its own: its close is an ordinary one (O45, §9.7).
    expect(h.S.state).toBe('OWNER/CLOSED');
    expect(h.sent.filter((s) => s.from === 'S' && s.message.type === 'FIN').map((s) => s.message)).toEqual([{ type: 'FIN', offset: 4n }]);
  });
});

describe('edges of the peer and the origin (§6.4, §9.2, §9.7, §4.12)', () => {
  it("the peer's close during a handoff is deferred until it ends, then closes the connection on C2 (§9.7)", () => {
    const h = ready();
    h.flow('S');
    h.deliver('S', 'O');
    h.deliver('O', 'P'); // SUSPENDED
    h.feed('P', { kind: 'app-close' });
    expect(sentBy(h, 'P', 'FIN')).toEqual([]);
    h.run();
    expect(h.sent.filter((s) => s.from === 'P' && s.message.type === 'FIN').map((s) => s.to)).toEqual(['S']);
    h.write('P', 'x');
    expect(h.failCodes('P')).toEqual(['CLOSED']);
  });

  it('REBIND with another hid is HANDOFF_MISMATCH; SUSPEND(fast) with a wrong sendEnd is STREAM_GAP', () => {
    const h = ready();
    h.flow('S');
    h.deliver('S', 'O');
    h.deliver('O', 'P');
    h.feed('P', { kind: 'recv', channel: 'C1', message: { type: 'REBIND', hid: 9, sendEnd: 4n, token: new Uint8Array(16), addr: 'a' } });
    expect(h.failCodes('P')).toEqual(['HANDOFF_MISMATCH']);
    const g = ready(true);
    g.feed('P', { kind: 'recv', channel: 'C1', message: { type: 'SUSPEND', fast: true, hid: 1, sendEnd: 1n, token: new Uint8Array(16), addr: 'a' } });
    expect(g.failCodes('P')).toEqual(['STREAM_GAP']);
  });

  it('ERROR from the peer fails the origin with PEER_LOST and revokes the successor (X10)', () => {
    const h = ready();
    h.flow('S');
    h.deliver('S', 'O');
    h.feed('O', { kind: 'recv', channel: 'C1', message: { type: 'ERROR', code: ERRORS.TIMEOUT.code, reason: 'x' } });
    expect(h.O.state).toBe('FAILED');
    expect(h.failCodes('O')).toEqual(['PEER_LOST']);
    expect(sentBy(h, 'O', 'REVOKE')).toMatchObject([{ code: ERRORS.PEER_LOST.code }]);
  });

  it("an abort after the origin's application closed fails the connection with ABORTED (O12)", () => {
    const h = ready();
    h.flow('S');
    h.deliver('S', 'O');
    h.feed('O', { kind: 'app-close' });
    h.fire('O', 'SUSPEND');
    h.run();
    expect(h.O.state).toBe('FAILED');
    expect(h.failCodes('O')).toEqual(['ABORTED']);
    expect(h.failCodes('P')).toEqual(['PEER_LOST']);
  });

  it("the origin's writes in the fast order are held: sent on C1 after an abort, ERR_REBOUND after a commit (§6.4)", () => {
    const h = ready(true);
    h.flow('S');
    h.deliver('S', 'O'); // SUSPEND(fast): the origin stops sending
    h.write('O', 'held');
    h.feed('O', { kind: 'app-shutdown' });
    h.run();
    expect(h.failCodes('O')).toEqual(['REBOUND']);
    expect(text(h.delivered.get('P'))).toBe('srv0');
    const g = ready(true);
    g.flow('S');
    g.deliver('S', 'O');
    g.write('O', 'held');
    g.fire('O', 'SUSPEND');
    g.run();
    expect(g.O.state).toBe('OPEN');
    expect(text(g.delivered.get('P'))).toBe('srv0held');
  });

  it('a cut C1 after the copy: the origin gives the connection up (COMMIT, LEFT); the successor completes by C2 (§9.6)', () => {
    const h = ready();
    h.flow('S');
    h.deliver('S', 'O');
    h.deliver('O', 'P');
    h.deliver('P', 'O'); // copy, ORDER, REBIND
    h.deliver('O', 'P'); // REBIND → ATTACH
    h.cut('O', 'C1');
    expect(h.O.state).toBe('LEFT');
    h.run();
    expect(h.S.state).toBe('OWNER/OPEN');
    expect(h.P.state).toBe('OPEN');
    h.write('P', 'after');
    h.run();
    expect(text(h.delivered.get('S'))).toBe('cli0after');
  });
});
