import { describe, expect, it } from 'vitest';
import { ERRORS, RebindError } from '../../../reference/errors.js';
import { STATE_TABLES, type Role, type RoleTable } from '../../../reference/tables.js';
import { TableMachine, parseAction, parseGuard, verbsOf } from '../../../reference/protocol/machine.js';
import { OriginEngine } from '../../../reference/protocol/origin.js';
import { PeerEngine } from '../../../reference/protocol/peer.js';
import { SuccessorEngine } from '../../../reference/protocol/successor.js';
import { ByteStream, CopyBuffer } from '../../../reference/protocol/stream.js';
import type { Effect } from '../../../reference/protocol/types.js';
import { CID } from './harness.js';

const enc = (s: string) => new TextEncoder().encode(s);
const cfg = { cid: CID, token: () => new Uint8Array(16).fill(9), addr: 'tcp://s' };

describe('table interpreter (§7)', () => {
  it('parses actions and guards', () => {
    expect(parseAction('send ABORT(TIMEOUT)')).toEqual({ verb: 'send', arg: 'ABORT', code: 'TIMEOUT', text: 'send ABORT(TIMEOUT)' });
    expect(parseAction('copy')).toEqual({ verb: 'copy', text: 'copy' });
    expect(parseAction('consume token')).toEqual({ verb: 'consume', arg: 'token', text: 'consume token' });
    expect(parseGuard('fast & !offerFast')).toEqual([['fast', true], ['offerFast', false]]);
    expect(() => parseAction('send ABORT(')).toThrow(RebindError);
  });

  it('every verb and guard used in states.json has an implementation in its role (built without error)', () => {
    const verbs = new Set<string>();
    for (const role of ['origin', 'successor', 'peer'] as Role[]) for (const v of verbsOf(STATE_TABLES[role])) verbs.add(v);
    expect([...verbs].sort()).toEqual(['accept', 'check', 'close', 'connect', 'consume', 'copy', 'deliver', 'fail', 'hold', 'resume', 'send', 'start', 'stop']);
    expect(() => new OriginEngine(cfg)).not.toThrow();
    expect(() => new SuccessorEngine(cfg)).not.toThrow();
    expect(() => new PeerEngine(cfg)).not.toThrow();
  });

  it('an unknown verb, guard, message or timer is rejected when the machine is built or the timer started', () => {
    const base = STATE_TABLES.origin;
    const withRow = (row: object): RoleTable => ({ ...base, transitions: [...base.transitions, row as never] });
    const make = (table: RoleTable) => new TableMachine({ role: 'origin', table, verbs: { send: () => {}, start: () => {} }, guards: { fast: () => true, successorHolds: () => true }, emit: () => {}, canSend: (n) => n === 'SUSPEND' });
    const tiny: RoleTable = { ...base, transitions: [{ id: 'T1', from: 'OPEN', on: 'trigger', if: 'fast', do: ['send SUSPEND', 'start SUSPEND'], to: 'SUSPENDING', section: '6.2' }] };
    expect(() => make(tiny)).not.toThrow();
    expect(() => make({ ...tiny, transitions: [...tiny.transitions, { id: 'Z1', from: 'OPEN', on: 'x', do: ['teleport'], to: 'OPEN', section: '7' }] })).toThrow(/verb "teleport"/);
    expect(() => make(withRow({ id: 'Z0', from: 'OPEN', on: 'x', do: [], to: 'OPEN', section: '7' }))).toThrow(/cannot send "ORDER"/);
    expect(() => make({ ...tiny, transitions: [...tiny.transitions, { id: 'Z2', from: 'OPEN', on: 'x', if: 'moonPhase', do: [], to: 'OPEN', section: '7' }] })).toThrow(/guard "moonPhase"/);
    expect(() => make({ ...tiny, transitions: [...tiny.transitions, { id: 'Z3', from: 'OPEN', on: 'x', do: ['send WHATEVER'], to: 'OPEN', section: '7' }] })).toThrow(/cannot send/);
    // The optional `defer` of a table (§7, SDL save): read at run time; undefined without one.
    const deferring = new TableMachine({ role: 'origin', table: { ...tiny, defer: { OPEN: ['recv X'] } } as RoleTable, verbs: { send: () => {}, start: () => {} }, guards: { fast: () => true }, emit: () => {} });
    expect(deferring.defers('recv X')).toBe(true);
    expect(deferring.defers('recv Y')).toBe(false);
    const { defer: _none, ...noDefer } = { ...tiny, defer: undefined };
    expect(new TableMachine({ role: 'origin', table: noDefer as RoleTable, verbs: { send: () => {}, start: () => {} }, guards: { fast: () => true }, emit: () => {} }).defers('recv X')).toBeUndefined();
    const m = new TableMachine({ role: 'origin', table: tiny, verbs: { send: () => {}, start: () => {} }, guards: { fast: () => true }, emit: () => {} });
    expect(() => m.startTimer('NOPE')).toThrow(RebindError);
  });

  it('picks the first row whose guard holds, runs its actions in order, and moves (a new row flows in without code changes)', () => {
    const effects: Effect[] = [];
    const calls: string[] = [];
    const table: RoleTable = {
      ...STATE_TABLES.origin,
      transitions: [
        { id: 'N1', from: 'OPEN', on: 'ping', if: 'fast', do: ['send A', 'start SUSPEND'], to: 'SUSPENDING', section: '7' },
        { id: 'N2', from: ['OPEN'], on: ['ping', 'pong'], if: '!fast', do: ['send B'], to: '=', section: '7' },
      ],
    };
    let fast = false;
    const m: TableMachine = new TableMachine({ role: 'origin', table, verbs: { send: (a) => void calls.push(a.arg!), start: (a): void => m.startTimer(a.arg!) }, guards: { fast: () => fast }, emit: (e) => effects.push(e), timers: { SUSPEND: 5 } });
    expect(m.step('ping')?.id).toBe('N2');
    expect(m.state).toBe('OPEN');
    fast = true;
    expect(m.step('ping')?.id).toBe('N1');
    expect(calls).toEqual(['B', 'A']);
    expect(effects).toContainEqual({ kind: 'start-timer', timer: 'SUSPEND', ms: 5 });
    expect(m.state).toBe('SUSPENDING');
    expect(m.step('ping')).toBeUndefined();
    // A terminal state stops every running timer (§7).
    m.moveTo('FAILED', 'X');
    expect(effects.at(-1)).toEqual({ kind: 'stop-timer', timer: 'SUSPEND' });
  });

  it('the OPEN/recv DATA fast path equals rows O5 and P3 (accept, stay OPEN)', () => {
    for (const role of ['origin', 'peer'] as const) {
      const row = STATE_TABLES[role].transitions.find((t) => t.from === 'OPEN' && t.on === 'recv DATA')!;
      expect(row.do).toEqual(['accept']);
      expect(row.to).toBe('OPEN');
    }
    // And the engine's effect for a DATA in OPEN is exactly what `accept` does: deliver to a pending read.
    const o = new OriginEngine(cfg);
    o.handle({ kind: 'app-read' });
    const data = enc('abc');
    const fx = o.handle({ kind: 'recv', channel: 'C1', message: { type: 'DATA', offset: 0n, data } });
    expect(fx).toEqual([{ kind: 'deliver', data }]);
    expect((fx[0] as { data: Uint8Array }).data).toBe(data); // the same view: no copy
    // Without a pending read the bytes wait as unread, then go in the next read.
    o.handle({ kind: 'recv', channel: 'C1', message: { type: 'DATA', offset: 3n, data: enc('de') } });
    expect(o.stream.unreadBytes).toBe(2n);
    // app-write in OPEN sends the same view as DATA.
    const w = enc('xyz');
    const out = o.handle({ kind: 'app-write', data: w });
    expect(out).toEqual([{ kind: 'send', channel: 'C1', message: { type: 'DATA', offset: 0n, data: w } }]);
    expect(((out[0] as { message: { data: Uint8Array } }).message.data)).toBe(w);
  });
});

describe('unexpected messages and offset checks (§6.4, §7.5)', () => {
  it('a DATA out of sequence: ERROR(OFFSET_MISMATCH), close, fail', () => {
    const p = new PeerEngine(cfg);
    const fx = p.handle({ kind: 'recv', channel: 'C1', message: { type: 'DATA', offset: 5n, data: enc('x') } });
    expect(fx[0]).toMatchObject({ kind: 'send', channel: 'C1', message: { type: 'ERROR', code: ERRORS.OFFSET_MISMATCH.code } });
    expect(fx).toContainEqual({ kind: 'close', channel: 'C1' });
    expect(fx.find((e) => e.kind === 'fail')).toMatchObject({ error: { code: 'ERR_OFFSET_MISMATCH' } });
    expect(p.state).toBe('FAILED');
  });

  it('a message with no row on C1: ERROR(UNEXPECTED_MESSAGE), fail; on L: ignored', () => {
    const o = new OriginEngine(cfg);
    expect(o.handle({ kind: 'recv', channel: 'L', message: { type: 'COMMIT', cid: CID, hid: 1 } }).filter((e) => e.kind !== 'transition')).toEqual([]);
    const fx = o.handle({ kind: 'recv', channel: 'C1', message: { type: 'ATTACHED', hid: 1, recvOffset: 0n, sendOffset: 0n, credits: 0 } });
    expect(fx[0]).toMatchObject({ kind: 'send', channel: 'C1', message: { type: 'ERROR', code: ERRORS.UNEXPECTED_MESSAGE.code } });
    const o3 = new OriginEngine(cfg);
    o3.handle({ kind: 'recv', channel: 'L', message: { type: 'NEED', cid: CID, trigger: 3 } });
    const fx3 = o3.handle({ kind: 'recv', channel: 'C1', message: { type: 'REBOUND', hid: 5 } });
    expect(fx3[0]).toMatchObject({ kind: 'send', channel: 'C1', message: { type: 'ERROR', code: ERRORS.HANDOFF_MISMATCH.code } });
    const o2 = new OriginEngine(cfg);
    const fx2 = o2.handle({ kind: 'recv', channel: 'C1', message: { type: 'SUSPEND', fast: false, hid: 2 } });
    expect(fx2[0]).toMatchObject({ kind: 'send', channel: 'C1', message: { type: 'ERROR', code: ERRORS.UNEXPECTED_MESSAGE.code } });
    expect(o2.state).toBe('FAILED');
    expect(o2.handle({ kind: 'app-write', data: enc('x') })).toMatchObject([{ kind: 'fail', error: { code: 'ERR_UNEXPECTED_MESSAGE' } }]);
  });

  it('SUSPENDED with a wrong sendEnd is STREAM_GAP at the origin (§6.4)', () => {
    const o = new OriginEngine(cfg);
    o.handle({ kind: 'recv', channel: 'L', message: { type: 'NEED', cid: CID, trigger: 3 } });
    const fx = o.handle({ kind: 'recv', channel: 'C1', message: { type: 'SUSPENDED', hid: 1, sendEnd: 7n, recvOffset: 0n } });
    expect(fx[0]).toMatchObject({ message: { type: 'ERROR', code: ERRORS.STREAM_GAP.code } });
    expect(fx).toContainEqual({ kind: 'send', channel: 'L', message: { type: 'REVOKE', cid: CID, hid: 1, code: ERRORS.STREAM_GAP.code } });
    expect(o.state).toBe('FAILED');
  });

  it('REBIND with a wrong sendEnd is STREAM_GAP at the peer; ATTACHED with other offsets aborts (P22)', () => {
    const p = new PeerEngine(cfg);
    p.handle({ kind: 'recv', channel: 'C1', message: { type: 'SUSPEND', fast: false, hid: 1 } });
    const fx = p.handle({ kind: 'recv', channel: 'C1', message: { type: 'REBIND', hid: 1, sendEnd: 3n, token: new Uint8Array(16), addr: 'a' } });
    expect(fx[0]).toMatchObject({ message: { type: 'ERROR', code: ERRORS.STREAM_GAP.code } });
    const q = new PeerEngine(cfg);
    q.handle({ kind: 'recv', channel: 'C1', message: { type: 'SUSPEND', fast: false, hid: 1 } });
    q.handle({ kind: 'recv', channel: 'C1', message: { type: 'REBIND', hid: 1, sendEnd: 0n, token: new Uint8Array(16), addr: 'a' } });
    q.handle({ kind: 'connected' });
    const fx2 = q.handle({ kind: 'recv', channel: 'C2', message: { type: 'ATTACHED', hid: 1, recvOffset: 1n, sendOffset: 0n, credits: 0 } });
    expect(fx2.filter((e) => e.kind === 'send').map((e) => (e as { channel: string; message: { type: string } }).channel + ' ' + (e as { message: { type: string } }).message.type)).toEqual(['C2 ERROR', 'C1 ABORT']);
    expect(q.state).toBe('OPEN');
  });

  it('a successor drops the C2 of a stranger that sends DATA first (§7.5); RELEASE on app close (S2)', () => {
    const s = new SuccessorEngine(cfg);
    expect(s.handle({ kind: 'recv', channel: 'C2', link: 'x', message: { type: 'DATA', offset: 0n, data: enc('x') } })).toEqual([{ kind: 'close', channel: 'C2', link: 'x' }]);
    const fx = s.handle({ kind: 'app-close' });
    expect(fx[0]).toEqual({ kind: 'send', channel: 'L', message: { type: 'RELEASE', cid: CID } });
    expect(s.state).toBe('RELEASED');
    expect(s.handle({ kind: 'app-write', data: enc('x') })).toMatchObject([{ kind: 'fail', error: { code: 'ERR_CLOSED' } }]);
  });

  it('rejects a bad cid or maxPayload', () => {
    expect(() => new PeerEngine({ cid: new Uint8Array(16) })).toThrow(/cid/);
    expect(() => new PeerEngine({ cid: CID, maxPayload: 0 })).toThrow(/maxPayload/);
  });
});

describe('byte stream (§6.4, §6.5)', () => {
  it('checks offsets, keeps unread bytes as views, takes and copies them', () => {
    const s = new ByteStream();
    expect(s.checkIncoming(1n, 'DATA')?.errorName).toBe('OFFSET_MISMATCH');
    const a = enc('hello');
    s.receive(a);
    s.receive(enc('abc'));
    expect(s.unreadChunks(4).map((c) => [c.offset, Buffer.from(c.data).toString()])).toEqual([[0n, 'hell'], [4n, 'oabc']]);
    expect(s.take(2)).toEqual(enc('he'));
    expect(s.take(3)).toEqual(enc('llo'));
    expect(s.unreadChunks(100)).toEqual([{ offset: 5n, data: enc('abc') }]);
    s.receive(enc('d'));
    expect(s.take(10)).toEqual(enc('abcd'));
    expect(s.take()).toBeUndefined();
    s.receiveFin(9n);
    expect(s.checkIncoming(9n, 'DATA')?.errorName).toBe('OFFSET_MISMATCH');
    expect(s.frames(enc('12345'), 2).map((f) => [f.offset, Buffer.from(f.data).toString()])).toEqual([[0n, '12'], [2n, '34'], [4n, '5']]);
  });

  it('copy contiguity and end (§6.4 invariant 4)', () => {
    const c = new CopyBuffer();
    expect(c.checkEnd(5n)).toBeUndefined();
    c.add(2n, enc('abc'));
    expect(c.check(4n)?.errorName).toBe('OFFSET_MISMATCH');
    expect(c.check(5n)).toBeUndefined();
    expect(c.checkEnd(6n)?.errorName).toBe('STREAM_GAP');
  });
});
