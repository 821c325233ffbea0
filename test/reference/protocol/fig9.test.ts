import { describe, expect, it } from 'vitest';
import { checkTrace } from '../../../reference/trace/check.js';
import { formatTrace } from '../../../reference/trace/format.js';
import { parseTrace } from '../../../reference/trace/parse.js';
import { CID, Harness, TOKEN1, TOKEN2, text } from './harness.js';

const control = (h: Harness): string[] => h.names((s) => s.message.type !== 'DATA' && s.message.type !== 'JOIN');

/** Appendix A: the Fig. 9 run, step by step. */
function fig9(): Harness {
  const h = new Harness().establish();
  h.flow('P');
  h.write('O', 'hi!');
  h.run();
  h.write('P', 'hello');
  h.run();
  h.read('O', 2);
  h.fork('O', 'S');
  h.flow('S'); // T3: the successor's application reads
  h.write('P', 'abc'); // in flight when the origin suspends
  h.deliver('S', 'O'); // NEED → SUSPEND
  h.deliver('P', 'O'); // B'..D: "abc" arrives after SUSPEND was sent
  h.run();
  return h;
}

function checkRun(h: Harness): void {
  const textTrace = formatTrace(h.events);
  const parsed = parseTrace(textTrace);
  expect(parsed.diagnostics).toEqual([]);
  expect(checkTrace(parsed.events).map((d) => `${d.code} line ${d.line}: ${d.message}`)).toEqual([]);
}

describe('Fig. 9 run (§6.2, Appendix A)', () => {
  it('sends a..h in order with the offsets of Appendix A', () => {
    const h = fig9();
    expect(control(h)).toEqual(['NEED', 'SUSPEND', 'SUSPENDED', 'COPY', 'COPIED', 'ORDER', 'REBIND', 'ATTACH', 'ATTACHED', 'REBOUND', 'COMMIT']);
    const by = (name: string) => h.sent.find((s) => s.message.type === name)!.message;
    expect(by('SUSPEND')).toEqual({ type: 'SUSPEND', fast: false, hid: 1 });
    expect(by('SUSPENDED')).toEqual({ type: 'SUSPENDED', hid: 1, sendEnd: 8n, recvOffset: 3n });
    expect(by('COPY')).toEqual({ type: 'COPY', cid: CID, hid: 1, offset: 2n, data: new TextEncoder().encode('lloabc') });
    expect(by('COPIED')).toEqual({ type: 'COPIED', peerFin: false, cid: CID, hid: 1, recvEnd: 8n });
    expect(by('ORDER')).toEqual({ type: 'ORDER', fast: false, originFin: false, cid: CID, hid: 1, token: TOKEN1, sendEnd: 3n });
    expect(by('REBIND')).toEqual({ type: 'REBIND', hid: 1, sendEnd: 3n, token: TOKEN1, addr: 'tcp://127.0.0.1:40123' });
    expect(by('ATTACH')).toEqual({ type: 'ATTACH', peerFin: false, cid: CID, hid: 1, token: TOKEN1, recvOffset: 3n, sendOffset: 8n, credits: 0 });
    expect(by('ATTACHED')).toEqual({ type: 'ATTACHED', hid: 1, recvOffset: 8n, sendOffset: 3n, credits: 0 });
    expect(by('REBOUND')).toEqual({ type: 'REBOUND', hid: 1 });
    expect(by('COMMIT')).toEqual({ type: 'COMMIT', cid: CID, hid: 1 });
    expect(h.O.state).toBe('REBOUND');
    expect(h.S.state).toBe('OWNER/OPEN');
    expect(h.P.state).toBe('OPEN');
    expect(text(h.delivered.get('O'))).toBe('he');
    expect(text(h.delivered.get('S'))).toBe('lloabc');
    // After the commit both directions continue on C2.
    h.write('P', '!!');
    h.write('S', 'ok');
    h.run();
    expect(text(h.delivered.get('S'))).toBe('lloabc!!');
    expect(text(h.delivered.get('P'))).toBe('hi!ok');
    const last = h.sent.filter((s) => s.message.type === 'DATA').slice(-2).map((s) => [s.from, s.message]);
    expect(last).toEqual([
      ['P', { type: 'DATA', offset: 8n, data: new TextEncoder().encode('!!') }],
      ['S', { type: 'DATA', offset: 3n, data: new TextEncoder().encode('ok') }],
    ]);
    expect(h.failCodes('O')).toEqual([]);
    expect(h.failCodes('S')).toEqual([]);
    expect(h.failCodes('P')).toEqual([]);
    checkRun(h);
  });

  it('the rebound origin: reads end, writes fail REBOUND, triggers start nothing (§6.6)', () => {
    const h = fig9();
    const read = h.read('O');
    expect(read).toEqual([{ kind: 'end' }]);
    h.write('O', 'late');
    expect(h.failCodes('O')).toEqual(['REBOUND']);
    const before = h.sent.length;
    h.trigger('O', 'T1');
    expect(h.sent.length).toBe(before);
    expect(h.O.state).toBe('REBOUND');
  });
});

describe('fast order (§6.3)', () => {
  function fast(): Harness {
    const h = new Harness({ fast: true, tokens: [TOKEN2] }).establish();
    h.flow('P');
    h.write('P', 'ping');
    h.run();
    h.read('O');
    h.write('O', 'pong');
    h.run();
    h.fork('O', 'S');
    h.flow('S');
    h.deliver('S', 'O'); // NEED → ORDER(fast), SUSPEND(fast)
    h.write('P', 'abcde'); // crosses the SUSPEND
    h.run();
    return h;
  }

  it('ORDER before SUSPEND, ATTACH at once, the copy overlapping; C2 data held until COMMIT', () => {
    const h = fast();
    expect(control(h)).toEqual(['NEED', 'ORDER', 'SUSPEND', 'SUSPENDED', 'ATTACH', 'COPY', 'COPIED', 'ATTACHED', 'REBOUND', 'COMMIT']);
    const by = (name: string) => h.sent.find((s) => s.message.type === name)!.message;
    expect(by('ORDER')).toEqual({ type: 'ORDER', fast: true, originFin: false, cid: CID, hid: 1, token: TOKEN2, sendEnd: 4n });
    expect(by('SUSPEND')).toEqual({ type: 'SUSPEND', fast: true, hid: 1, sendEnd: 4n, token: TOKEN2, addr: 'tcp://127.0.0.1:40123' });
    expect(by('SUSPENDED')).toEqual({ type: 'SUSPENDED', hid: 1, sendEnd: 9n, recvOffset: 4n });
    expect(by('ATTACH')).toEqual({ type: 'ATTACH', peerFin: false, cid: CID, hid: 1, token: TOKEN2, recvOffset: 4n, sendOffset: 9n, credits: 0 });
    expect(by('ATTACHED')).toEqual({ type: 'ATTACHED', hid: 1, recvOffset: 9n, sendOffset: 4n, credits: 0 });
    expect(text(h.delivered.get('O'))).toBe('ping');
    expect(text(h.delivered.get('S'))).toBe('abcde');
    h.write('P', 'xyz');
    h.run();
    expect(text(h.delivered.get('S'))).toBe('abcdexyz');
    checkRun(h);
  });

  it('ATTACH reaching the successor before COPIED: ATTACHED_COPYING, then BOUND (S10, S15)', () => {
    const h = new Harness({ fast: true }).establish();
    h.flow('P');
    h.write('P', 'data');
    h.run();
    h.fork('O', 'S');
    h.flow('S');
    h.deliver('S', 'O'); // ORDER, SUSPEND
    h.deliver('O', 'S'); // ORDER
    h.deliver('O', 'P'); // SUSPEND → SUSPENDED, ATTACH
    h.deliver('P', 'S'); // ATTACH before the copy
    expect(h.S.state).toBe('ATTACHED_COPYING');
    h.deliver('S', 'P'); // ATTACHED: the peer commits
    h.write('P', 'more');
    h.deliver('P', 'S'); // C2 data held
    expect(h.delivered.get('S')).toBeUndefined();
    h.run();
    expect(h.S.state).toBe('OWNER/OPEN');
    expect(text(h.delivered.get('S'))).toBe('datamore');
  });
});
