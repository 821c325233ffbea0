/**
 * `conformance check`: runs the vector files against the reference parser and checkers and says,
 * per vector, whether the outcome is the one the vector states (spec §13.3, §15).
 *
 * - A trace vector (`*.trace`) is parsed (§13.1) and checked (§7.4, §13.2). A `valid` vector passes
 *   when there is no diagnostic at all; an `invalid` (must-reject) vector passes only when the first
 *   diagnostic has the stated error, cites the stated section and, if the vector gives one, points
 *   at the stated line. Anything else is a VECTOR_EXPECTATION failure with expected and actual.
 * - A frame vector file (`*.json` whose `$schema` names the frame-vector schema) is checked by
 *   {@link checkFrameVectorFile}; it passes when that reports nothing.
 * - Ids are unique across all files checked together.
 *
 * Results are data: {@link CheckReport} validates against spec/schemas/check-report.schema.json.
 *
 * @module
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { diagnostic, formatDiagnostic, type Diagnostic } from '../reference/diagnostics.js';
import { packageRoot } from '../reference/schemas.js';
import { checkTrace, parseTrace } from '../reference/trace/index.js';
import { checkFrameVectorFile } from './frame-vectors.js';
import { parseVectorFile, type TraceVectorMeta } from './vector-file.js';

/** The `$id` of the report's JSON Schema. */
export const CHECK_REPORT_SCHEMA_ID = 'urn:rebind:schema:check-report';

const VECTOR_SECTION = '13.3';

/** A vector's outcome: valid, or rejected with the first diagnostic's error, section and line. */
export interface Outcome {
  readonly result: 'valid' | 'invalid';
  readonly error?: string;
  readonly violates?: string;
  readonly line?: number;
}

/** The verdict on one vector. */
export interface VectorVerdict {
  /** The vector's id, or its file path when the file has no usable id. */
  readonly id: string;
  readonly file: string;
  readonly kind: 'trace' | 'frames';
  readonly title?: string;
  readonly level?: 'MUST' | 'SHOULD';
  readonly verdict: 'pass' | 'fail';
  /** What the vector states (trace vectors with valid metadata). */
  readonly expected?: Outcome;
  /** What the checker reported (trace vectors that were checked). */
  readonly actual?: Outcome;
  /** Why it failed (VECTOR_SCHEMA, VECTOR_EXPECTATION) first, then what the checkers reported. */
  readonly diagnostics: Diagnostic[];
}

/** One file read by the check. */
export interface CheckedFile {
  readonly path: string;
  readonly kind: 'trace' | 'frames' | 'other';
}

/** The result of {@link checkPaths}. `ok` is true exactly when `conformance check` exits 0. */
export interface CheckReport {
  readonly tool: 'rebind-conformance-check';
  readonly version: string;
  readonly ok: boolean;
  readonly files: CheckedFile[];
  readonly vectors: VectorVerdict[];
  /** Findings that belong to no vector: a path that does not exist, a file that is not a vector. */
  readonly diagnostics: Diagnostic[];
  readonly counts: { files: number; vectors: number; passed: number; failed: number };
}

/** The package version, for reports. */
export function packageVersion(): string {
  const json = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version?: string };
  return json.version ?? '0.0.0';
}

/**
 * Checks every vector file under `paths` (files or folders, walked recursively in name order).
 * Folders contribute their `*.trace` files and their frame-vector `*.json` files; a file named
 * explicitly must be one of those.
 */
export async function checkPaths(paths: readonly string[]): Promise<CheckReport> {
  const files: CheckedFile[] = [];
  const vectors: VectorVerdict[] = [];
  const diagnostics: Diagnostic[] = [];

  for (const path of paths) {
    for (const found of collect(path, true, diagnostics)) {
      const text = readFileSync(found, 'utf8');
      if (extname(found) === '.trace') {
        files.push({ path: found, kind: 'trace' });
        vectors.push(checkTraceVector(text, found));
        continue;
      }
      const json = parseJson(text);
      if (json instanceof SyntaxError) {
        files.push({ path: found, kind: 'other' });
        diagnostics.push(diagnostic('VECTOR_SCHEMA', `not valid JSON: ${json.message}`, VECTOR_SECTION, { source: found }));
      } else if (isFrameVectorJson(json)) {
        files.push({ path: found, kind: 'frames' });
        vectors.push(checkFrameFile(json, found));
      } else if (paths.includes(found)) {
        files.push({ path: found, kind: 'other' });
        diagnostics.push(diagnostic('VECTOR_SCHEMA', 'not a vector file: a .json file must be a frame vector file (its $schema names the frame-vector schema)', VECTOR_SECTION, { source: found }));
      }
    }
  }

  markDuplicateIds(vectors);
  const passed = vectors.filter((v) => v.verdict === 'pass').length;
  return {
    tool: 'rebind-conformance-check',
    version: packageVersion(),
    ok: passed === vectors.length && diagnostics.length === 0,
    files,
    vectors,
    diagnostics,
    counts: { files: files.length, vectors: vectors.length, passed, failed: vectors.length - passed },
  };
}

/** The vector files at `path`: the file itself, or a folder's `.trace`/`.json` files in name order. */
export function collect(path: string, explicit: boolean, diagnostics: Diagnostic[]): string[] {
  let stats;
  try {
    stats = statSync(path);
  } catch {
    diagnostics.push(diagnostic('VECTOR_SCHEMA', 'no such file or folder', VECTOR_SECTION, { source: path }));
    return [];
  }
  if (stats.isDirectory()) {
    return readdirSync(path).sort().flatMap((name) => {
      const child = join(path, name);
      const isDir = statSync(child).isDirectory();
      return isDir || name.endsWith('.trace') || name.endsWith('.json') ? collect(child, false, diagnostics) : [];
    });
  }
  if (explicit && !path.endsWith('.trace') && !path.endsWith('.json')) {
    diagnostics.push(diagnostic('VECTOR_SCHEMA', 'not a vector file: expected a .trace or frame-vector .json file', VECTOR_SECTION, { source: path }));
    return [];
  }
  return [path];
}

/** The parsed document, or the SyntaxError that JSON.parse threw. */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    return error instanceof SyntaxError ? error : new SyntaxError(String(error));
  }
}

/** Whether a JSON document declares itself a frame vector file (`$schema` naming the frame-vector schema). */
export function isFrameVectorJson(json: unknown): boolean {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return false;
  const schema = (json as Record<string, unknown>)['$schema'];
  return typeof schema === 'string' && /frame-vector/.test(schema);
}

function checkFrameFile(json: unknown, file: string): VectorVerdict {
  const found = checkFrameVectorFile(json, file);
  const id = (json as Record<string, unknown>)['id'];
  return {
    id: typeof id === 'string' ? id : file,
    file,
    kind: 'frames',
    verdict: found.length === 0 ? 'pass' : 'fail',
    diagnostics: found,
  };
}

/**
 * Checks one trace vector: front matter (§13.3), then the trace (§13.1, §7.4), then the outcome
 * against the stated one.
 */
export function checkTraceVector(text: string, file: string): VectorVerdict {
  const vector = parseVectorFile(text, file);
  const idEntry = vector.entries.find((e) => e.key === 'id');
  const meta = vector.meta;
  if (!meta) {
    return { id: idEntry?.value || file, file, kind: 'trace', verdict: 'fail', diagnostics: vector.diagnostics };
  }

  const parsed = parseTrace(text, { source: file });
  // A trace that does not parse is judged by its syntax errors alone.
  const found = parsed.diagnostics.length > 0 ? parsed.diagnostics : checkTrace(parsed.events, { source: file });
  const expected = outcomeOf(meta);
  const first = found[0];
  const actual: Outcome = first
    ? { result: 'invalid', error: first.code, violates: first.section, ...(first.line !== undefined ? { line: first.line } : {}) }
    : { result: 'valid' };
  const verdict = { id: meta.id, file, kind: 'trace' as const, title: meta.title, level: meta.level, expected, actual };

  const mismatch = compare(expected, actual);
  if (mismatch === undefined) return { ...verdict, verdict: 'pass', diagnostics: found };
  const resultEntry = vector.entries.find((e) => e.key === 'result');
  const blame = resultEntry ? { source: file, line: resultEntry.line, column: resultEntry.valueColumn } : { source: file };
  return {
    ...verdict,
    verdict: 'fail',
    diagnostics: [diagnostic('VECTOR_EXPECTATION', mismatch, VECTOR_SECTION, blame), ...found],
  };
}

function outcomeOf(meta: TraceVectorMeta): Outcome {
  if (meta.result === 'valid') return { result: 'valid' };
  return { result: 'invalid', error: meta.error, violates: meta.violates, ...(meta.line !== undefined ? { line: meta.line } : {}) };
}

/** Says how `actual` differs from `expected`, or `undefined` when the vector passes. */
function compare(expected: Outcome, actual: Outcome): string | undefined {
  const describe = (o: Outcome) =>
    o.result === 'valid' ? 'accepted' : `ERR_${o.error} (§${o.violates})${o.line !== undefined ? ` at line ${o.line}` : ''}`;
  if (expected.result === 'valid') {
    return actual.result === 'valid' ? undefined : `expected the trace to be accepted, got ${describe(actual)}`;
  }
  if (actual.result === 'valid') return `expected rejection with ${describe(expected)}, but the trace was accepted`;
  const differs = actual.error !== expected.error || actual.violates !== expected.violates ||
    (expected.line !== undefined && actual.line !== expected.line);
  return differs ? `expected ${describe(expected)}, got ${describe(actual)}` : undefined;
}

/** Ids are unique across the files checked together (§13.3): every later holder of an id fails. */
function markDuplicateIds(vectors: VectorVerdict[]): void {
  const firstFile = new Map<string, string>();
  vectors.forEach((vector, index) => {
    const first = firstFile.get(vector.id);
    if (first === undefined) {
      firstFile.set(vector.id, vector.file);
      return;
    }
    const where = vector.kind === 'trace' ? idLocation(vector.file) : {};
    vectors[index] = {
      ...vector,
      verdict: 'fail',
      diagnostics: [diagnostic('VECTOR_SCHEMA', `duplicate id ${vector.id} (also in ${first})`, VECTOR_SECTION, { source: vector.file, ...where }), ...vector.diagnostics],
    };
  });
}

function idLocation(file: string): { line?: number; column?: number } {
  const lines = readFileSync(file, 'utf8').split(/\r?\n/);
  const index = lines.findIndex((l) => /^#!\s*id\s*:/.test(l));
  if (index < 0) return {};
  const column = (lines[index] ?? '').indexOf(':') + 3;
  return { line: index + 1, column };
}

/**
 * Renders a report for people: one block per failing vector (a `FAIL id (file)` line, then each
 * diagnostic with its source line and caret), the file-level findings, and `N passed, M failed`.
 * With `verbose`, passing vectors get a `pass id` line too.
 */
export function formatReport(report: CheckReport, options: { verbose?: boolean } = {}): string {
  const texts = new Map<string, string | undefined>();
  const textOf = (file: string | undefined): string | undefined => {
    if (file === undefined) return undefined;
    if (!texts.has(file)) {
      try {
        texts.set(file, readFileSync(file, 'utf8'));
      } catch {
        texts.set(file, undefined);
      }
    }
    return texts.get(file);
  };
  const out: string[] = [];
  for (const vector of report.vectors) {
    if (vector.verdict === 'pass') {
      if (options.verbose) out.push(`pass ${vector.id}`);
      continue;
    }
    out.push(`FAIL ${vector.id} (${vector.file})`);
    for (const d of vector.diagnostics) out.push(indent(formatDiagnostic(d, textOf(d.source))));
  }
  for (const d of report.diagnostics) out.push(formatDiagnostic(d, textOf(d.source)));
  const fileErrors = report.diagnostics.length;
  out.push(`${report.counts.passed} passed, ${report.counts.failed} failed${fileErrors ? `, ${fileErrors} file error${fileErrors === 1 ? '' : 's'}` : ''}`);
  return out.join('\n') + '\n';
}

function indent(text: string): string {
  return text.split('\n').map((line) => `  ${line}`).join('\n');
}
