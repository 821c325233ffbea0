/**
 * Diagnostics: what the trace parser, the ordering checker and the vector tools report about a
 * file. Results are data; nothing here throws. Format follows compilers (and peggy):
 * `file:line:column: error ERR_NAME: message (§section)`, then the source line and a caret.
 *
 * @module
 */
import type { ErrorName } from './errors.js';

/** One finding about an input, located where possible. Lines and columns are 1-based. */
export interface Diagnostic {
  /** The spec's error name (§12), e.g. `TRACE_ORDER`. */
  readonly code: ErrorName;
  readonly severity: 'error' | 'warning';
  readonly message: string;
  /** The spec section the finding cites, e.g. "6.2". */
  readonly section: string;
  /** The file (or other source name) the location refers to. */
  readonly source?: string;
  readonly line?: number;
  readonly column?: number;
  /** Last column (inclusive) of the span the caret underlines, on the same line. */
  readonly endColumn?: number;
}

/** Builds an error diagnostic. */
export function diagnostic(
  code: ErrorName,
  message: string,
  section: string,
  where: { source?: string; line?: number; column?: number; endColumn?: number } = {},
): Diagnostic {
  return { code, severity: 'error', message, section, ...where };
}

/**
 * Renders a diagnostic for people. With the source text, the offending line is shown with a caret
 * (or a run of carets for a span) under the column.
 */
export function formatDiagnostic(d: Diagnostic, sourceText?: string): string {
  const place = [d.source ?? '<input>', d.line, d.line !== undefined ? (d.column ?? 1) : undefined]
    .filter((part) => part !== undefined)
    .join(':');
  const head = `${place}: ${d.severity} ERR_${d.code}: ${d.message} (§${d.section})`;
  if (sourceText === undefined || d.line === undefined) return head;
  const lineText = sourceText.split(/\r?\n/)[d.line - 1];
  if (lineText === undefined) return head;
  const column = Math.max(1, d.column ?? 1);
  const width = Math.max(1, (d.endColumn ?? column) - column + 1);
  const gutter = String(d.line).length;
  return [
    head,
    `${' '.repeat(gutter)} |`,
    `${d.line} | ${lineText}`,
    `${' '.repeat(gutter)} | ${' '.repeat(column - 1)}${'^'.repeat(width)}`,
  ].join('\n');
}
