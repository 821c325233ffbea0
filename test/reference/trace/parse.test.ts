import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import traceEventSchema from '../../../spec/schemas/trace-event.schema.json' with { type: 'json' };
import { formatDiagnostic, type Diagnostic } from '../../../reference/diagnostics.js';
import { isRebindError } from '../../../reference/errors.js';
import { validateWith, describeSchemaErrors } from '../../../reference/schemas.js';
import { MESSAGES } from '../../../reference/tables.js';
import { ACTIONS, parseTrace, parseTraceOrThrow, type TraceEvent } from '../../../reference/trace/index.js';
import { parse as parseGrammar } from '../../../grammar/generated/trace.js';

/** Parses text that must be free of errors. */
function events(text: string): TraceEvent[] {
  const result = parseTrace(text);
  expect(result.diagnostics).toEqual([]);
  return result.events;
}

/** Parses one line that must be free of errors. */
function event(line: string): TraceEvent {
  const [only, ...rest] = events(line);
  expect(rest).toEqual([]);
  if (only === undefined) throw new Error(`no event in ${JSON.stringify(line)}`);
  return only;
}

/** The one diagnostic of a text with exactly one bad line. */
function diag(text: string): Diagnostic {
  const { diagnostics } = parseTrace(text, { source: 't.trace' });
  expect(diagnostics).toHaveLength(1);
  return diagnostics[0] as Diagnostic;
}

/** The names listed after "expected one of" in an unknown-name diagnostic. */
function listed(message: string): string[] {
  const list = /expected one of (.*?)(?: \(§4, §5\))?$/.exec(message)?.[1] ?? '';
  return list.replace(' or ', ', ').split(', ');
}

describe('parseTrace: the four forms (§13.1)', () => {
  it('A -> B NAME fields: sent and delivered (deliver)', () => {
    expect(event('O -> P SUSPEND hid=1')).toEqual({
      line: 1, column: 1, actor: 'O', kind: 'deliver', peer: 'P', name: 'SUSPEND', args: [], fields: { hid: 1 }, fieldColumns: { hid: 16 },
    });
  });

  it('A ~> B NAME fields: sent, in flight (send)', () => {
    expect(event('@12.25 P ~> O SUSPENDED hid=1 sendEnd=300 recvOffset=1200')).toEqual({
      line: 1, column: 1, time: 12.25, actor: 'P', kind: 'send', peer: 'O', name: 'SUSPENDED', args: [],
      fields: { hid: 1, sendEnd: 300, recvOffset: 1200 }, fieldColumns: { hid: 25, sendEnd: 31, recvOffset: 43 },
    });
  });

  it('B <~ A NAME: the receiver on the left, the sender as peer (receive), fields optional', () => {
    expect(event('O <~ P SUSPENDED')).toEqual({
      line: 1, column: 1, actor: 'O', kind: 'receive', peer: 'P', name: 'SUSPENDED', args: [], fields: {},
    });
  });

  it('A ACTION ARG... fields: arguments before fields (action)', () => {
    expect(event('@3 O fork S')).toMatchObject({ time: 3, actor: 'O', kind: 'action', name: 'fork', args: ['S'], fields: {} });
    expect(event('S trigger T3')).toMatchObject({ name: 'trigger', args: ['T3'] });
    expect(event('O timeout SUSPEND')).toMatchObject({ name: 'timeout', args: ['SUSPEND'] });
    expect(event('P send len=5 data="hello"')).toMatchObject({ name: 'send', args: [], fields: { len: 5, data: 'hello' } });
    expect(event('X connect S a b c=1')).toMatchObject({ actor: 'X', args: ['S', 'a', 'b'], fields: { c: 1 } });
    expect(event('O fail code=TIMEOUT')).toMatchObject({ name: 'fail', args: [], fields: { code: 'TIMEOUT' } });
  });

  it('an action with neither arguments nor fields has no peer and no fieldColumns', () => {
    expect(event('O close')).toEqual({ line: 1, column: 1, actor: 'O', kind: 'action', name: 'close', args: [], fields: {} });
  });

  it('accepts every message name of spec/tables/messages.json and every action of ACTIONS', () => {
    for (const m of MESSAGES) expect(event(`O -> P ${m.name}`).name).toBe(m.name);
    for (const a of ACTIONS) expect(event(`O ${a}`).name).toBe(a);
  });

  it('actors: an upper-case letter, then letters and digits', () => {
    expect(event('S2 -> Px9Y REBOUND')).toMatchObject({ actor: 'S2', peer: 'Px9Y' });
  });

  it('blanks: tabs and runs of spaces anywhere between tokens; arrows need none', () => {
    expect(event(' \t@1\tO  ->\tP   DATA  offset=0 \t')).toMatchObject({ column: 3, time: 1, actor: 'O', peer: 'P', name: 'DATA' });
    expect(event('O->P FIN offset=3')).toMatchObject({ actor: 'O', kind: 'deliver', peer: 'P', name: 'FIN' });
    expect(event('P<~O FIN')).toMatchObject({ actor: 'P', kind: 'receive', peer: 'O' });
  });
});

describe('parseTrace: values', () => {
  const value = (text: string) => event(`O -> P DATA v=${text}`).fields['v'];

  it('decimal integers: numbers while safe, decimal strings beyond 2^53 - 1', () => {
    expect(value('0')).toBe(0);
    expect(value('1200')).toBe(1200);
    expect(value('007')).toBe(7);
    expect(value('9007199254740991')).toBe(9007199254740991);
    expect(value('9007199254740992')).toBe('9007199254740992');
    expect(value('18446744073709551615')).toBe('18446744073709551615');
    expect(value('000018446744073709551615')).toBe('18446744073709551615');
  });

  it('0x hex: lower-cased, kept as a string', () => {
    expect(value('0x00')).toBe('0x00');
    expect(value('0xDEADbeef')).toBe('0xdeadbeef');
  });

  it('quoted strings with JSON escapes', () => {
    expect(value('""')).toBe('');
    expect(value('"a b # not a comment"')).toBe('a b # not a comment');
    expect(value(String.raw`"q\" b\\ s\/ \b\f\n\r\t \u00e9\ud83d\ude00"`)).toBe('q" b\\ s/ \b\f\n\r\t é😀');
    expect(value('"héllo ✓"')).toBe('héllo ✓');
    expect(value('"true"')).toBe('true');
    expect(value('"12"')).toBe('12');
  });

  it('true and false', () => {
    expect(value('true')).toBe(true);
    expect(value('false')).toBe(false);
  });

  it('bare words', () => {
    expect(value('fig9')).toBe('fig9');
    expect(value('T3')).toBe('T3');
    expect(value('trueish')).toBe('trueish');
    expect(value('_x')).toBe('_x');
    expect(value('tcp://127.0.0.1:40123')).toBe('tcp://127.0.0.1:40123');
  });

  it('keeps the fields in the order of the line and records their columns', () => {
    const e = event('O -> P REBIND hid=1 sendEnd=9 token=0x0102 addr="tcp://h:1"');
    expect(Object.keys(e.fields)).toEqual(['hid', 'sendEnd', 'token', 'addr']);
    expect(e.fieldColumns).toEqual({ hid: 15, sendEnd: 21, token: 31, addr: 44 });
  });

  it('field names that are also Object.prototype members are ordinary fields', () => {
    expect(event('O -> P DATA constructor=1 toString=2 hasOwnProperty=3').fields).toEqual({ constructor: 1, toString: 2, hasOwnProperty: 3 });
  });
});

describe('parseTrace: lines', () => {
  it('skips blank lines, comment lines and #! front matter; keeps trailing comments', () => {
    const text = [
      '#! id: trace.example',
      '#! result: valid',
      '',
      '   ',
      '# a comment',
      '\t# an indented comment',
      'O fork S   #  X: no wire traffic  ',
      'O -> P SUSPEND hid=1 #',
      'O close#tight',
    ].join('\n');
    const all = events(text);
    expect(all.map((e) => [e.line, e.name, e.comment])).toEqual([
      [7, 'fork', 'X: no wire traffic'],
      [8, 'SUSPEND', undefined],
      [9, 'close', 'tight'],
    ]);
    expect('comment' in (all[1] as TraceEvent)).toBe(false);
  });

  it('a # ends a bare word and starts a comment', () => {
    expect(event('O -> P DATA v=ab#cd')).toMatchObject({ fields: { v: 'ab' }, comment: 'cd' });
  });

  it('accepts CRLF and LF line ends, a final line without one, and a leading BOM', () => {
    const text = '\uFEFFO fork S\r\n\r\n# c\r\nO -> P SUSPEND hid=1\nP ~> O SUSPENDED hid=1';
    expect(events(text).map((e) => [e.line, e.column, e.name])).toEqual([[1, 1, 'fork'], [4, 1, 'SUSPEND'], [5, 1, 'SUSPENDED']]);
  });

  it('an empty text and a text of comments give no events and no diagnostics', () => {
    expect(parseTrace('')).toEqual({ events: [], diagnostics: [] });
    expect(parseTrace('# only\n\n#! id: x\n')).toEqual({ events: [], diagnostics: [] });
  });

  it('reading the whole text (Trace rule) and line by line (Line rule, after an error) agree', () => {
    const text = '#! id: x\r\n@1 O fork S\r\n\n  O -> P SUSPEND hid=1 fast=true # c\nP <~ O SUSPEND\tx=0x0A \n';
    const whole = parseGrammar(text, { startRule: 'Trace' });
    expect(events(text)).toEqual(whole);
    const withError = parseTrace(`${text}O frob\r\n`);
    expect(withError.diagnostics.map((d) => d.line)).toEqual([6]);
    expect(withError.events).toEqual(whole);
    expect(parseTrace(`O frob\n${text}`).events).toEqual((whole as TraceEvent[]).map((e) => ({ ...e, line: e.line + 1 })));
  });
});

describe('parseTrace: diagnostics (TRACE_SYNTAX, §13.1)', () => {
  it('names the arrows and actions after a lone actor, underlining the offending token', () => {
    expect(diag('O =x')).toEqual({
      code: 'TRACE_SYNTAX', severity: 'error', section: '13.1', source: 't.trace', line: 1, column: 3, endColumn: 4,
      message: 'expected "->", "~>", "<~" or an action after actor "O", found "=x"',
    });
    expect(diag('O')).toMatchObject({ column: 2, endColumn: 2, message: 'expected "->", "~>", "<~" or an action after actor "O", found the end of the line' });
    expect(diag('O # c')).toMatchObject({ column: 3, endColumn: 3, message: 'expected "->", "~>", "<~" or an action after actor "O", found a comment' });
  });

  it('an unknown message name lists the known ones (those of spec/tables/messages.json)', () => {
    const d = diag('O -> P HELO hid=1');
    expect(d).toMatchObject({ line: 1, column: 8, endColumn: 11 });
    expect(d.message).toMatch(/^unknown message "HELO": expected one of HELLO, DATA, /);
    expect(listed(d.message)).toEqual(MESSAGES.map((m) => m.name));
  });

  it('an unknown action lists the known ones (ACTIONS)', () => {
    const d = diag('O frob S');
    expect(d).toMatchObject({ column: 3, endColumn: 6 });
    expect(d.message).toMatch(/^unknown action "frob": expected one of listen, /);
    expect(listed(d.message)).toEqual([...ACTIONS]);
  });

  it('a lower-case word where a message name belongs', () => {
    expect(diag('O -> P hello')).toMatchObject({
      column: 8, endColumn: 12, message: 'expected a message name of §4 or §5 (such as HELLO, DATA or SUSPEND) after the actor, found "hello"',
    });
    expect(diag('O -> P')).toMatchObject({ column: 7, endColumn: 7 });
    expect(diag('O -> p SUSPEND')).toMatchObject({
      column: 6, endColumn: 6, message: 'expected an actor (such as O, P or S) after the arrow, found "p"',
    });
  });

  it('lines that start with neither a time nor an actor', () => {
    expect(diag('o close')).toMatchObject({
      column: 1, endColumn: 1, message: 'expected "@TIME" or an actor (an upper-case name such as O, P or S), found "o"',
    });
    expect(diag('  -> P')).toMatchObject({ column: 3, endColumn: 4 });
    expect(diag('@5 o close')).toMatchObject({ column: 4, endColumn: 4, message: 'expected an actor (an upper-case name such as O, P or S) after the time, found "o"' });
    expect(diag('@5')).toMatchObject({ column: 3, endColumn: 3 });
  });

  it('bad times', () => {
    expect(diag('@1e3 O close')).toMatchObject({
      column: 1, endColumn: 4, message: 'invalid time "@1e3": expected "@" and decimal milliseconds, such as @12 or @12.25',
    });
    expect(diag('@ O close')).toMatchObject({ column: 1, endColumn: 1 });
    expect(diag('@1. O close')).toMatchObject({ column: 1, endColumn: 3 });
    expect(diag('@-1 O close')).toMatchObject({ column: 1, endColumn: 3 });
    expect(diag(`@${'9'.repeat(400)} O close`)).toMatchObject({ column: 1, endColumn: 401, message: expect.stringMatching(/^time "@9+" is too large$/) });
  });

  it('duplicate field keys, underlining the second key=value', () => {
    expect(diag('O -> P SUSPEND hid=1 fast=true hid=2')).toMatchObject({
      column: 32, endColumn: 36, message: 'duplicate field "hid" (each field may appear once per line)',
    });
    expect(diag('O send len=1 len=1')).toMatchObject({ column: 14, endColumn: 18 });
  });

  it('bad hex: odd, empty, non-hex digits', () => {
    expect(diag('O -> P ORDER token=0xabc')).toMatchObject({
      column: 20, endColumn: 24, message: 'invalid hex value "0xabc": expected an even number (at least 2) of hex digits after 0x',
    });
    expect(diag('O -> P ORDER token=0x')).toMatchObject({ column: 20, endColumn: 21 });
    expect(diag('O -> P ORDER token=0xzz')).toMatchObject({ column: 20, endColumn: 23 });
    expect(diag('O -> P ORDER token=0X00')).toMatchObject({ column: 20, endColumn: 23, message: expect.stringMatching(/^invalid value "0X00" for field "token"/) });
  });

  it('strings: unterminated, bad escape, raw control character, text after the quote', () => {
    expect(diag('O -> P ERROR code=1 reason="no end')).toMatchObject({
      column: 28, endColumn: 34, message: 'unterminated string: expected a closing \'"\' on the same line',
    });
    expect(diag('O -> P ERROR reason="no end\r\nO close')).toMatchObject({ line: 1, column: 21, endColumn: 27 });
    expect(diag('O -> P ERROR reason="a\\qb"')).toMatchObject({
      column: 21, endColumn: 24, message: 'invalid escape "\\q" in string: use \\" \\\\ \\/ \\b \\f \\n \\r \\t or \\uXXXX',
    });
    expect(diag('O -> P ERROR reason="\\u12"')).toMatchObject({ column: 21, endColumn: 23 });
    expect(diag('O -> P ERROR reason="a\tb"')).toMatchObject({
      column: 21, endColumn: 23, message: 'control character in string: write it as an escape such as \\t',
    });
    expect(diag('O -> P ERROR reason="a"b')).toMatchObject({
      column: 24, endColumn: 24, message: 'unexpected "b" after the value of field "reason"',
    });
  });

  it('invalid and missing values', () => {
    expect(diag('O -> P DATA offset=-1')).toMatchObject({
      column: 20, endColumn: 21,
      message: 'invalid value "-1" for field "offset": expected a decimal integer, 0x hex, a "string", true, false or a bare word',
    });
    expect(diag('O -> P DATA offset=12ab')).toMatchObject({ column: 20, endColumn: 23 });
    expect(diag('O -> P DATA offset=1.5')).toMatchObject({ column: 20, endColumn: 22 });
    expect(diag('O -> P DATA offset=')).toMatchObject({ column: 20, endColumn: 20, message: 'missing value for field "offset"' });
    expect(diag('O -> P DATA offset= data=0x01')).toMatchObject({ column: 20, endColumn: 20 });
    expect(diag('O -> P DATA offset=#')).toMatchObject({ column: 20, endColumn: 20 });
  });

  it('bad field keys and stray words', () => {
    expect(diag('O -> P DATA Offset=1')).toMatchObject({
      column: 13, endColumn: 20, message: 'expected field=value, a comment or the end of the line, found "Offset=1"',
    });
    expect(diag('O -> P DATA offset 1')).toMatchObject({ column: 13, endColumn: 18 });
    expect(diag('O trigger x=1 T3')).toMatchObject({
      column: 15, endColumn: 16, message: 'argument "T3" after a field: an action\'s arguments come before its fields',
    });
    expect(diag('O trigger 3')).toMatchObject({
      column: 11, endColumn: 11, message: 'expected an argument, field=value, a comment or the end of the line, found "3"',
    });
  });

  it('limits the found text it quotes', () => {
    expect(diag(`O ${'='.repeat(100)}`).message).toBe(`expected "->", "~>", "<~" or an action after actor "O", found "${'='.repeat(40)}…"`);
  });

  it('renders with a caret under the offending token (formatDiagnostic)', () => {
    const text = 'O fork S\nO -> P SUSPEND hid=1 fast=true hid=2\n';
    const [d] = parseTrace(text, { source: 'vectors/traces/x.trace' }).diagnostics;
    expect(formatDiagnostic(d as Diagnostic, text)).toBe(
      [
        'vectors/traces/x.trace:2:32: error ERR_TRACE_SYNTAX: duplicate field "hid" (each field may appear once per line) (§13.1)',
        '  |',
        '2 | O -> P SUSPEND hid=1 fast=true hid=2',
        '  |                                ^^^^^',
      ].join('\n'),
    );
  });

  it('renders an error at the end of a line with one caret past the text', () => {
    const text = '@1 O -> P';
    const [d] = parseTrace(text).diagnostics;
    expect(formatDiagnostic(d as Diagnostic, text)).toBe(
      [
        '<input>:1:10: error ERR_TRACE_SYNTAX: expected a message name of §4 or §5 (such as HELLO, DATA or SUSPEND) after the actor, found the end of the line (§13.1)',
        '  |',
        '1 | @1 O -> P',
        '  |          ^',
      ].join('\n'),
    );
  });

  it('recovers per line: every bad line is reported and every good line still parsed', () => {
    const text = [
      '#! id: x', // 1
      'O fork S', // 2
      'O -> P HELO', // 3 bad
      'O -> P SUSPEND hid=1', // 4
      'P ~> O SUSPENDED hid=0x1', // 5 bad
      '', // 6
      'O frob', // 7 bad
      'P <~ O SUSPEND', // 8
    ].join('\r\n');
    const { events: found, diagnostics } = parseTrace(text, { source: 's' });
    expect(found.map((e) => e.line)).toEqual([2, 4, 8]);
    expect(diagnostics.map((d) => [d.line, d.column, d.endColumn])).toEqual([[3, 8, 11], [5, 22, 24], [7, 3, 6]]);
    for (const d of diagnostics) expect(d).toMatchObject({ code: 'TRACE_SYNTAX', section: '13.1', source: 's', severity: 'error' });
  });
});

describe('parseTraceOrThrow', () => {
  it('returns the events of a good trace', () => {
    expect(parseTraceOrThrow('O fork S\nS trigger T3\n').map((e) => e.name)).toEqual(['fork', 'trigger']);
  });

  it('throws one RebindError(TRACE_SYNTAX) listing every diagnostic with its caret', () => {
    const text = 'O frob\nO close\nO -> P X\n';
    let thrown: unknown;
    try {
      parseTraceOrThrow(text, { source: 'a.trace' });
    } catch (error) {
      thrown = error;
    }
    expect(isRebindError(thrown, 'TRACE_SYNTAX')).toBe(true);
    const error = thrown as Error & { code: string; section: string; detail: { diagnostics: Diagnostic[] } };
    expect(error.code).toBe('ERR_TRACE_SYNTAX');
    expect(error.section).toBe('13.1');
    expect(error.detail.diagnostics.map((d) => d.line)).toEqual([1, 3]);
    expect(error.message).toContain('2 syntax errors in a.trace:\n');
    expect(error.message).toContain('a.trace:1:3: error ERR_TRACE_SYNTAX: unknown action "frob"');
    expect(error.message).toContain('3 | O -> P X\n  |        ^\n');
  });

  it('misuse (not a string) is INVALID_ARGUMENT', () => {
    expect(() => parseTrace(42 as unknown as string)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
  });
});

describe('trace-event schema (urn:rebind:schema:trace-event)', () => {
  const sample = [
    '@0 P connect O',
    '@0.5 O -> P HELLO fast=true acceptor=true cid=0x000102030405060708090a0b0c0d0e0f maxPayload=1048576 credits=0',
    'O fork S # X',
    'S ~> O NEED cid=0x00112233445566778899aabbccddeeff trigger=3',
    'O <~ S NEED',
    'O -> P SUSPEND hid=1 fast=false',
    'P -> O DATA offset=18446744073709551615 data=0x41',
    'P send len=5 data="hello"',
    'O fail code=TIMEOUT reason="a \\"quoted\\" word"',
  ].join('\n');

  it('every parsed event validates', () => {
    for (const e of events(sample)) {
      const result = validateWith('urn:rebind:schema:trace-event', e);
      expect(describeSchemaErrors(result.errors)).toEqual([]);
    }
  });

  it('rejects an action with a peer, a message with arguments, unknown names and non-integer numbers', () => {
    const base = event('O -> P SUSPEND hid=1');
    const invalid = [
      { ...base, kind: 'action' },
      { ...base, args: ['x'] },
      { ...base, peer: undefined },
      { ...base, name: 'HELO' },
      { ...base, fields: { hid: 1.5 } },
      { ...base, fields: { hid: -1 } },
      { ...base, fields: { Hid: 1 } },
      { ...event('O fork S'), peer: 'P' },
      { ...event('O fork S'), name: 'frob' },
      { ...base, extra: 1 },
    ].map((e) => JSON.parse(JSON.stringify(e)) as unknown);
    for (const e of invalid) expect(validateWith('urn:rebind:schema:trace-event', e).valid, JSON.stringify(e)).toBe(false);
  });

  it('its message names and actions are the tables\' (spec/tables/messages.json, ACTIONS)', () => {
    expect(traceEventSchema.$defs.messageName.enum).toEqual(MESSAGES.map((m) => m.name));
    expect(traceEventSchema.$defs.action.enum).toEqual([...ACTIONS]);
  });
});

describe('parseTrace: speed', () => {
  it('parses a 10,000-line trace well under a second', () => {
    const lines = [
      '@12.5 O -> P SUSPEND hid=1 fast=true sendEnd=1200 token=0x00112233445566778899aabbccddeeff addr="tcp://127.0.0.1:40123"',
      'P ~> O DATA offset=18446744073709551615 data=0x414243',
      'O <~ P DATA',
      'O fork S # comment',
      '# a comment line',
    ];
    const text = Array.from({ length: 10_000 }, (_, i) => lines[i % lines.length]).join('\n');
    parseTrace(text); // warm up the JIT
    let best = Infinity;
    let result = parseTrace('');
    for (let run = 0; run < 3; run++) {
      const start = performance.now();
      result = parseTrace(text);
      best = Math.min(best, performance.now() - start);
    }
    expect(result.diagnostics).toEqual([]);
    expect(result.events).toHaveLength(8_000);
    // About 50 ms on a laptop; the margin is for loaded CI machines and coverage instrumentation.
    expect(best).toBeLessThan(750);
  });
});

describe('parseTrace: fuzzing (never throws; every diagnostic is located)', () => {
  /** The invariants of any result, for any input (plain checks: this runs 20,000+ times). */
  function checkResult(text: string): void {
    const result = parseTrace(text, { source: 'fuzz' });
    const lines = text.replace(/^\uFEFF/, '').split('\n').map((l) => l.replace(/\r$/, ''));
    const problems: string[] = [];
    for (const d of result.diagnostics) {
      const lineText = lines[(d.line ?? 0) - 1];
      const column = d.column ?? 0;
      const endColumn = d.endColumn ?? 0;
      if (d.code !== 'TRACE_SYNTAX' || d.section !== '13.1' || d.source !== 'fuzz' || d.message === '') problems.push(`bad diagnostic ${JSON.stringify(d)}`);
      if (lineText === undefined) problems.push(`line ${d.line} outside the text`);
      else if (column < 1 || column > lineText.length + 1) problems.push(`column ${column} outside line ${d.line}`);
      else if (endColumn < column || endColumn > Math.max(column, lineText.length)) problems.push(`endColumn ${endColumn} (column ${column})`);
    }
    for (const e of result.events) if (e.line < 1 || e.line > lines.length) problems.push(`event line ${e.line}`);
    // A line gives an event or a diagnostic, never both.
    const eventLines = new Set(result.events.map((e) => e.line));
    for (const d of result.diagnostics) if (eventLines.has(d.line as number)) problems.push(`line ${d.line} has an event and a diagnostic`);
    if (problems.length > 0) expect({ text, problems }).toEqual({ text, problems: [] });
    // A text read whole (Trace rule) gives the events it gives when read line by line (Line rule,
    // forced here by a bad last line).
    if (result.diagnostics.length === 0) expect(parseTrace(`${text}\nO frob`).events).toEqual(result.events);
  }

  // Pieces of the notation, so random lines get deep into the grammar.
  const pieces = [
    'O', 'P', 'S', 'S2', 'X', '->', '~>', '<~', '-', '~', '<', '>', 'HELLO', 'SUSPEND', 'SUSPENDED', 'DATA', 'HELO',
    'fork', 'trigger', 'send', 'frob', 'T3', 'hid', 'sendEnd', '=', '1', '0', '12345678901234567890', '0x', '0xab',
    '0xABC', 'ff', '"', '\\', '\\u', '\\n', 'true', 'false', '#', '#!', '@', '@1', '@1.5', '.', ' ', ' ', ' ', '\t',
    '\r', '\n', '\r\n', '\u0000', '\u001f', 'é', '😀', '\ud800', '\uFEFF', '_', ':', '/',
  ];
  const piece = fc.oneof(fc.constantFrom(...pieces), fc.string({ maxLength: 3, unit: 'binary' }));
  const randomText = fc.array(piece, { maxLength: 24 }).map((parts) => parts.join(''));

  const validLines = [
    '@12 O -> P SUSPEND hid=1 fast=true sendEnd=1200 token=0x00112233445566778899aabbccddeeff addr="tcp://127.0.0.1:1"',
    'P ~> O SUSPENDED hid=1 sendEnd=300 recvOffset=1200 # D',
    'O <~ P SUSPENDED',
    'S trigger T3',
    'P send len=5 data="he\\"llo"',
    'O fail code=TIMEOUT',
  ];
  type Edit = { at: number; remove: number; insert: string };
  const edit = fc.record({ at: fc.nat(200), remove: fc.nat(3), insert: fc.oneof(fc.constantFrom(...pieces), fc.constant('')) });
  const mutatedLine = fc
    .tuple(fc.constantFrom(...validLines), fc.array(edit, { minLength: 1, maxLength: 4 }))
    .map(([line, edits]) =>
      edits.reduce((text: string, e: Edit) => {
        const at = e.at % (text.length + 1);
        return text.slice(0, at) + e.insert + text.slice(at + e.remove);
      }, line),
    );

  it('random lines from pieces of the notation (12,000 texts)', () => {
    fc.assert(fc.property(randomText, (text) => checkResult(text)), { numRuns: 12_000 });
  });

  it('mutated valid lines (10,000), alone and in multi-line texts', () => {
    fc.assert(fc.property(mutatedLine, (line) => checkResult(line)), { numRuns: 8_000 });
    fc.assert(
      fc.property(fc.array(fc.oneof(mutatedLine, fc.constantFrom(...validLines)), { minLength: 2, maxLength: 8 }), fc.constantFrom('\n', '\r\n'), (lines, eol) =>
        checkResult(lines.join(eol)),
      ),
      { numRuns: 2_000 },
    );
  });

  it('arbitrary unicode text (2,000 texts)', () => {
    fc.assert(fc.property(fc.string({ maxLength: 80, unit: 'binary' }), (text) => checkResult(text)), { numRuns: 2_000 });
  });
});
