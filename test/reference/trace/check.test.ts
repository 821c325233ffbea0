// The trace checker (§13.2): whole traces, valid and invalid, through parseTrace + checkTrace.
// Invalid traces assert the code, the section and the line of the first diagnostic.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkTrace, checkTraceText } from '../../../reference/trace/check.js';
import type { TraceEvent } from '../../../reference/trace/events.js';
import { projectTrace } from '../../../reference/trace/project.js';
import { parseTrace } from '../../../reference/trace/parse.js';

const CID = '0x0102030405060708090a0b0c0d0e0f10';
const TOKEN = '0xaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';
const TOKEN3 = '0xcccccccccccccccccccccccccccccccc';
const WRONG = '0xbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb';

/** The 1-based line of the first line of `text` that contains `marker`. */
function lineOf(text: string, marker: string): number {
  const index = text.split('\n').findIndex((l) => l.includes(marker));
  if (index < 0) throw new Error(`no line contains ${marker}`);
  return index + 1;
}

function check(text: string) {
  return checkTraceText(text, { source: 'test.trace' });
}

/** Establishment (a/A of Fig. 9) and a fork (X), shared by most traces. */
const OPENING = `P connect O
O accept P
P -> O HELLO cid=0x00000000000000000000000000000000 maxPayload=1048576 credits=0
O -> P HELLO cid=${CID} maxPayload=1048576 credits=0 acceptor=true
O fork S`;

/** Fig. 9 (design notes §5, Appendix A): stop-and-wait, T3, data in flight in the window B'..D. */
const FIG9 = `${OPENING}
P send data="hello"
P -> O DATA offset=0 data="hel"
O recv data="he"                                    # the origin's application read 2 bytes
S trigger T3
S -> O NEED cid=${CID} trigger=3
P ~> O DATA offset=3 data="lo"                      # B'..D: in flight when the origin suspends
O -> P SUSPEND hid=1 fast=false                     # C/c
O <~ P DATA
P -> O SUSPENDED hid=1 sendEnd=5 recvOffset=0       # D/d
O -> S COPY cid=${CID} hid=1 offset=2 data="llo"    # Y: the unread bytes
O -> S COPIED cid=${CID} hid=1 recvEnd=5
O -> P REBIND hid=1 sendEnd=0 token=${TOKEN} addr="tcp://127.0.0.1:4000"   # E/e
O -> S ORDER cid=${CID} hid=1 token=${TOKEN} sendEnd=0
P connect S                                         # F/f
S accept P
P -> S ATTACH cid=${CID} hid=1 token=${TOKEN} recvOffset=0 sendOffset=5 credits=0
S -> P ATTACHED hid=1 recvOffset=5 sendOffset=0 credits=0    # G/g
P -> O REBOUND hid=1                                # H/h
O -> S COMMIT cid=${CID} hid=1
S recv data="llo"
S send data="ok"
S -> P DATA offset=0 data="ok"
P recv data="ok"
`;

/** The fast order (§6.3), T1: ORDER and SUSPEND(fast) at once, ATTACH before the copy. */
const FAST = `P connect O
O accept P
P -> O HELLO fast=true
O -> P HELLO cid=${CID} fast=true acceptor=true
O fork S
P send data="abc"
P ~> O DATA offset=0 data="abc"
O send data="xy"
O -> P DATA offset=0 data="xy"
P recv data="xy"
O close                                             # T1
O -> S ORDER cid=${CID} hid=1 fast=true token=${TOKEN} sendEnd=2
O -> P SUSPEND hid=1 fast=true sendEnd=2 token=${TOKEN} addr="tcp://127.0.0.1:4000"
O <~ P DATA
P ~> O SUSPENDED hid=1 sendEnd=3 recvOffset=2
P connect S
P -> S ATTACH cid=${CID} hid=1 token=${TOKEN} recvOffset=2 sendOffset=3
S -> P ATTACHED hid=1 recvOffset=3 sendOffset=2
P ~> O REBOUND hid=1
S send data="z"
S ~> P DATA offset=2 data="z"
O <~ P SUSPENDED
O -> S COPY cid=${CID} hid=1 offset=0 data="abc"
O -> S COPIED cid=${CID} hid=1 recvEnd=3
O <~ P REBOUND
O -> S COMMIT cid=${CID} hid=1
S recv data="abc"
P <~ S DATA
P recv data="z"
`;

/** A complete stop-and-wait handoff without bytes, started by `trigger` lines. */
function handoff(trigger: string): string {
  return `${OPENING}
${trigger}
O -> P SUSPEND hid=1
P -> O SUSPENDED hid=1 sendEnd=0 recvOffset=0
O -> S COPIED cid=${CID} hid=1 recvEnd=0
O -> P REBIND hid=1 sendEnd=0 token=${TOKEN} addr="tcp://s"
O -> S ORDER cid=${CID} hid=1 token=${TOKEN} sendEnd=0
P connect S
P -> S ATTACH cid=${CID} hid=1 token=${TOKEN} recvOffset=0 sendOffset=0
S -> P ATTACHED hid=1 recvOffset=0 sendOffset=0
P -> O REBOUND hid=1
O -> S COMMIT cid=${CID} hid=1
`;
}

describe('valid traces', () => {
  it('the Fig. 9 run (a..h / A..H) has no diagnostics', () => {
    expect(check(FIG9)).toEqual([]);
  });

  it('projects Fig. 9 onto three roles, and the successor becomes the origin of epoch 1', () => {
    const model = projectTrace(parseTrace(FIG9).events);
    const words = (role: string, epoch: number) => model.projections.find((p) => p.role === role && p.epoch === epoch)?.symbols.map((s) => s.word).filter((w) => !w.startsWith('@'));
    expect(words('origin', 0)).toEqual(['?HELLO', '!HELLO', '?DATA@C1', '?NEED', '!SUSPEND', '?DATA@C1', '?SUSPENDED', '!COPY', '!COPIED', '!REBIND', '!ORDER', '?REBOUND', '!COMMIT']);
    expect(words('successor', 0)).toEqual(['!NEED', '?COPY', '?COPIED', '?ORDER', '?ATTACH', '!ATTACHED', '?COMMIT']);
    expect(words('peer', 0)).toEqual(['!HELLO', '?HELLO', '!DATA@C1', '!DATA@C1', '?SUSPEND', '!SUSPENDED', '?REBIND', '!ATTACH', '?ATTACHED', '!REBOUND']);
    expect(words('origin', 1)).toEqual(['!DATA@C1']);
    expect(words('peer', 1)).toEqual(['?DATA@C1']);
    expect(model.connections[0]?.epochs.map((e) => e.owner)).toEqual(['O', 'S']);
  });

  it('the fast order (§6.3) with DATA from the successor right after ATTACHED', () => {
    expect(check(FAST)).toEqual([]);
  });

  for (const [name, trigger] of [
    ['T1 (the origin closes)', 'O close'],
    ['T2 (the origin exits)', 'O exit'],
    ['T3 (the successor reads)', `S trigger T3\nS -> O NEED cid=${CID} trigger=3`],
    ['T4 (the successor writes)', `S trigger T4\nS send data="w"\nS -> O NEED cid=${CID} trigger=4`],
  ] as const) {
    it(`trigger ${name} starts the handoff`, () => {
      expect(check(handoff(trigger))).toEqual([]);
    });
  }

  it('a fork with no trigger: no rebind traffic at all is valid (§2.4)', () => {
    const trace = `${OPENING}
P send data="abc"
P -> O DATA offset=0 data="abc"
O recv data="abc"
O send data="d"
O -> P DATA offset=0 data="d"
P recv data="d"
S close
S -> O RELEASE cid=${CID}
`;
    expect(check(trace)).toEqual([]);
  });

  it('a second trigger after the rebind starts nothing (§6.6)', () => {
    const trace = `${handoff('O close')}O fork S2
S2 trigger T3
S2 -> O NEED cid=${CID} trigger=3
O exit
`;
    // S2 was forked after... it is a fork of O, the old origin: its NEED reaches a rebound origin.
    expect(check(trace)).toEqual([]);
  });

  it('a chained handoff: the successor forks and hands the connection on with hid 3 (§10.1)', () => {
    const trace = `${handoff('O close')}S fork S3
S3 trigger T3
S3 -> S NEED cid=${CID} trigger=3
S -> P SUSPEND hid=3
P -> S SUSPENDED hid=3 sendEnd=0 recvOffset=0
S -> S3 COPIED cid=${CID} hid=3 recvEnd=0
S -> P REBIND hid=3 sendEnd=0 token=${TOKEN3} addr="tcp://s3"
S -> S3 ORDER cid=${CID} hid=3 token=${TOKEN3} sendEnd=0
P connect S3
P -> S3 ATTACH cid=${CID} hid=3 token=${TOKEN3} recvOffset=0 sendOffset=0
S3 -> P ATTACHED hid=3 recvOffset=0 sendOffset=0
P -> S REBOUND hid=3
S -> S3 COMMIT cid=${CID} hid=3
`;
    expect(check(trace)).toEqual([]);
    const model = projectTrace(parseTrace(trace).events);
    expect(model.connections[0]?.epochs.map((e) => [e.owner, e.hids])).toEqual([['O', [1]], ['S', [3]], ['S3', []]]);
  });

  it('an abort after REFUSE resumes the stream on C1 (§8.3, §9.2)', () => {
    const trace = `${OPENING}
S trigger T3
S -> O NEED cid=${CID} trigger=3
O -> P SUSPEND hid=1
P -> O SUSPENDED hid=1 sendEnd=0 recvOffset=0
O -> S COPIED cid=${CID} hid=1 recvEnd=0
O -> P REBIND hid=1 sendEnd=0 token=${TOKEN} addr="tcp://s"
O -> S ORDER cid=${CID} hid=1 token=${TOKEN} sendEnd=0
P connect S
P -> S ATTACH cid=${CID} hid=1 token=${WRONG} recvOffset=0 sendOffset=0
S -> P REFUSE hid=1 code=TOKEN_INVALID
P -> O ABORT hid=1 code=REFUSE
O -> S REVOKE cid=${CID} hid=1 code=ABORTED
P send data="go on"
P -> O DATA offset=0 data="go on"
O recv data="go on"
`;
    expect(check(trace)).toEqual([]);
  });

  it('a SUSPEND timeout crossing SUSPENDED: ABORTING ignores SUSPENDED, then both resume (§9.2)', () => {
    const trace = `${OPENING}
O close
O ~> P SUSPEND hid=1
O timeout SUSPEND
O ~> P ABORT hid=1 code=TIMEOUT
P <~ O SUSPEND
P ~> O SUSPENDED hid=1 sendEnd=0 recvOffset=0
P <~ O ABORT
P ~> O ABORT hid=1 code=ABORTED
O <~ P SUSPENDED
O <~ P ABORT
O -> S REVOKE cid=${CID} hid=1 code=ABORTED
O -> P ERROR code=ABORTED reason="closed"
`;
    expect(check(trace)).toEqual([]);
  });

  it('the origin dies after ORDER: successor and peer complete alone (§9.3)', () => {
    const trace = `${OPENING}
O close
O -> P SUSPEND hid=1
P -> O SUSPENDED hid=1 sendEnd=0 recvOffset=0
O -> S COPIED cid=${CID} hid=1 recvEnd=0
O -> S ORDER cid=${CID} hid=1 token=${TOKEN} sendEnd=0
O -> P REBIND hid=1 sendEnd=0 token=${TOKEN} addr="tcp://s"
P connect S
P ~> S ATTACH cid=${CID} hid=1 token=${TOKEN} recvOffset=0 sendOffset=0
O kill
S <~ P ATTACH
S -> P ATTACHED hid=1 recvOffset=0 sendOffset=0
S send data="x"
S -> P DATA offset=0 data="x"
`;
    expect(check(trace)).toEqual([]);
    const model = projectTrace(parseTrace(trace).events);
    expect(model.projections.find((p) => p.role === 'successor')?.symbols.map((s) => s.word)).toContain('@lost.L');
    expect(model.connections[0]?.epochs.map((e) => e.owner)).toEqual(['O', 'S']);
  });

  it('many connections per process (§10.2): cid= scopes triggers and reads; each connection has its own roles', () => {
    const B = '0x1102030405060708090a0b0c0d0e0f10';
    const trace = `P -> O HELLO cid=0x00000000000000000000000000000000
O -> P HELLO cid=${CID} acceptor=true
Q connect O
O accept Q
Q -> O HELLO
O -> Q HELLO cid=${B} acceptor=true
O fork S
Q -> O DATA offset=0 data="q"
P -> O DATA offset=0 data="p"
S trigger T3 cid=${B}
S -> O NEED cid=${B} trigger=3
O -> Q SUSPEND hid=1
Q -> O SUSPENDED hid=1 sendEnd=1 recvOffset=0
O -> S COPY cid=${B} hid=1 offset=0 data="q"
O -> S COPIED cid=${B} hid=1 recvEnd=1
O -> Q REBIND hid=1 sendEnd=0 token=${TOKEN} addr="tcp://s"
O -> S ORDER cid=${B} hid=1 token=${TOKEN} sendEnd=0
Q connect S
Q -> S ATTACH cid=${B} hid=1 token=${TOKEN} recvOffset=0 sendOffset=1
S -> Q ATTACHED hid=1 recvOffset=1 sendOffset=0
Q -> O REBOUND hid=1
O -> S COMMIT cid=${B} hid=1
P -> O DATA offset=1 data="p2"
S recv cid=${B} data="q"
O recv cid=${CID} data="pp2"
`;
    expect(check(trace)).toEqual([]);
    const model = projectTrace(parseTrace(trace).events);
    expect(model.connections.map((c) => [c.peer, c.cid, c.epochs.map((e) => e.owner)])).toEqual([['P', CID, ['O']], ['Q', B, ['O', 'S']]]);
    // The same read, charged to the wrong connection, is caught.
    expect(check(trace.replace(`O recv cid=${CID} data="pp2"`, `O recv cid=${CID} data="qp2"`))[0]).toMatchObject({ code: 'TRACE_OFFSET', section: '6.4' });
  });

  it('never throws, whatever the events (property)', () => {
    const actor = fc.constantFrom('O', 'P', 'S', 'X');
    const message = fc.record({
      actor, peer: actor, kind: fc.constantFrom('deliver' as const, 'send' as const, 'receive' as const),
      name: fc.constantFrom('HELLO', 'DATA', 'SUSPEND', 'SUSPENDED', 'REBIND', 'ORDER', 'COPY', 'COPIED', 'ATTACH', 'ATTACHED', 'REBOUND', 'COMMIT', 'ABORT', 'REVOKE', 'NEED', 'REFUSE'),
      fields: fc.record({ hid: fc.constantFrom(1, 2, 3), offset: fc.nat(4), data: fc.constantFrom('a', 'bc'), token: fc.constantFrom('0xaa', '0xbb'), fast: fc.boolean() }, { requiredKeys: [] }),
    });
    const act = fc.record({
      actor, kind: fc.constant('action' as const),
      name: fc.constantFrom('connect', 'accept', 'fork', 'join', 'kill', 'cut', 'close', 'trigger', 'timeout', 'send', 'recv'),
      args: fc.array(actor, { maxLength: 1 }), fields: fc.record({ data: fc.constantFrom('a', 'bc') }, { requiredKeys: [] }),
    });
    fc.assert(fc.property(fc.array(fc.oneof(message, act), { maxLength: 30 }), (list) => {
      const events = list.map((e, i) => ({ line: i + 1, column: 1, args: [], ...e }) as TraceEvent);
      const diagnostics = checkTrace(events);
      for (const d of diagnostics) expect(d.line).toBeGreaterThan(0);
    }), { numRuns: 300 });
  });

  it('C1 is cut after the copy: the origin gives up with COMMIT, the successor completes on ATTACH alone (§9.6)', () => {
    const trace = `${OPENING}
O close
O -> P SUSPEND hid=1
P -> O SUSPENDED hid=1 sendEnd=0 recvOffset=0
O -> S COPIED cid=${CID} hid=1 recvEnd=0
O -> S ORDER cid=${CID} hid=1 token=${TOKEN} sendEnd=0
O -> P REBIND hid=1 sendEnd=0 token=${TOKEN} addr="tcp://s"
P connect S
P ~> S ATTACH cid=${CID} hid=1 token=${TOKEN} recvOffset=0 sendOffset=0
O cut P
O -> S COMMIT cid=${CID} hid=1
S <~ P ATTACH
S -> P ATTACHED hid=1 recvOffset=0 sendOffset=0
P send data="after"
P -> S DATA offset=0 data="after"
S recv data="after"
`;
    expect(check(trace)).toEqual([]);
    const model = projectTrace(parseTrace(trace).events);
    const successor = model.projections.find((p) => p.role === 'successor')?.symbols.map((x) => x.word).filter((w) => !w.startsWith('@'));
    expect(successor).toEqual(['?COPIED', '?ORDER', '?COMMIT', '?ATTACH', '!ATTACHED']);
    expect(model.projections.find((p) => p.role === 'origin' && p.epoch === 1)?.symbols.map((x) => x.word)).toEqual(['?DATA@C1', '@recv']);
  });

  it('checkTrace reads hand-built events as well as parsed ones', () => {
    const e = (line: number, actor: string, kind: TraceEvent['kind'], name: string, peer?: string, fields: TraceEvent['fields'] = {}, args: string[] = []): TraceEvent =>
      ({ line, column: 1, actor, kind, name, args, fields, ...(peer !== undefined ? { peer } : {}) });
    const events: TraceEvent[] = [
      e(1, 'P', 'action', 'connect', undefined, {}, ['O']),
      e(2, 'O', 'action', 'fork', undefined, {}, ['S']),
      e(3, 'O', 'action', 'close'),
      e(4, 'O', 'deliver', 'SUSPEND', 'P', { hid: 1 }),
      e(5, 'O', 'deliver', 'REBIND', 'P', { hid: 1 }),
    ];
    const [first] = checkTrace(events, { source: 'hand' });
    expect(first).toMatchObject({ code: 'TRACE_ORDER', section: '6.2', line: 5, source: 'hand' });
    expect(first?.message).toMatch(/^origin O sends REBIND \(hid 1\) before it has received SUSPENDED/);
  });
});

describe('invalid traces: the first diagnostic names the rule', () => {
  function first(text: string) {
    const diagnostics = check(text);
    expect(diagnostics.length).toBeGreaterThan(0);
    return diagnostics[0];
  }

  it('REBIND before SUSPENDED (§6.2)', () => {
    const trace = `${OPENING}
O close
O -> P SUSPEND hid=1
P ~> O SUSPENDED hid=1 sendEnd=0 recvOffset=0
O -> P REBIND hid=1 sendEnd=0 token=${TOKEN} addr="tcp://s"   # bad
`;
    const d = first(trace);
    expect(d).toMatchObject({ code: 'TRACE_ORDER', section: '6.2', line: lineOf(trace, '# bad'), column: 1, source: 'test.trace' });
    expect(d?.message).toContain('origin O sends REBIND (hid 1) before it has received SUSPENDED');
  });

  it('two REBOUND for one hid (§6.6)', () => {
    const trace = `${handoff('O close')}P -> O REBOUND hid=1   # bad\n`;
    const d = first(trace);
    expect(d).toMatchObject({ code: 'TRACE_ORDER', section: '6.6', line: lineOf(trace, '# bad') });
    expect(d?.message).toContain('peer P sends REBOUND (hid 1) a second time');
  });

  it('ATTACHED after an ATTACH with a wrong token (§8.2)', () => {
    const trace = handoff('O close')
      .replace(`P -> S ATTACH cid=${CID} hid=1 token=${TOKEN}`, `P -> S ATTACH cid=${CID} hid=1 token=${WRONG}`)
      .replace('S -> P ATTACHED hid=1 recvOffset=0 sendOffset=0', 'S -> P ATTACHED hid=1 recvOffset=0 sendOffset=0   # bad');
    const d = first(trace);
    expect(d).toMatchObject({ code: 'TRACE_TOKEN', section: '8.2', line: lineOf(trace, '# bad') });
    expect(d?.message).toContain(`token ${WRONG} (ORDER has ${TOKEN})`);
  });

  it('a stranger attaching with a wrong token gets ATTACHED (§8.2)', () => {
    const fixed = handoff('O close').replace('P connect S', `X connect S\nX -> S ATTACH cid=${CID} hid=1 token=${WRONG} recvOffset=0 sendOffset=0\nS -> X ATTACHED hid=1 recvOffset=0 sendOffset=0   # bad\nP connect S`);
    const d = first(fixed);
    expect(d).toMatchObject({ code: 'TRACE_TOKEN', section: '8.2', line: lineOf(fixed, '# bad') });
    expect(d?.message).toContain('answers the ATTACH of X (not the peer) on line');
  });

  it('a stranger refused with REFUSE does not disturb the real handoff (§8.3)', () => {
    const trace = handoff('O close').replace('P connect S', `X connect S\nX -> S ATTACH cid=${CID} hid=1 token=${WRONG} recvOffset=0 sendOffset=0\nS -> X REFUSE hid=1 code=TOKEN_INVALID\nP connect S`);
    expect(check(trace)).toEqual([]);
  });

  it('a token accepted twice (§8.3)', () => {
    const trace = `${handoff('O close')}X -> S ATTACH cid=${CID} hid=1 token=${TOKEN} recvOffset=0 sendOffset=0
S -> X ATTACHED hid=1 recvOffset=0 sendOffset=0   # bad
`;
    const d = check(trace).find((x) => x.code === 'TRACE_TOKEN');
    expect(d).toMatchObject({ section: '8.3', line: lineOf(trace, '# bad') });
    expect(d?.message).toContain('a second time');
  });

  it('DATA from the peer on C1 between SUSPENDED and REBOUND (§6.7)', () => {
    const trace = handoff('O close').replace('O -> S COPIED', 'P -> O DATA offset=0 data="late"   # bad\nO -> S COPIED');
    const d = first(trace);
    expect(d).toMatchObject({ code: 'TRACE_ORDER', section: '6.7', line: lineOf(trace, '# bad') });
    expect(d?.message).toContain('peer P sends DATA on C1 after it has sent SUSPENDED');
  });

  it('DATA from the origin after REBIND (§6.7)', () => {
    const trace = handoff('O close').replace('O -> S ORDER', 'O -> P DATA offset=0 data="late"   # bad\nO -> S ORDER');
    expect(first(trace)).toMatchObject({ code: 'TRACE_ORDER', section: '6.7', line: lineOf(trace, '# bad') });
  });

  it('a second SUSPEND after REBOUND (§6.6)', () => {
    const trace = `${handoff('O close')}O -> P SUSPEND hid=3   # bad\n`;
    const d = first(trace);
    expect(d).toMatchObject({ code: 'TRACE_ORDER', section: '6.6', line: lineOf(trace, '# bad') });
    expect(d?.message).toContain('a rebound connection is never handed off again');
  });

  it('a SUSPEND with no trigger (§2.4)', () => {
    const trace = `${OPENING}\nO -> P SUSPEND hid=1   # bad\n`;
    expect(first(trace)).toMatchObject({ code: 'TRACE_ORDER', section: '2.4', line: lineOf(trace, '# bad') });
  });

  it('the successor delivers before COMMIT (§6.6)', () => {
    const trace = FIG9.replace('P -> O REBOUND hid=1', 'S recv data="llo"   # bad\nP -> O REBOUND hid=1');
    expect(first(trace)).toMatchObject({ code: 'TRACE_ORDER', section: '6.6', line: lineOf(trace, '# bad') });
  });

  it('a receive with nothing in flight (§13.2)', () => {
    const trace = `${OPENING}\nO <~ P DATA   # bad\n`;
    const d = first(trace);
    expect(d).toMatchObject({ code: 'TRACE_MATCH', section: '13.2', line: lineOf(trace, '# bad') });
    expect(d?.message).toContain('no message from P to O is in flight');
  });

  it('a receive whose fields differ from the send (§13.2)', () => {
    const trace = `${OPENING}\nP ~> O DATA offset=0 data="a"\nO <~ P DATA offset=1   # bad\n`;
    expect(first(trace)).toMatchObject({ code: 'TRACE_MATCH', section: '13.2', line: lineOf(trace, '# bad') });
  });

  it('a gap in the peer\'s DATA offsets (§6.4)', () => {
    const trace = `${OPENING}\nP -> O DATA offset=0 data="ab"\nP -> O DATA offset=3 data="c"   # bad\n`;
    const d = first(trace);
    expect(d).toMatchObject({ code: 'TRACE_OFFSET', section: '6.4', line: lineOf(trace, '# bad') });
    expect(d?.message).toContain('bytes lost');
  });

  it('ATTACH.sendOffset differs from SUSPENDED.sendEnd (§6.4)', () => {
    const trace = FIG9.replace('recvOffset=0 sendOffset=5 credits=0', 'recvOffset=0 sendOffset=4 credits=0   # bad');
    const d = first(trace);
    expect(d).toMatchObject({ code: 'TRACE_OFFSET', section: '6.4', line: lineOf(trace, '# bad') });
    expect(d?.message).toContain('ATTACH.sendOffset=4, but SUSPENDED.sendEnd=5');
  });

  it('a copy that includes bytes the application already read: doubled bytes (§6.5)', () => {
    const trace = FIG9
      .replace(`O -> S COPY cid=${CID} hid=1 offset=2 data="llo"`, `O -> S COPY cid=${CID} hid=1 offset=0 data="hello"   # bad`)
      .replace('S recv data="llo"', 'S recv data="hello"');
    const d = first(trace);
    expect(d).toMatchObject({ code: 'TRACE_OFFSET', section: '6.5', line: lineOf(trace, '# bad') });
  });

  it('the successor\'s application reads bytes the origin\'s already read (§6.4)', () => {
    const trace = FIG9.replace('S recv data="llo"', 'S recv data="ello"   # bad');
    const d = first(trace);
    expect(d).toMatchObject({ code: 'TRACE_OFFSET', section: '6.4', line: lineOf(trace, '# bad') });
    expect(d?.message).toContain('bytes lost, doubled or reordered');
  });

  it('len= that disagrees with the data (§6.4)', () => {
    const trace = `${OPENING}\nP send len=3 data="ab"   # bad\n`;
    expect(first(trace)).toMatchObject({ code: 'TRACE_OFFSET', section: '6.4', line: lineOf(trace, '# bad') });
  });

  it('an even hid from the accepting end (§2.2) and a skipped hid (§10.1)', () => {
    const even = handoff('O close').replace(/hid=1/g, 'hid=2').replace('O -> P SUSPEND hid=2', 'O -> P SUSPEND hid=2   # bad');
    expect(first(even)).toMatchObject({ code: 'TRACE_ORDER', section: '2.2', line: lineOf(even, '# bad') });
    const skipped = `${handoff('O close')}S trigger T3`.replace(/hid=1/g, 'hid=5').replace('O -> P SUSPEND hid=5', 'O -> P SUSPEND hid=5   # bad');
    expect(first(skipped)).toMatchObject({ code: 'TRACE_ORDER', section: '2.2', line: lineOf(skipped, '# bad') });
  });

  it('a message of another hid inside a handoff (§2.2)', () => {
    const trace = handoff('O close').replace('P -> O SUSPENDED hid=1', 'P -> O SUSPENDED hid=3');
    expect(first(trace)).toMatchObject({ code: 'TRACE_ORDER', section: '2.2', line: lineOf(trace, 'SUSPENDED hid=3') });
  });

  it('a message between processes that no connection relates (§13.2)', () => {
    const trace = `${OPENING}\nQ -> O DATA offset=0 data="x"   # bad\n`;
    const d = first(trace);
    expect(d).toMatchObject({ code: 'TRACE_MATCH', section: '13.2', line: lineOf(trace, '# bad') });
    expect(d?.message).toContain('belongs to no connection');
  });

  it('a killed process neither acts nor receives afterwards (§13.2)', () => {
    const trace = `${OPENING}\nO kill\nP -> O DATA offset=0 data="x"   # bad\n`;
    const d = first(trace);
    expect(d).toMatchObject({ code: 'TRACE_MATCH', section: '13.2', line: lineOf(trace, '# bad') });
    expect(d?.message).toContain('O was killed on line 6: it receives nothing after that');
  });

  it('a handoff of the connecting end is reported as UNSUPPORTED, not as a wrong order (§2.2)', () => {
    const trace = `${OPENING}\nP -> O SUSPEND hid=2   # bad\n`;
    expect(first(trace)).toMatchObject({ code: 'UNSUPPORTED', section: '2.2', line: lineOf(trace, '# bad') });
  });

  it('syntax errors come through checkTraceText with the rest (§13.1)', () => {
    const trace = `${OPENING}\nO -> P SUSPEND hid=\n`;
    expect(first(trace)).toMatchObject({ code: 'TRACE_SYNTAX', line: 6 });
  });

  it('every diagnostic is sorted by line and carries source, line, column and section', () => {
    const trace = `${OPENING}\nO -> P SUSPEND hid=2\nP -> O DATA offset=7 data="x"\nO <~ P DATA\n`;
    const diagnostics = check(trace);
    expect(diagnostics.length).toBeGreaterThanOrEqual(3);
    const lines = diagnostics.map((d) => d.line ?? 0);
    expect(lines).toEqual([...lines].sort((a, b) => a - b));
    for (const d of diagnostics) {
      expect(d.source).toBe('test.trace');
      expect(d.column).toBeGreaterThan(0);
      expect(d.section).toMatch(/^\d+(\.\d+)?$/);
    }
  });
});

describe('semantic checks one by one (§6.4, §6.5, §8.2, §8.3)', () => {
  const codes = (text: string) => check(text).map((d) => [d.code, d.section, d.line]);

  it('ORDER and REBIND must carry the same token (§8.2)', () => {
    const trace = handoff('O close').replace(`O -> S ORDER cid=${CID} hid=1 token=${TOKEN}`, `O -> S ORDER cid=${CID} hid=1 token=${TOKEN3}`);
    expect(codes(trace)).toContainEqual(['TRACE_TOKEN', '8.2', lineOf(trace, 'O -> S ORDER')]);
  });

  it('no ATTACHED after REVOKE: the token expired (§8.3)', () => {
    const trace = handoff('O close').replace('P connect S', `O -> S REVOKE cid=${CID} hid=1 code=TIMEOUT\nP connect S`);
    expect(codes(trace)).toContainEqual(['TRACE_TOKEN', '8.3', lineOf(trace, 'S -> P ATTACHED')]);
  });

  it('the successor must not refuse the peer\'s matching ATTACH (§8.2)', () => {
    const trace = handoff('O close').replace('S -> P ATTACHED hid=1 recvOffset=0 sendOffset=0', 'S -> P REFUSE hid=1 code=TOKEN_INVALID');
    expect(codes(trace)).toContainEqual(['TRACE_TOKEN', '8.2', lineOf(trace, 'S -> P REFUSE')]);
  });

  it('REBIND.sendEnd is where the origin\'s DATA on C1 stopped (§6.4)', () => {
    const trace = FIG9.replace('O -> P REBIND hid=1 sendEnd=0', 'O -> P REBIND hid=1 sendEnd=3');
    const found = check(trace);
    expect(found[0]).toMatchObject({ code: 'TRACE_OFFSET', section: '6.4', line: lineOf(trace, 'O -> P REBIND') });
    expect(found[0]?.message).toContain("REBIND.sendEnd=3, but the origin's DATA on C1 ends at 0");
  });

  it('SUSPENDED.sendEnd is where the peer\'s DATA on C1 stopped (§6.4)', () => {
    const trace = FIG9.replace(/sendEnd=5/, 'sendEnd=4').replace('recvEnd=5', 'recvEnd=4').replace('sendOffset=5', 'sendOffset=4').replace('recvOffset=5', 'recvOffset=4');
    expect(check(trace)[0]).toMatchObject({ code: 'TRACE_OFFSET', section: '6.4', line: lineOf(trace, 'P -> O SUSPENDED') });
  });

  it('COPY frames are contiguous (§6.5)', () => {
    const trace = FIG9.replace(`O -> S COPY cid=${CID} hid=1 offset=2 data="llo"`, `O -> S COPY cid=${CID} hid=1 offset=2 data="l"\nO -> S COPY cid=${CID} hid=1 offset=4 data="o"`);
    expect(codes(trace)).toContainEqual(['TRACE_OFFSET', '6.5', lineOf(trace, 'offset=4 data="o"')]);
  });

  it('FIN carries the end of the stream (§6.4)', () => {
    const trace = `${OPENING}\nP -> O DATA offset=0 data="ab"\nP -> O FIN offset=3\n`;
    expect(check(trace)[0]).toMatchObject({ code: 'TRACE_OFFSET', section: '6.4', line: lineOf(trace, 'FIN') });
  });

  it('DATA carries the bytes the application wrote at its offset (§6.4)', () => {
    const trace = `${OPENING}\nP send data="abc"\nP -> O DATA offset=0 data="abd"\n`;
    const d = check(trace)[0];
    expect(d).toMatchObject({ code: 'TRACE_OFFSET', section: '6.4', line: lineOf(trace, 'P -> O DATA') });
    expect(d?.message).toContain('carries byte 0x64 at stream offset 2, but the application wrote 0x63 there');
  });

  it('hex= and data=0x.. are bytes, data="..." is UTF-8 text (§13.1)', () => {
    const trace = `${OPENING}\nP send hex=0x616263\nP -> O DATA offset=0 data=0x616263\nO recv data="abc"\n`;
    expect(check(trace)).toEqual([]);
  });
});
