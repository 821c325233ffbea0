import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { isRebindError } from '../../../reference/errors.js';
import { validateWith } from '../../../reference/schemas.js';
import { MESSAGES } from '../../../reference/tables.js';
import {
  ACTIONS, eventToJson, formatEvent, formatTrace, parseTrace, type FieldValue, type TraceEvent,
} from '../../../reference/trace/index.js';

/** An event as the formatter sees it: what a trace hook would emit (no location). */
function ev(partial: Partial<TraceEvent> & Pick<TraceEvent, 'actor' | 'kind' | 'name'>): TraceEvent {
  return { line: 1, column: 1, args: [], fields: {}, ...partial };
}

/** What survives a round trip through the text: everything but locations and comments. */
function essence(e: TraceEvent): Omit<TraceEvent, 'line' | 'column' | 'fieldColumns' | 'comment'> {
  const { line: _line, column: _column, fieldColumns: _fieldColumns, comment: _comment, ...rest } = eventToJson(e);
  return rest;
}

function throwsInvalid(e: TraceEvent, pattern: RegExp): void {
  let thrown: unknown;
  try {
    formatEvent(e);
  } catch (error) {
    thrown = error;
  }
  expect(isRebindError(thrown, 'INVALID_ARGUMENT')).toBe(true);
  expect((thrown as Error).message).toMatch(pattern);
}

describe('formatEvent: the canonical line (§13.1)', () => {
  it('the four forms, single spaces, fields in the given order', () => {
    expect(formatEvent(ev({ actor: 'O', kind: 'deliver', peer: 'P', name: 'SUSPEND', fields: { hid: 1, fast: false } }))).toBe('O -> P SUSPEND hid=1 fast=false');
    expect(formatEvent(ev({ actor: 'P', kind: 'send', peer: 'O', name: 'SUSPENDED', fields: { recvOffset: 9, hid: 1, sendEnd: 0 } }))).toBe(
      'P ~> O SUSPENDED recvOffset=9 hid=1 sendEnd=0',
    );
    expect(formatEvent(ev({ actor: 'O', kind: 'receive', peer: 'P', name: 'SUSPENDED' }))).toBe('O <~ P SUSPENDED');
    expect(formatEvent(ev({ actor: 'O', kind: 'action', name: 'fork', args: ['S'] }))).toBe('O fork S');
    expect(formatEvent(ev({ actor: 'P', kind: 'action', name: 'send', fields: { len: 5, data: 'hello' } }))).toBe('P send len=5 data="hello"');
    // Text fields are quoted so that text never reads as hex (§13.1): "0xab" is text, 0xab a byte.
    expect(formatEvent(ev({ actor: 'P', kind: 'action', name: 'send', fields: { len: 4, data: '0xab' } }))).toBe('P send len=4 data=0xab');
    expect(formatEvent(ev({ actor: 'O', kind: 'action', name: 'fail', fields: { code: 'TIMEOUT', reason: 'late' } }))).toBe('O fail code=TIMEOUT reason="late"');
    expect(formatEvent(ev({ actor: 'S', kind: 'action', name: 'connect', args: ['P', 'x'], fields: { a: true } }))).toBe('S connect P x a=true');
  });

  it('time: @ and milliseconds with at most 3 decimals, no trailing zeros, no exponent', () => {
    const at = (time: number) => formatEvent(ev({ time, actor: 'O', kind: 'action', name: 'close' }));
    expect(at(0)).toBe('@0 O close');
    expect(at(12)).toBe('@12 O close');
    expect(at(12.25)).toBe('@12.25 O close');
    expect(at(100)).toBe('@100 O close');
    expect(at(0.001)).toBe('@0.001 O close');
    expect(at(1.0004)).toBe('@1 O close');
    expect(at(2.5e-7)).toBe('@0 O close');
    expect(at(1e21)).toBe('@1000000000000000000000 O close');
    expect(at(123456789.125)).toBe('@123456789.125 O close');
  });

  it('strings: bare when they read back as the same string, quoted with JSON escapes otherwise', () => {
    const value = (v: FieldValue) => formatEvent(ev({ actor: 'O', kind: 'deliver', peer: 'P', name: 'DATA', fields: { v } })).slice('O -> P DATA v='.length);
    expect(value('fig9')).toBe('fig9');
    expect(value('tcp://127.0.0.1:40123')).toBe('tcp://127.0.0.1:40123');
    expect(value('0xab00')).toBe('0xab00'); // reads back as the same hex string
    expect(value('18446744073709551615')).toBe('18446744073709551615'); // too big for a number: reads back as a string
    expect(value('0xAB')).toBe('"0xAB"'); // would read back lower-cased
    expect(value('0xabc')).toBe('"0xabc"'); // odd: not hex
    expect(value('12')).toBe('"12"'); // would read back as a number
    expect(value('9007199254740991')).toBe('"9007199254740991"');
    expect(value('018446744073709551615')).toBe('"018446744073709551615"'); // would lose its zero
    expect(value('true')).toBe('"true"');
    expect(value('false')).toBe('"false"');
    expect(value('')).toBe('""');
    expect(value('a b')).toBe('"a b"');
    expect(value('a#b')).toBe('"a#b"');
    expect(value('say "hi"\n')).toBe(String.raw`"say \"hi\"\n"`);
    expect(value('é')).toBe('"é"');
    expect(value('-1')).toBe('"-1"');
  });

  it('numbers and booleans', () => {
    const value = (v: FieldValue) => formatEvent(ev({ actor: 'O', kind: 'action', name: 'send', fields: { v } })).slice('O send v='.length);
    expect(value(0)).toBe('0');
    expect(value(Number.MAX_SAFE_INTEGER)).toBe('9007199254740991');
    expect(value(true)).toBe('true');
    expect(value(false)).toBe('false');
  });

  it('a comment goes last, on the same line', () => {
    expect(formatEvent(ev({ actor: 'O', kind: 'action', name: 'fork', args: ['S'], comment: 'X: no wire traffic' }))).toBe('O fork S # X: no wire traffic');
    expect(formatEvent(ev({ actor: 'O', kind: 'action', name: 'fork', args: ['S'], comment: 'two\nlines' }))).toBe('O fork S # two lines');
    expect(formatEvent(ev({ actor: 'O', kind: 'action', name: 'fork', args: ['S'], comment: '  ' }))).toBe('O fork S');
  });

  it('skips fields whose value is undefined (events built in JavaScript)', () => {
    const fields = { hid: 1, fast: undefined } as unknown as Record<string, FieldValue>;
    expect(formatEvent(ev({ actor: 'O', kind: 'deliver', peer: 'P', name: 'SUSPEND', fields }))).toBe('O -> P SUSPEND hid=1');
  });

  it('refuses, with INVALID_ARGUMENT, events the notation cannot express', () => {
    throwsInvalid(ev({ actor: 'o', kind: 'action', name: 'close' }), /invalid actor "o"/);
    throwsInvalid(ev({ actor: 'O', kind: 'deliver', name: 'HELLO' }), /invalid peer actor ""/);
    throwsInvalid(ev({ actor: 'O', kind: 'deliver', peer: 'P', name: 'HELO' }), /unknown message "HELO"/);
    throwsInvalid(ev({ actor: 'O', kind: 'deliver', peer: 'P', name: 'HELLO', args: ['x'] }), /a message has no arguments/);
    throwsInvalid(ev({ actor: 'O', kind: 'action', name: 'frob' }), /unknown action "frob"/);
    throwsInvalid(ev({ actor: 'O', kind: 'action', peer: 'P', name: 'close' }), /an action has no peer/);
    throwsInvalid(ev({ actor: 'O', kind: 'action', name: 'fork', args: ['a b'] }), /invalid action argument "a b"/);
    throwsInvalid(ev({ actor: 'O', kind: 'oops' as 'send', peer: 'P', name: 'HELLO' }), /unknown event kind "oops"/);
    throwsInvalid(ev({ actor: 'O', kind: 'action', name: 'send', fields: { Len: 1 } }), /invalid field name "Len"/);
    throwsInvalid(ev({ actor: 'O', kind: 'action', name: 'send', fields: { len: -1 } }), /field "len": numbers must be safe integers >= 0/);
    throwsInvalid(ev({ actor: 'O', kind: 'action', name: 'send', fields: { len: 1.5 } }), /numbers must be safe integers/);
    throwsInvalid(ev({ actor: 'O', kind: 'action', name: 'send', fields: { len: 2 ** 53 } }), /numbers must be safe integers/);
    throwsInvalid(ev({ actor: 'O', kind: 'action', name: 'send', fields: { len: {} as unknown as FieldValue } }), /unsupported value of type object/);
    throwsInvalid(ev({ time: -1, actor: 'O', kind: 'action', name: 'close' }), /time must be a finite number/);
    throwsInvalid(ev({ time: Number.NaN, actor: 'O', kind: 'action', name: 'close' }), /time must be a finite number/);
  });
});

describe('formatTrace', () => {
  it('one line per event, each ending with LF; nothing for no events', () => {
    const events = [ev({ actor: 'O', kind: 'action', name: 'fork', args: ['S'] }), ev({ actor: 'S', kind: 'action', name: 'trigger', args: ['T3'] })];
    expect(formatTrace(events)).toBe('O fork S\nS trigger T3\n');
    expect(formatTrace([])).toBe('');
  });

  it('canonicalises a hand-written trace, and the canonical text is a fixed point', () => {
    const text = [
      '#! id: x',
      '@0012.50   O  ->  P\tSUSPEND hid=001 fast=true sendEnd=1200 token=0xAABB addr="tcp://h:1"   # C',
      'P~>O SUSPENDED hid=1 sendEnd="7" recvOffset=1200',
      '',
      'O <~P SUSPENDED',
      'O   fork S',
    ].join('\r\n');
    const canonical = [
      '@12.5 O -> P SUSPEND hid=1 fast=true sendEnd=1200 token=0xaabb addr="tcp://h:1" # C',
      'P ~> O SUSPENDED hid=1 sendEnd="7" recvOffset=1200',
      'O <~ P SUSPENDED',
      'O fork S',
      '',
    ].join('\n');
    const once = formatTrace(parseTrace(text).events);
    expect(once).toBe(canonical);
    expect(formatTrace(parseTrace(once).events)).toBe(canonical);
  });
});

describe('eventToJson', () => {
  it('a plain copy with only the properties that are present', () => {
    const e = { ...ev({ actor: 'O', kind: 'action', name: 'fork', args: ['S'] }), time: undefined, peer: undefined, comment: undefined };
    const json = eventToJson(e);
    expect(Object.keys(json)).toEqual(['line', 'column', 'actor', 'kind', 'name', 'args', 'fields']);
    expect(json.args).not.toBe(e.args);
    expect(validateWith('urn:rebind:schema:trace-event', json).errors).toEqual([]);
  });

  it('keeps every present property, in the order of the interface', () => {
    const [parsed] = parseTrace('@1.5 O -> P SUSPEND hid=1 # c').events;
    expect(JSON.stringify(eventToJson(parsed as TraceEvent))).toBe(
      '{"line":1,"column":1,"time":1.5,"actor":"O","kind":"deliver","peer":"P","name":"SUSPEND","args":[],"fields":{"hid":1},"fieldColumns":{"hid":21},"comment":"c"}',
    );
  });

  it('drops fields whose value is undefined', () => {
    const fields = { a: 1, b: undefined } as unknown as Record<string, FieldValue>;
    expect(eventToJson(ev({ actor: 'O', kind: 'action', name: 'send', fields })).fields).toEqual({ a: 1 });
  });
});

describe('round trip: parseTrace(formatTrace(events)) gives the events back (fast-check)', () => {
  const actor = fc.stringMatching(/^[A-Z][A-Za-z0-9]{0,3}$/);
  const bareWord = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_.:/-]{0,8}$/);
  const key = fc.stringMatching(/^[a-z][A-Za-z0-9]{0,7}$/);
  const value: fc.Arbitrary<FieldValue> = fc.oneof(
    fc.maxSafeNat(),
    fc.nat(5000),
    fc.bigInt({ min: BigInt(Number.MAX_SAFE_INTEGER) + 1n, max: 2n ** 64n - 1n }).map(String),
    fc.uint8Array({ minLength: 1, maxLength: 20 }).map((b) => `0x${Buffer.from(b).toString('hex')}`),
    fc.boolean(),
    bareWord,
    fc.string({ unit: 'binary', maxLength: 12 }),
    fc.string({ unit: fc.constantFrom('"', '\\', '#', ' ', '\t', '\n', '\r', '\u0000', '=', 'a', '0', 'x', 'A'), maxLength: 8 }),
    fc.constantFrom('true', 'false', '12', '0', '007', '0xAB', '0xabc', '0x', '-1', '1.5', '', ' ', 'T3', 'fig9', '\ud800'),
  );
  const fields = fc.dictionary(key, value, { maxKeys: 5 });
  const time = fc.option(fc.oneof(fc.nat(10_000_000).map((n) => n / 1000), fc.maxSafeNat()), { nil: undefined });

  const message = fc.record({
    time,
    actor,
    kind: fc.constantFrom('deliver' as const, 'send' as const, 'receive' as const),
    peer: actor,
    name: fc.constantFrom(...MESSAGES.map((m) => m.name)),
    fields,
  }).map((m): TraceEvent => ({ line: 1, column: 1, args: [], ...m }));
  const action = fc.record({
    time,
    actor,
    name: fc.constantFrom(...ACTIONS),
    args: fc.array(bareWord, { maxLength: 3 }),
    fields,
  }).map((a): TraceEvent => ({ line: 1, column: 1, kind: 'action', ...a }));
  const event = fc.oneof(message, action).map((e) => eventToJson(e)); // drop an absent time

  it('for random events of every form and value kind (2,000 traces)', () => {
    fc.assert(
      fc.property(fc.array(event, { maxLength: 6 }), (events) => {
        const text = formatTrace(events);
        const parsed = parseTrace(text);
        expect(parsed.diagnostics).toEqual([]);
        expect(parsed.events.map(essence)).toEqual(events.map(essence));
        expect(parsed.events.map((e) => e.line)).toEqual(events.map((_, i) => i + 1));
        expect(formatTrace(parsed.events)).toBe(text);
      }),
      { numRuns: 2_000 },
    );
  });

  it('every formatted event is one line that validates against the trace-event schema once parsed', () => {
    fc.assert(
      fc.property(event, (e) => {
        const line = formatEvent(e);
        expect(line).not.toMatch(/[\r\n]/);
        const [parsed] = parseTrace(line).events;
        expect(validateWith('urn:rebind:schema:trace-event', parsed).errors).toEqual([]);
      }),
      { numRuns: 1_000 },
    );
  });
});
