import { describe, expect, it } from 'vitest';
import {
  FRONT_MATTER_KEYS,
  TRACE_VECTOR_SCHEMA_ID,
  formatFrontMatter,
  parseVectorFile,
  vectorFileName,
  type TraceVectorMeta,
} from '../../conformance/vector-file.js';
import { formatDiagnostic } from '../../reference/diagnostics.js';
import { schemaIds, validateWith } from '../../reference/schemas.js';

const VALID = [
  '#! id: trace.test.example',
  '#! title: An example',
  '#! sections: 6.2, 6.5',
  '#! level: MUST',
  '#! result: valid',
  '#! comment: Catches nothing',
  'O -> P SUSPEND fast=false hid=1',
  '',
].join('\n');

const INVALID = [
  '#! id: trace.test.reject',
  '#! title: A must-reject example',
  '#! sections: 6.7',
  '#! level: SHOULD',
  '#! result: invalid',
  '#! comment: Catches late data',
  '#! error: TRACE_ORDER',
  '#! violates: 6.7',
  '#! line: 11',
  '# the trace',
  'P -> O DATA offset=0 data="x"',
  '',
].join('\n');

/** Replaces line `n` (1-based) of `text`. */
function withLine(text: string, n: number, replacement: string | null): string {
  const lines = text.split('\n');
  if (replacement === null) lines.splice(n - 1, 1);
  else lines[n - 1] = replacement;
  return lines.join('\n');
}

/** The diagnostics as `line:column message` for compact, exact assertions. */
function found(text: string): string[] {
  return parseVectorFile(text, 'v.trace').diagnostics.map((d) => `${d.line}:${d.column} ${d.message}`);
}

describe('parseVectorFile: well-formed front matter', () => {
  it('reads a valid vector into typed metadata', () => {
    const result = parseVectorFile(VALID, 'v.trace');
    expect(result.diagnostics).toEqual([]);
    expect(result.meta).toEqual({
      id: 'trace.test.example', title: 'An example', sections: ['6.2', '6.5'], level: 'MUST', result: 'valid', comment: 'Catches nothing',
    });
    expect(result.frontMatterLines).toBe(6);
    expect(result.entries[2]).toEqual({ key: 'sections', value: '6.2, 6.5', line: 3, keyColumn: 4, valueColumn: 14 });
  });

  it('reads a must-reject vector: error, violates and line (a number)', () => {
    const result = parseVectorFile(INVALID, 'v.trace');
    expect(result.diagnostics).toEqual([]);
    expect(result.meta).toMatchObject({ result: 'invalid', error: 'TRACE_ORDER', violates: '6.7', line: 11, level: 'SHOULD' });
  });

  it('accepts CRLF line ends', () => {
    expect(parseVectorFile(VALID.replace(/\n/g, '\r\n'), 'v.trace').meta?.id).toBe('trace.test.example');
  });
});

describe('parseVectorFile: VECTOR_SCHEMA diagnostics with exact line and column', () => {
  it('every diagnostic is VECTOR_SCHEMA, cites §13.3 and names the source', () => {
    const [d] = parseVectorFile(withLine(VALID, 4, '#! level: MAY'), 'dir/v.trace').diagnostics;
    expect(d).toMatchObject({ code: 'VECTOR_SCHEMA', severity: 'error', section: '13.3', source: 'dir/v.trace', line: 4, column: 11 });
  });

  it('an unknown key: at the key', () => {
    expect(found(withLine(VALID, 6, '#! remark: no such key'))).toEqual([
      '6:4 unknown front matter key `remark` (known: id, title, sections, level, result, comment, error, violates, line)',
      '1:1 missing front matter key `comment`',
    ].sort());
  });

  it('a duplicate key: at its second use', () => {
    const text = withLine(VALID, 3, '#! sections: 6.2\n#!  title: Again');
    expect(found(text)).toEqual(['4:5 duplicate front matter key `title` (first on line 2)']);
  });

  it('a missing required key: at line 1, column 1', () => {
    expect(found(withLine(VALID, 2, null))).toEqual(['1:1 missing front matter key `title`']);
    expect(found('O -> P SUSPEND fast=false hid=1\n')).toHaveLength(6);
  });

  it('a must-reject vector without error and violates: at the result value', () => {
    const text = withLine(withLine(INVALID, 8, null), 7, null).replace('#! line: 11', '#! line: 9');
    expect(found(text)).toEqual([
      '5:12 missing front matter key `error`: required when result is invalid',
      '5:12 missing front matter key `violates`: required when result is invalid',
    ]);
  });

  it('error, violates or line on a valid vector: at the value', () => {
    expect(found(VALID.replace('#! comment: Catches nothing', '#! comment: Catches nothing\n#! line: 7'))).toEqual([
      '7:10 `line` is only allowed when result is invalid',
    ]);
  });

  it('bad values: at the value', () => {
    expect(found(withLine(VALID, 1, '#! id: Trace.Fig9'))).toEqual(['1:8 `id` must match ^[a-z0-9]+(\\.[a-z0-9-]+)+$']);
    expect(found(withLine(VALID, 1, '#! id: single'))).toEqual(['1:8 `id` must match ^[a-z0-9]+(\\.[a-z0-9-]+)+$']);
    expect(found(withLine(VALID, 5, '#! result: maybe'))).toEqual(['5:12 `result` must be one of valid, invalid']);
    expect(found(withLine(VALID, 3, '#! sections: 6.2, , 6.x'))).toEqual([
      '3:14 `sections` must match ^([1-9][0-9]?(\\.[1-9][0-9]?)?|[AB])$ (item 2)',
      '3:14 `sections` must match ^([1-9][0-9]?(\\.[1-9][0-9]?)?|[AB])$ (item 3)',
    ]);
    expect(found(withLine(VALID, 2, '#! title:'))).toEqual(['2:10 `title` must NOT have fewer than 1 characters']);
    expect(found(withLine(INVALID, 9, '#! line: eleven'))).toEqual(['9:10 `line` must be integer']);
  });

  it('an error name that §12 does not define: at the value, underlined', () => {
    const [d] = parseVectorFile(withLine(INVALID, 7, '#! error: TRACE_WHATEVER'), 'v.trace').diagnostics;
    expect(d).toMatchObject({ line: 7, column: 11, endColumn: 24, message: '`error` TRACE_WHATEVER is not an error name of §12' });
  });

  it('a line that is not in the trace: at the value', () => {
    expect(found(withLine(INVALID, 9, '#! line: 3'))).toEqual(['9:10 `line` 3 is not a line of the trace (lines 10..11)']);
    expect(found(withLine(INVALID, 9, '#! line: 12'))).toEqual(['9:10 `line` 12 is not a line of the trace (lines 10..11)']);
  });

  it('a malformed line: at column 1', () => {
    expect(found(withLine(VALID, 6, '#! comment Catches nothing'))).toEqual([
      '1:1 missing front matter key `comment`',
      '6:1 front matter line must read `#! key: value`',
    ]);
  });

  it('front matter after the trace began: at the line', () => {
    expect(found(`${VALID}#! level: SHOULD\n`)).toEqual(['8:1 front matter must come first: `#!` line after the trace began']);
    // A blank line ends the front matter too.
    expect(found(withLine(VALID, 3, '\n#! sections: 6.2'))).toEqual([
      '4:1 front matter must come first: `#!` line after the trace began',
      '5:1 front matter must come first: `#!` line after the trace began',
      '6:1 front matter must come first: `#!` line after the trace began',
      '7:1 front matter must come first: `#!` line after the trace began',
    ]);
  });

  it('diagnostics render with the source line and a caret', () => {
    const text = withLine(VALID, 4, '#! level: MAY');
    const [d] = parseVectorFile(text, 'v.trace').diagnostics;
    expect(formatDiagnostic(d!, text)).toBe([
      'v.trace:4:11: error ERR_VECTOR_SCHEMA: `level` must be one of MUST, SHOULD (§13.3)',
      '  |',
      '4 | #! level: MAY',
      '  |           ^',
    ].join('\n'));
  });

  it('returns no metadata when anything is wrong', () => {
    expect(parseVectorFile(withLine(VALID, 4, '#! level: MAY'), 'v.trace').meta).toBeUndefined();
  });
});

describe('the trace-vector schema and the canonical form', () => {
  it('is loaded by the schema registry with its $id', () => {
    expect(schemaIds()).toContain(TRACE_VECTOR_SCHEMA_ID);
    expect(schemaIds()).toContain('urn:rebind:schema:check-report');
  });

  it('rejects what the front matter cannot express: extra keys, an empty sections list', () => {
    const meta = { id: 'trace.a.b', title: 't', sections: [], level: 'MUST', result: 'valid', comment: 'c' };
    expect(validateWith(TRACE_VECTOR_SCHEMA_ID, meta).valid).toBe(false);
    expect(validateWith(TRACE_VECTOR_SCHEMA_ID, { ...meta, sections: ['6.2'], extra: 1 }).valid).toBe(false);
    expect(validateWith(TRACE_VECTOR_SCHEMA_ID, { ...meta, sections: ['6.2'] }).valid).toBe(true);
  });

  it('formatFrontMatter writes the keys in canonical order and parses back', () => {
    const meta = parseVectorFile(INVALID, 'v.trace').meta as TraceVectorMeta;
    const text = formatFrontMatter(meta);
    expect(text.split('\n').slice(0, -1).map((l) => /^#! (\w+):/.exec(l)?.[1])).toEqual([...FRONT_MATTER_KEYS]);
    expect(text + INVALID.split('\n').slice(9).join('\n')).toBe(INVALID);
  });

  it('vectorFileName is the id\'s last part', () => {
    expect(vectorFileName('trace.fig9.stop-and-wait')).toBe('stop-and-wait.trace');
  });
});
