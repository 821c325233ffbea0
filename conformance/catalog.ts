/**
 * The catalogue of cases (spec §13.3, §15): every vector of a set of files as one case with a
 * stable hierarchical id, its sections and level — what `conformance list` prints — and the
 * `conformance lint` rules a submitted vector must meet before it is checked:
 *
 * 1. ids are unique across every file (trace vectors and frame vectors);
 * 2. metadata is complete and valid (the trace-vector and frame-vector schemas);
 * 3. a trace vector's file name is the last part of its id;
 * 4. every cited section exists in the spec;
 * 5. formatting is canonical: the front matter is exactly {@link formatFrontMatter}'s, and each
 *    event line is its canonical text (§13.1: `formatEvent`), except that runs of spaces may align
 *    columns and a line may end with a `#` comment.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { diagnostic, type Diagnostic } from '../reference/diagnostics.js';
import { packageRoot } from '../reference/schemas.js';
import { formatEvent } from '../reference/trace/format.js';
import { parseTrace } from '../reference/trace/parse.js';
import { collect, isFrameVectorJson, parseJson } from './check.js';
import { checkFrameVectorFile } from './frame-vectors.js';
import { formatFrontMatter, parseVectorFile, vectorFileName } from './vector-file.js';

const VECTOR_SECTION = '13.3';

/** One case of the catalogue. */
export interface CaseInfo {
  /** Stable, dotted, hierarchical: `trace.fig9.stop-and-wait`, `frame.header.empty`. */
  readonly id: string;
  readonly title: string;
  /** The spec sections it checks. */
  readonly sections: readonly string[];
  readonly level: 'MUST' | 'SHOULD';
  /** `trace`: a trace vector; `frame`: one test of a frame vector file; `kit`: a case `conformance run` plays. */
  readonly kind: 'trace' | 'frame' | 'kit';
  /** What the checker must do with it (vectors only). */
  readonly result?: 'valid' | 'invalid';
  /** The file it comes from. */
  readonly source: string;
}

/** The cases found in `paths`, in file order, and the problems that kept files out. */
export function catalog(paths: readonly string[]): { cases: CaseInfo[]; diagnostics: Diagnostic[] } {
  const cases: CaseInfo[] = [];
  const diagnostics: Diagnostic[] = [];
  for (const path of paths) {
    for (const file of collect(path, true, diagnostics)) {
      const text = readFileSync(file, 'utf8');
      if (extname(file) === '.trace') {
        const { meta, diagnostics: found } = parseVectorFile(text, file);
        diagnostics.push(...found);
        if (meta !== undefined) {
          cases.push({ id: meta.id, title: meta.title, sections: meta.sections, level: meta.level, kind: 'trace', result: meta.result, source: file });
        }
        continue;
      }
      const json = parseJson(text);
      if (json instanceof SyntaxError || !isFrameVectorJson(json)) {
        if (paths.includes(file)) diagnostics.push(diagnostic('VECTOR_SCHEMA', 'not a vector file', VECTOR_SECTION, { source: file }));
        continue;
      }
      const found = checkFrameVectorFile(json, file).filter((d) => d.code === 'VECTOR_SCHEMA');
      diagnostics.push(...found);
      if (found.length > 0) continue;
      const groups = (json as { testGroups: Array<{ type: string; section: string; tests: FrameTest[] }> }).testGroups;
      for (const group of groups) {
        for (const test of group.tests) {
          cases.push({ id: test.id, title: test.comment, sections: frameSections(group.section, test), level: 'MUST', kind: 'frame', result: test.result, source: file });
        }
      }
    }
  }
  return { cases, diagnostics };
}

/** What the catalogue reads of one frame vector. */
interface FrameTest {
  readonly id: string;
  readonly comment: string;
  readonly result: 'valid' | 'invalid';
  readonly error?: string;
}

/**
 * The sections one frame vector checks: its message's section; the field encodings (§3.2) for
 * every vector; the decoding order and its errors (§3.4) for a must-reject one; the size limits
 * (§3.3) when the expected error is FRAME_TOO_LARGE.
 */
function frameSections(section: string, test: FrameTest): string[] {
  const out = [section, '3.2'];
  if (test.result === 'invalid') out.push('3.4');
  if (test.error === 'FRAME_TOO_LARGE') out.push('3.3');
  return [...new Set(out)];
}

/** Keeps the cases whose id starts with `prefix` (a whole dotted part: `trace.fig9` matches `trace.fig9.x`, not `trace.fig90`). */
export function filterCases(cases: readonly CaseInfo[], prefix: string | undefined): CaseInfo[] {
  if (prefix === undefined || prefix === '') return [...cases];
  return cases.filter((c) => c.id === prefix || c.id.startsWith(prefix.endsWith('.') ? prefix : `${prefix}.`));
}

/** The catalogue as an aligned table, one case a line, and a count. */
export function formatCatalog(cases: readonly CaseInfo[]): string {
  const width = Math.max(2, ...cases.map((c) => c.id.length));
  const lines = cases.map((c) => `${c.id.padEnd(width)}  ${c.level.padEnd(6)}  §${c.sections.join(', §').padEnd(14)}  ${c.result !== undefined ? `${c.kind}/${c.result}` : c.kind}  ${c.title}`);
  const must = cases.filter((c) => c.level === 'MUST').length;
  return `${lines.join('\n')}${lines.length > 0 ? '\n' : ''}${cases.length} case(s): ${must} MUST, ${cases.length - must} SHOULD\n`;
}

/** The sections the spec anchors (`<a id="s6.2">`, appendices `<a id="appA">` as `A`). */
export function specSections(): Set<string> {
  const spec = readFileSync(join(packageRoot(), 'spec', 'rebind.md'), 'utf8');
  return new Set([...spec.matchAll(/<a id="(?:s([0-9][0-9.]*)|app([A-Z]))"><\/a>/g)].map((m) => (m[1] ?? m[2]) as string));
}

/** What `lint` found. */
export interface LintReport {
  readonly ok: boolean;
  readonly files: number;
  readonly cases: number;
  readonly diagnostics: Diagnostic[];
}

/** Applies the lint rules of the module comment to the vectors at `paths`. */
export function lintPaths(paths: readonly string[]): LintReport {
  const { cases, diagnostics } = catalog(paths);
  const sections = specSections();
  const files = new Set<string>();
  const firstSource = new Map<string, string>();
  for (const c of cases) {
    files.add(c.source);
    const first = firstSource.get(c.id);
    if (first !== undefined) diagnostics.push(diagnostic('VECTOR_SCHEMA', `duplicate case id ${c.id} (first in ${first})`, VECTOR_SECTION, { source: c.source }));
    else firstSource.set(c.id, c.source);
    for (const s of c.sections) {
      if (!sections.has(s)) diagnostics.push(diagnostic('VECTOR_SCHEMA', `case ${c.id} cites §${s}, which the spec does not have`, VECTOR_SECTION, { source: c.source }));
    }
  }
  for (const source of files) {
    if (extname(source) === '.trace') diagnostics.push(...lintTraceFormat(readFileSync(source, 'utf8'), source));
  }
  return { ok: diagnostics.length === 0, files: files.size, cases: cases.length, diagnostics };
}

/** Rules 3 and 5 for one trace vector file. */
export function lintTraceFormat(text: string, source: string): Diagnostic[] {
  const out: Diagnostic[] = [];
  const { meta, frontMatterLines } = parseVectorFile(text, source);
  if (meta === undefined) return out; // its metadata problems are reported already
  const name = source.split(/[\\/]/).at(-1);
  if (name !== vectorFileName(meta.id)) {
    out.push(diagnostic('VECTOR_SCHEMA', `file name ${name ?? ''} does not match id ${meta.id} (expected ${vectorFileName(meta.id)})`, VECTOR_SECTION, { source, line: 1, column: 1 }));
  }
  const lines = text.split('\n');
  const canonical = formatFrontMatter(meta).split('\n').slice(0, -1);
  for (let i = 0; i < Math.max(canonical.length, frontMatterLines); i++) {
    if (lines[i] !== canonical[i]) {
      out.push(diagnostic('VECTOR_SCHEMA', `front matter is not canonical: expected \`${canonical[i] ?? '(no line)'}\``, VECTOR_SECTION, { source, line: i + 1, column: 1 }));
      break;
    }
  }
  const { events } = parseTrace(text, { source });
  for (const event of events) {
    const written = lines[event.line - 1] ?? '';
    const withoutComment = stripComment(written).replace(/ +/g, ' ').trim();
    const expected = formatEvent({ ...event, comment: undefined } as typeof event);
    if (withoutComment !== expected) {
      out.push(diagnostic('VECTOR_SCHEMA', `event is not in canonical form: expected \`${expected}\``, VECTOR_SECTION, { source, line: event.line, column: 1 }));
    }
  }
  if (!text.endsWith('\n')) out.push(diagnostic('VECTOR_SCHEMA', 'the file must end with a line break', VECTOR_SECTION, { source, line: lines.length, column: 1 }));
  return out;
}

/** A line without its `#` comment (a `#` inside a quoted string is not a comment). */
function stripComment(line: string): string {
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (ch === '"' && line[i - 1] !== '\\') quoted = !quoted;
    else if (ch === '#' && !quoted) return line.slice(0, i);
  }
  return line;
}
