/**
 * Trace vector files (spec §13.3): `vectors/traces/*.trace`. A vector file is a trace in the notation
 * of §13.1 preceded by front matter, one `#! key: value` line per key:
 *
 * ```
 * #! id: trace.fig9.stop-and-wait
 * #! title: The Fig. 9 run in stop-and-wait order
 * #! sections: 6.2, 6.5
 * #! level: MUST
 * #! result: invalid
 * #! comment: what bug this vector catches
 * #! error: TRACE_ORDER
 * #! violates: 6.7
 * #! line: 40
 * ```
 *
 * `#!` lines are comments to the trace grammar, so the whole file is handed to the trace parser and
 * its line numbers stay those of the file. This module reads the front matter only; problems are
 * VECTOR_SCHEMA diagnostics (data, never thrown) located at the offending key or value.
 *
 * @module
 */
import { diagnostic, type Diagnostic } from '../reference/diagnostics.js';
import { isErrorName, type ErrorName } from '../reference/errors.js';
import { validateWith } from '../reference/schemas.js';

/** The `$id` of the front matter's JSON Schema, spec/schemas/trace-vector.schema.json. */
export const TRACE_VECTOR_SCHEMA_ID = 'urn:rebind:schema:trace-vector';

/** The section that defines vector files (§13.3); every VECTOR_SCHEMA diagnostic cites it. */
const VECTOR_SECTION = '13.3';

/** Front matter keys in their canonical order. */
export const FRONT_MATTER_KEYS = ['id', 'title', 'sections', 'level', 'result', 'comment', 'error', 'violates', 'line'] as const;

/** One front matter key. */
export type FrontMatterKey = (typeof FRONT_MATTER_KEYS)[number];

/** Keys every vector has; must-reject vectors also need `error` and `violates`. */
export const REQUIRED_KEYS: readonly FrontMatterKey[] = ['id', 'title', 'sections', 'level', 'result', 'comment'];

/** The metadata of a trace vector, as validated by the trace-vector schema. */
export interface TraceVectorMeta {
  /** Dotted lower-case id; its last part is the file name (`trace.fig9.stop-and-wait` → `stop-and-wait.trace`). */
  readonly id: string;
  readonly title: string;
  /** The spec sections the vector checks, e.g. ["6.2", "6.5"]. */
  readonly sections: readonly string[];
  readonly level: 'MUST' | 'SHOULD';
  /** `valid`: the checker must accept the trace; `invalid`: it must reject it. */
  readonly result: 'valid' | 'invalid';
  /** What bug this vector catches. */
  readonly comment: string;
  /** Must-reject vectors: the error name the first diagnostic must carry. */
  readonly error?: ErrorName;
  /** Must-reject vectors: the section the first diagnostic must cite. */
  readonly violates?: string;
  /** Must-reject vectors: the line the first diagnostic must point at. */
  readonly line?: number;
}

/** One `#! key: value` line as written. Columns are 1-based. */
export interface FrontMatterEntry {
  readonly key: string;
  readonly value: string;
  readonly line: number;
  readonly keyColumn: number;
  readonly valueColumn: number;
}

/** What {@link parseVectorFile} found. */
export interface VectorFile {
  /** The metadata, or `undefined` when the front matter has any problem. */
  readonly meta: TraceVectorMeta | undefined;
  /** VECTOR_SCHEMA findings, in line order. Empty when `meta` is defined. */
  readonly diagnostics: Diagnostic[];
  /** The front matter lines as written, in file order. */
  readonly entries: readonly FrontMatterEntry[];
  /** Number of front matter lines (the trace starts on the line after). */
  readonly frontMatterLines: number;
}

const ENTRY = /^#!\s*(?<key>[A-Za-z_][A-Za-z0-9_-]*)\s*:[ \t]*(?<value>.*?)\s*$/;

function isKey(key: string): key is FrontMatterKey {
  return (FRONT_MATTER_KEYS as readonly string[]).includes(key);
}

/**
 * Reads and validates the front matter of a trace vector file. Never throws for bad input: every
 * problem is a VECTOR_SCHEMA diagnostic with the line and column of the key or value at fault
 * (missing keys are reported at line 1, column 1).
 */
export function parseVectorFile(text: string, source: string): VectorFile {
  const lines = text.split(/\r?\n/);
  const diagnostics: Diagnostic[] = [];
  const entries: FrontMatterEntry[] = [];
  const at = (line: number, column: number, endColumn?: number) =>
    endColumn === undefined ? { source, line, column } : { source, line, column, endColumn };

  // 1. The front matter is the run of `#!` lines at the top of the file.
  let frontMatterLines = 0;
  while (frontMatterLines < lines.length && (lines[frontMatterLines] ?? '').startsWith('#!')) frontMatterLines++;
  // Keys on misplaced lines are reported there, not again as missing.
  const misplacedKeys = new Set<string>();
  lines.forEach((lineText, index) => {
    if (index >= frontMatterLines && lineText.startsWith('#!')) {
      diagnostics.push(diagnostic('VECTOR_SCHEMA', 'front matter must come first: `#!` line after the trace began', VECTOR_SECTION, at(index + 1, 1, 2)));
      const key = ENTRY.exec(lineText)?.groups?.['key'];
      if (key !== undefined) misplacedKeys.add(key);
    }
  });

  // 2. Each line is `#! key: value`; keys are known and appear once.
  const byKey = new Map<FrontMatterKey, FrontMatterEntry>();
  for (let index = 0; index < frontMatterLines; index++) {
    const lineText = lines[index] ?? '';
    const match = ENTRY.exec(lineText);
    if (!match?.groups) {
      diagnostics.push(diagnostic('VECTOR_SCHEMA', 'front matter line must read `#! key: value`', VECTOR_SECTION, at(index + 1, 1, Math.max(2, lineText.length))));
      continue;
    }
    const key = match.groups['key'] ?? '';
    const value = match.groups['value'] ?? '';
    const keyColumn = lineText.indexOf(key, 2) + 1;
    const valueColumn = value === '' ? lineText.length + 1 : lineText.indexOf(value, keyColumn + key.length) + 1;
    const entry: FrontMatterEntry = { key, value, line: index + 1, keyColumn, valueColumn };
    entries.push(entry);
    if (!isKey(key)) {
      diagnostics.push(diagnostic('VECTOR_SCHEMA', `unknown front matter key \`${key}\` (known: ${FRONT_MATTER_KEYS.join(', ')})`, VECTOR_SECTION, at(entry.line, keyColumn, keyColumn + key.length - 1)));
      continue;
    }
    const first = byKey.get(key);
    if (first) {
      diagnostics.push(diagnostic('VECTOR_SCHEMA', `duplicate front matter key \`${key}\` (first on line ${first.line})`, VECTOR_SECTION, at(entry.line, keyColumn, keyColumn + key.length - 1)));
      continue;
    }
    byKey.set(key, entry);
  }

  // 3. Values become typed data, then the schema judges them.
  const data: Record<string, unknown> = {};
  for (const [key, entry] of byKey) data[key] = toData(key, entry.value);
  const result = validateWith(TRACE_VECTOR_SCHEMA_ID, data);
  for (const error of result.errors) {
    if (error.keyword === 'if') continue; // repeats the then/else error below it
    const missing = (error.params as { missingProperty?: string }).missingProperty;
    if (error.keyword === 'required' && missing !== undefined) {
      if (misplacedKeys.has(missing)) continue;
      // A must-reject vector's missing `error`/`violates` is blamed on its `result` line.
      const result = error.schemaPath.startsWith('#/then') ? byKey.get('result') : undefined;
      diagnostics.push(diagnostic('VECTOR_SCHEMA', result
        ? `missing front matter key \`${missing}\`: required when result is invalid`
        : `missing front matter key \`${missing}\``, VECTOR_SECTION, result ? at(result.line, result.valueColumn) : at(1, 1)));
      continue;
    }
    const key = error.instancePath.split('/')[1] ?? '';
    const entry = isKey(key) ? byKey.get(key) : undefined;
    const message = error.keyword === 'false schema'
      ? `\`${key}\` is only allowed when result is invalid`
      : `\`${key}\` ${describe(error.message, error.params)}${error.instancePath.split('/').length > 2 ? ` (item ${Number(error.instancePath.split('/')[2]) + 1})` : ''}`;
    diagnostics.push(diagnostic('VECTOR_SCHEMA', message, VECTOR_SECTION, entry ? at(entry.line, entry.valueColumn) : at(1, 1)));
  }

  // 4. Checks the schema cannot express: the error is one of §12, the line lies in the trace.
  if (result.valid) {
    const meta = data as unknown as TraceVectorMeta;
    const errorEntry = byKey.get('error');
    if (meta.error !== undefined && !isErrorName(meta.error) && errorEntry) {
      diagnostics.push(diagnostic('VECTOR_SCHEMA', `\`error\` ${meta.error} is not an error name of §12`, VECTOR_SECTION, at(errorEntry.line, errorEntry.valueColumn, errorEntry.valueColumn + errorEntry.value.length - 1)));
    }
    const lineEntry = byKey.get('line');
    const lastLine = lines.length - (lines.at(-1) === '' ? 1 : 0);
    if (meta.line !== undefined && lineEntry && (meta.line <= frontMatterLines || meta.line > lastLine)) {
      diagnostics.push(diagnostic('VECTOR_SCHEMA', `\`line\` ${meta.line} is not a line of the trace (lines ${frontMatterLines + 1}..${lastLine})`, VECTOR_SECTION, at(lineEntry.line, lineEntry.valueColumn)));
    }
  }

  diagnostics.sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0));
  return {
    meta: diagnostics.length === 0 ? (data as unknown as TraceVectorMeta) : undefined,
    diagnostics,
    entries,
    frontMatterLines,
  };
}

/** A value as the schema sees it: `sections` is a comma list, `line` a decimal integer. */
function toData(key: FrontMatterKey, value: string): unknown {
  if (key === 'sections') return value.split(',').map((part) => part.trim());
  if (key === 'line') return /^[0-9]+$/.test(value) ? Number(value) : value;
  return value;
}

function describe(message: string | undefined, params: Record<string, unknown>): string {
  if (params['allowedValues']) return `must be one of ${(params['allowedValues'] as unknown[]).join(', ')}`;
  if (params['pattern'] !== undefined) return `must match ${String(params['pattern'])}`;
  return message ?? 'is invalid';
}

/**
 * The canonical front matter of `meta`: keys in {@link FRONT_MATTER_KEYS} order, one `#! key: value`
 * line each, `sections` joined by ", ". Vector files start with exactly these lines (test/vectors).
 */
export function formatFrontMatter(meta: TraceVectorMeta): string {
  const lines: string[] = [];
  for (const key of FRONT_MATTER_KEYS) {
    const value = meta[key];
    if (value === undefined) continue;
    lines.push(`#! ${key}: ${Array.isArray(value) ? value.join(', ') : String(value)}`);
  }
  return lines.join('\n') + '\n';
}

/** The file name a vector with this id must have: the id's last part + `.trace`. */
export function vectorFileName(id: string): string {
  return `${id.split('.').at(-1) ?? id}.trace`;
}
