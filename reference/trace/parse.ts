/**
 * The parser of the trace notation (spec §13.1), built on `grammar/trace.peggy`.
 *
 * {@link parseTrace} reads a whole trace with the grammar's `Trace` rule; if that fails, it reads
 * it again one line at a time with the `Line` rule, so each bad line gives one `TRACE_SYNTAX`
 * diagnostic and the lines after it are still read. It returns results as data and never throws
 * for any input text. {@link parseTraceOrThrow} is the strict form.
 *
 * Only the notation is checked here (forms, names, value syntax, duplicate fields); which fields a
 * message needs and whether the events are in an allowed order is the ordering checker's (§13.2).
 *
 * @module
 */
import { parse as parseGrammar, SyntaxError as GrammarSyntaxError } from '../../grammar/generated/trace.js';
import { diagnostic, formatDiagnostic, type Diagnostic } from '../diagnostics.js';
import { RebindError } from '../errors.js';
import type { TraceEvent } from './events.js';

/** Options of {@link parseTrace}. */
export interface ParseTraceOptions {
  /** The file name (or other source name) diagnostics refer to. */
  readonly source?: string;
}

/** What {@link parseTrace} found: the events in line order, and one diagnostic per bad line. */
export interface ParseTraceResult {
  readonly events: TraceEvent[];
  readonly diagnostics: Diagnostic[];
}

/** The section every diagnostic of this module cites. */
const SECTION = '13.1';

/** A blank line or a comment line (front matter included): no event, no need for the grammar. */
const BLANK_OR_COMMENT = /^[ \t]*(?:#|\r?$)/;

/**
 * Parses a trace (§13.1). Lines end with LF or CRLF; a leading byte-order mark is ignored.
 * Events carry their 1-based line and column in `text`. Every syntax error is a `TRACE_SYNTAX`
 * diagnostic with the line, the column and the last column of the offending token.
 *
 * @example
 * ```ts
 * const { events, diagnostics } = parseTrace('O -> P SUSPEND hid=1\nP ~> O SUSPENDED hid=1 sendEnd=0 recvOffset=0\n');
 * ```
 */
export function parseTrace(text: string, options: ParseTraceOptions = {}): ParseTraceResult {
  if (typeof text !== 'string') {
    throw new RebindError('INVALID_ARGUMENT', `parseTrace expects a string, got ${typeof text}`, { section: SECTION });
  }
  const body = text.startsWith('\uFEFF') ? text.slice(1) : text;
  // Fast path: the whole text at once (one parser run; the grammar numbers the lines itself).
  try {
    return { events: parseGrammar(body, { startRule: 'Trace', grammarSource: options.source }) as TraceEvent[], diagnostics: [] };
  } catch (error) {
    if (!(error instanceof GrammarSyntaxError)) throw error;
  }
  // Some line is bad: read line by line, so that every bad line is reported and every good one kept.
  const events: TraceEvent[] = [];
  const diagnostics: Diagnostic[] = [];
  const lines = body.split('\n');
  for (let index = 0; index < lines.length; index++) {
    // The line keeps its CR, if any: the grammar reads CRLF exactly as the Trace rule does.
    const lineText = lines[index] as string;
    if (BLANK_OR_COMMENT.test(lineText)) continue;
    const line = index + 1;
    try {
      const event = parseGrammar(lineText, { startRule: 'Line', grammarSource: options.source }) as TraceEvent | null;
      // The grammar saw a single line, so it numbered it 1; give it its place in the text.
      if (event !== null) events.push({ ...event, line });
    } catch (error) {
      // Anything but a grammar error is a bug in the grammar's actions: let it surface.
      if (!(error instanceof GrammarSyntaxError)) throw error;
      diagnostics.push(toDiagnostic(error, line, lineText, options.source));
    }
  }
  return { events, diagnostics };
}

/**
 * Parses a trace and throws a `RebindError` (`TRACE_SYNTAX`, §13.1) if any line is bad. The error's
 * message lists every diagnostic with its source line and caret; `detail.diagnostics` has them as data.
 */
export function parseTraceOrThrow(text: string, options: ParseTraceOptions = {}): TraceEvent[] {
  const { events, diagnostics } = parseTrace(text, options);
  if (diagnostics.length === 0) return events;
  const count = diagnostics.length === 1 ? '1 syntax error' : `${diagnostics.length} syntax errors`;
  const listing = diagnostics.map((d) => formatDiagnostic(d, text)).join('\n');
  throw new RebindError('TRACE_SYNTAX', `${count} in ${options.source ?? '<input>'}:\n${listing}\n`, {
    section: SECTION,
    detail: { diagnostics },
  });
}

/** Turns the grammar's error for one line into a located diagnostic. */
function toDiagnostic(error: GrammarSyntaxError, line: number, lineText: string, source: string | undefined): Diagnostic {
  const column = error.location.start.column;
  // The grammar's own errors (error() in an action) carry the offending token's range; peggy's
  // generic "expected" errors point at one character, so the token is measured here.
  const generic = error.expected !== null;
  const endColumn = generic ? tokenEnd(lineText, column) : Math.max(column, error.location.end.column - 1);
  const message = generic ? describeExpected(error, lineText, column, endColumn) : error.message;
  return diagnostic('TRACE_SYNTAX', message, SECTION, {
    ...(source !== undefined ? { source } : {}),
    line,
    column,
    endColumn,
  });
}

/** The last column of the run of non-blank characters that starts at `column` (at least `column`). */
function tokenEnd(lineText: string, column: number): number {
  let end = column;
  while (end < lineText.length && !/[ \t\r]/.test(lineText[end] as string)) end++;
  return Math.max(column, end);
}

/**
 * Words for one of peggy's generic errors. The grammar reports its errors itself, so this is only
 * a safety net: `expected "->" or "~>", found "x"`.
 */
function describeExpected(error: GrammarSyntaxError, lineText: string, column: number, endColumn: number): string {
  const wanted = [...new Set((error.expected ?? []).map((e) => e.description ?? e.text ?? e.type))].sort();
  const list = wanted.length < 2 ? wanted.join('') : `${wanted.slice(0, -1).join(', ')} or ${wanted[wanted.length - 1]}`;
  const token = lineText.slice(column - 1, endColumn);
  return `expected ${list}, found ${token === '' ? 'the end of the line' : JSON.stringify(token)}`;
}
