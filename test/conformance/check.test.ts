import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, copyFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHECK_REPORT_SCHEMA_ID, checkPaths, checkTraceVector, formatReport, isFrameVectorJson, type CheckReport } from '../../conformance/check.js';
import { parseVectorFile } from '../../conformance/vector-file.js';
import { describeSchemaErrors, validateWith } from '../../reference/schemas.js';

const TRACES = 'vectors/traces';
const FIG9 = join(TRACES, 'stop-and-wait.trace');

const traceFiles = readdirSync(TRACES, { recursive: true }).map(String).filter((f) => f.endsWith('.trace')).sort();

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'rebind-check-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Writes `text` as a vector file in a fresh folder of the temp dir and returns the file path. */
function scratch(name: string, text: string): string {
  const dir = mkdtempSync(join(tmp, 'case-'));
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

function expectSchemaValid(report: CheckReport): void {
  const result = validateWith(CHECK_REPORT_SCHEMA_ID, JSON.parse(JSON.stringify(report)));
  expect(describeSchemaErrors(result.errors)).toEqual([]);
}

describe('checkPaths over vectors/', () => {
  let report: CheckReport;
  beforeAll(async () => {
    report = await checkPaths(['vectors']);
  });

  it('passes every vector', () => {
    const failures = report.vectors.filter((v) => v.verdict === 'fail');
    expect(failures.map((v) => formatReport({ ...report, vectors: [v], diagnostics: [] }))).toEqual([]);
    expect(report.diagnostics).toEqual([]);
    expect(report.ok).toBe(true);
  });

  it('reads every trace vector and the frame vector files', () => {
    const tracePaths = report.files.filter((f) => f.kind === 'trace').map((f) => f.path);
    expect(tracePaths.filter((p) => p.startsWith(TRACES)).sort()).toEqual(traceFiles.map((f) => join(TRACES, f)));
    expect(tracePaths.length).toBe(readdirSync('vectors', { recursive: true }).filter((f) => String(f).endsWith('.trace')).length);
    expect(report.files.filter((f) => f.kind === 'frames').length).toBeGreaterThanOrEqual(1);
    expect(report.counts).toEqual({ files: report.files.length, vectors: report.vectors.length, passed: report.vectors.length, failed: 0 });
  });

  it('writes a report that validates against check-report.schema.json', () => {
    expectSchemaValid(report);
  });

  it('at least 24 trace vectors, of which at least 10 must-reject', () => {
    const traces = report.vectors.filter((v) => v.kind === 'trace');
    expect(traces.length).toBeGreaterThanOrEqual(24);
    expect(traces.filter((v) => v.expected?.result === 'invalid').length).toBeGreaterThanOrEqual(10);
  });

  describe('each must-reject vector is rejected at its stated line, citing its section', () => {
    const rejects = traceFiles.filter((f) => parseVectorFile(readFileSync(join(TRACES, f), 'utf8'), f).meta?.result === 'invalid');
    it.each(rejects)('%s', (name) => {
      const file = join(TRACES, name);
      const meta = parseVectorFile(readFileSync(file, 'utf8'), file).meta!;
      const verdict = checkTraceVector(readFileSync(file, 'utf8'), file);
      const [first] = verdict.diagnostics;
      expect(meta.line).toBeTypeOf('number');
      expect(first).toMatchObject({ code: meta.error, section: meta.violates, line: meta.line, source: file });
      expect(first?.column).toBeGreaterThanOrEqual(1);
      expect(verdict.verdict).toBe('pass');
    });
  });
});

describe('checkTraceVector: expectations', () => {
  const fig9 = readFileSync(FIG9, 'utf8');
  const lines = fig9.split('\n');
  const rebind = lines.findIndex((l) => / O ~> P REBIND /.test(l));
  const suspended = lines.findIndex((l) => / O <~ P SUSPENDED/.test(l));
  /** Fig. 9 with the origin's REBIND moved above its receipt of SUSPENDED (line `suspended + 1`). */
  const broken = [...lines.slice(0, suspended), lines[rebind], ...lines.slice(suspended, rebind), ...lines.slice(rebind + 1)].join('\n');

  it('a valid vector that the checker rejects fails with VECTOR_EXPECTATION, expected and actual', () => {
    const verdict = checkTraceVector(broken, 'fig9.trace');
    expect(verdict.verdict).toBe('fail');
    expect(verdict.expected).toEqual({ result: 'valid' });
    expect(verdict.actual).toEqual({ result: 'invalid', error: 'TRACE_ORDER', violates: '6.2', line: suspended + 1 });
    const [why, first] = verdict.diagnostics;
    expect(why).toMatchObject({ code: 'VECTOR_EXPECTATION', section: '13.3', line: 5, column: 12 });
    expect(why?.message).toBe(`expected the trace to be accepted, got ERR_TRACE_ORDER (§6.2) at line ${suspended + 1}`);
    expect(first).toMatchObject({ code: 'TRACE_ORDER', line: suspended + 1 });
  });

  const asReject = (error: string, violates: string, line?: number) =>
    broken.replace('#! result: valid\n', `#! result: invalid\n`)
      .replace(/(#! comment: .*\n)/, `$1#! error: ${error}\n#! violates: ${violates}\n${line !== undefined ? `#! line: ${line}\n` : ''}`);
  // The front matter grows by 2 or 3 lines; the REBIND line moves with it.
  const at = suspended + 1;

  it('a must-reject vector passes when error, section and line agree', () => {
    expect(checkTraceVector(asReject('TRACE_ORDER', '6.2', at + 3), 'v.trace').verdict).toBe('pass');
    expect(checkTraceVector(asReject('TRACE_ORDER', '6.2'), 'v.trace').verdict).toBe('pass');
  });

  it('fails on a different section, error or line', () => {
    const section = checkTraceVector(asReject('TRACE_ORDER', '6.7', at + 3), 'v.trace');
    expect(section.verdict).toBe('fail');
    expect(section.diagnostics[0]?.message).toBe(`expected ERR_TRACE_ORDER (§6.7) at line ${at + 3}, got ERR_TRACE_ORDER (§6.2) at line ${at + 3}`);
    expect(checkTraceVector(asReject('TRACE_TOKEN', '6.2', at + 3), 'v.trace').verdict).toBe('fail');
    const line = checkTraceVector(asReject('TRACE_ORDER', '6.2', at + 4), 'v.trace');
    expect(line.verdict).toBe('fail');
    expect(line.expected).toMatchObject({ line: at + 4 });
    expect(line.actual).toMatchObject({ line: at + 3 });
  });

  it('a must-reject vector that the checker accepts fails', () => {
    const text = fig9.replace('#! result: valid\n', '#! result: invalid\n').replace(/(#! comment: .*\n)/, '$1#! error: TRACE_ORDER\n#! violates: 6.2\n');
    const verdict = checkTraceVector(text, 'v.trace');
    expect(verdict.verdict).toBe('fail');
    expect(verdict.actual).toEqual({ result: 'valid' });
    expect(verdict.diagnostics).toHaveLength(1);
    expect(verdict.diagnostics[0]?.message).toBe('expected rejection with ERR_TRACE_ORDER (§6.2), but the trace was accepted');
  });

  it('a syntax error is the actual outcome (the ordering checker does not run)', () => {
    const text = fig9.replace('@8  O fork S', '@8  O frok S');
    const verdict = checkTraceVector(text, 'v.trace');
    expect(verdict.verdict).toBe('fail');
    expect(verdict.diagnostics.slice(1).map((d) => d.code)).toEqual(['TRACE_SYNTAX']);
  });

  it('bad front matter fails with VECTOR_SCHEMA and the id as written', () => {
    const verdict = checkTraceVector(fig9.replace('#! level: MUST', '#! level: MAY'), 'v.trace');
    expect(verdict).toMatchObject({ id: 'trace.fig9.stop-and-wait', verdict: 'fail' });
    expect(verdict.diagnostics.map((d) => [d.code, d.line])).toEqual([['VECTOR_SCHEMA', 4]]);
    expect(checkTraceVector('O listen\n', 'x.trace').id).toBe('x.trace');
  });
});

describe('checkPaths: files, folders, duplicates', () => {
  it('a doctored copy of the Fig. 9 vector fails; the report says why', async () => {
    const fig9 = readFileSync(FIG9, 'utf8');
    const file = scratch('stop-and-wait.trace', fig9.replace('@16 O <~ P REBOUND', '@16 O <~ P REBOUND\n@16 O ~> P SUSPEND fast=false hid=3'));
    const report = await checkPaths([file]);
    expect(report.ok).toBe(false);
    expect(report.counts).toEqual({ files: 1, vectors: 1, passed: 0, failed: 1 });
    expectSchemaValid(report);
    const text = formatReport(report);
    expect(text).toContain(`FAIL trace.fig9.stop-and-wait (${file})`);
    expect(text).toContain(`  ${file}:5:12: error ERR_VECTOR_EXPECTATION: expected the trace to be accepted, got ERR_TRACE_ORDER`);
    expect(text).toMatch(/\n {2}\d+ \| @16 O ~> P SUSPEND fast=false hid=3 .*\n {2} +\| \^\n/);
    expect(text.endsWith('\n0 passed, 1 failed\n')).toBe(true);
  });

  it('duplicate ids across files: the later file fails at its id line', async () => {
    const dir = mkdtempSync(join(tmp, 'dup-'));
    copyFileSync(FIG9, join(dir, 'a.trace'));
    copyFileSync(FIG9, join(dir, 'b.trace'));
    const report = await checkPaths([dir]);
    expect(report.vectors.map((v) => v.verdict)).toEqual(['pass', 'fail']);
    expect(report.vectors[1]?.diagnostics[0]).toMatchObject({
      code: 'VECTOR_SCHEMA', line: 1, column: 8, source: join(dir, 'b.trace'),
      message: `duplicate id trace.fig9.stop-and-wait (also in ${join(dir, 'a.trace')})`,
    });
  });

  it('folders are walked recursively in name order; other files are ignored', async () => {
    const dir = mkdtempSync(join(tmp, 'walk-'));
    mkdirSync(join(dir, 'sub'));
    copyFileSync(join(TRACES, 'fast-order.trace'), join(dir, 'sub', 'fast-order.trace'));
    copyFileSync(FIG9, join(dir, 'b.trace'));
    writeFileSync(join(dir, 'README.md'), '# not a vector\n');
    writeFileSync(join(dir, 'other.json'), '{"name": "not a frame vector file"}\n');
    const report = await checkPaths([dir]);
    expect(report.files.map((f) => f.path)).toEqual([join(dir, 'b.trace'), join(dir, 'sub', 'fast-order.trace')]);
    expect(report.ok).toBe(true);
  });

  it('an explicit file that is not a vector, and a missing path, are file-level errors', async () => {
    const json = scratch('other.json', '{"name": "x"}\n');
    const text = scratch('notes.txt', 'hello\n');
    const report = await checkPaths([json, text, join(tmp, 'absent.trace')]);
    expect(report.ok).toBe(false);
    expect(report.vectors).toEqual([]);
    expect(report.diagnostics.map((d) => [d.code, d.source])).toEqual([
      ['VECTOR_SCHEMA', json], ['VECTOR_SCHEMA', text], ['VECTOR_SCHEMA', join(tmp, 'absent.trace')],
    ]);
    expect(formatReport(report).endsWith('0 passed, 0 failed, 3 file errors\n')).toBe(true);
    expectSchemaValid(report);
  });

  it('a .json file that does not parse is a file-level error, even in a folder', async () => {
    const file = scratch('broken.json', '{"$schema": "frame-vectors",');
    const report = await checkPaths([join(file, '..')]);
    expect(report.ok).toBe(false);
    expect(report.files).toEqual([{ path: file, kind: 'other' }]);
    expect(report.diagnostics[0]?.message).toMatch(/^not valid JSON: /);
  });

  it('frame vector files are recognised by their $schema and checked', async () => {
    expect(isFrameVectorJson({ $schema: '../../spec/schemas/frame-vectors.schema.json' })).toBe(true);
    expect(isFrameVectorJson({ $schema: 'urn:rebind:schema:trace-event' })).toBe(false);
    expect(isFrameVectorJson([])).toBe(false);
    const frames = readdirSync('vectors/frames').filter((f) => f.endsWith('.json'));
    const report = await checkPaths(frames.map((f) => join('vectors/frames', f)));
    expect(report.vectors.map((v) => [v.kind, v.verdict])).toEqual(frames.map(() => ['frames', 'pass']));
    // A broken frame vector file fails with the frame checker's diagnostics.
    const broken = scratch('broken.json', JSON.stringify({ $schema: '../../spec/schemas/frame-vectors.schema.json', name: 'broken' }));
    const bad = await checkPaths([broken]);
    expect(bad.vectors[0]).toMatchObject({ kind: 'frames', verdict: 'fail', id: broken });
    expect(bad.vectors[0]?.diagnostics.length).toBeGreaterThan(0);
  });

  it('--verbose style listing names the passing vectors', async () => {
    const report = await checkPaths([FIG9]);
    expect(formatReport(report, { verbose: true })).toBe('pass trace.fig9.stop-and-wait\n1 passed, 0 failed\n');
    expect(formatReport(report)).toBe('1 passed, 0 failed\n');
  });
});
