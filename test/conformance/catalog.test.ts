/**
 * `conformance list` and `conformance lint` (spec §13.3 "Cases and lint"): the catalogue of cases,
 * the id filter, and each lint rule on a vector that breaks exactly that rule.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { catalog, filterCases, formatCatalog, lintPaths, lintTraceFormat } from '../../conformance/catalog.js';
import { main } from '../../conformance/cli.js';

const GOOD = 'vectors/traces/stop-and-wait.trace';
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), 'rebind-lint-'));
  dirs.push(dir);
  return dir;
}

async function run(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) } });
  return { code, stdout, stderr };
}

describe('catalog', () => {
  it('lists every vector of the package as a case with a unique id, sections and a level', () => {
    const { cases, diagnostics } = catalog(['vectors']);
    expect(diagnostics).toEqual([]);
    expect(cases.length).toBeGreaterThan(200); // 174 frame tests + trace and model vectors
    expect(new Set(cases.map((c) => c.id)).size).toBe(cases.length);
    for (const c of cases) {
      expect(c.id).toMatch(/^[a-z0-9]+(\.[a-z0-9-]+)+$/);
      expect(c.sections.length).toBeGreaterThan(0);
      expect(['MUST', 'SHOULD']).toContain(c.level);
    }
    expect(cases.filter((c) => c.kind === 'frame').length).toBe(174);
  });

  it('filters by a whole dotted prefix', () => {
    const { cases } = catalog(['vectors']);
    expect(filterCases(cases, 'trace.fig9').map((c) => c.id)).toEqual(['trace.fig9.stop-and-wait']);
    expect(filterCases(cases, 'trace.fig').map((c) => c.id)).toEqual([]);
    expect(filterCases(cases, 'frame.header').every((c) => c.id.startsWith('frame.header.'))).toBe(true);
    expect(filterCases(cases, undefined).length).toBe(cases.length);
    expect(formatCatalog(filterCases(cases, 'trace.fig9'))).toMatch(/^trace\.fig9\.stop-and-wait +MUST +§6\.2, §6\.5, §6\.6, §A .*\n1 case\(s\): 1 MUST, 0 SHOULD\n$/);
  });
});

describe('lint', () => {
  it('the package\'s own vectors are lint clean', () => {
    const report = lintPaths(['vectors']);
    expect(report.diagnostics).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.files).toBeGreaterThan(60);
  });

  it('finds a duplicate id across files', () => {
    const dir = scratch();
    copyFileSync(GOOD, join(dir, 'stop-and-wait.trace'));
    const other = join(dir, 'sub');
    rmSync(other, { force: true, recursive: true });
    writeFileSync(join(dir, 'copy.trace'), readFileSync(GOOD, 'utf8'));
    const report = lintPaths([dir]);
    expect(report.ok).toBe(false);
    expect(report.diagnostics.map((d) => d.message)).toContain(`duplicate case id trace.fig9.stop-and-wait (first in ${join(dir, 'copy.trace')})`);
    // The copy's name does not match its id either.
    expect(report.diagnostics.some((d) => /file name copy\.trace does not match id/.test(d.message))).toBe(true);
  });

  it('finds a section the spec does not have', () => {
    const dir = scratch();
    writeFileSync(join(dir, 'stop-and-wait.trace'), readFileSync(GOOD, 'utf8').replace('#! sections: 6.2, 6.5, 6.6, A', '#! sections: 6.2, 99.1'));
    expect(lintPaths([dir]).diagnostics.map((d) => d.message)).toEqual(['case trace.fig9.stop-and-wait cites §99.1, which the spec does not have']);
  });

  it('finds incomplete metadata', () => {
    const dir = scratch();
    writeFileSync(join(dir, 'stop-and-wait.trace'), readFileSync(GOOD, 'utf8').replace(/^#! comment:.*\n/m, ''));
    const report = lintPaths([dir]);
    expect(report.diagnostics.map((d) => d.message)).toContain('missing front matter key `comment`');
  });

  it('finds non-canonical front matter, events and a missing final line break, with their lines', () => {
    const text = readFileSync(GOOD, 'utf8');
    const swapped = text.replace(/^(#! title:.*)\n(#! sections:.*)$/m, '$2\n$1');
    expect(lintTraceFormat(swapped, 'x/stop-and-wait.trace').map((d) => [d.line, d.message.startsWith('front matter is not canonical: expected')])).toEqual([[2, true]]);
    const unquoted = text.replace('@4  P send len=5 data="hello"', '@4  P send len=5 data=hello');
    const found = lintTraceFormat(unquoted, 'x/stop-and-wait.trace');
    expect(found.map((d) => d.message)).toEqual(['event is not in canonical form: expected `@4 P send len=5 data="hello"`']);
    expect(found[0]?.line).toBe(text.split('\n').findIndex((l) => l.startsWith('@4  P send')) + 1);
    const badTime = text.replace('@16 O rebound', '@16.0 O rebound');
    expect(lintTraceFormat(badTime, 'x/stop-and-wait.trace').map((d) => d.message)).toEqual(['event is not in canonical form: expected `@16 O rebound`']);
    expect(lintTraceFormat(text.slice(0, -1), 'x/stop-and-wait.trace').map((d) => d.message)).toEqual(['the file must end with a line break']);
    // Alignment spaces and comments are allowed.
    expect(lintTraceFormat(text, 'x/stop-and-wait.trace')).toEqual([]);
  });
});

describe('the list and lint commands', () => {
  it('list prints the catalogue and a count; --filter and --json', async () => {
    const all = await run('list');
    expect(all.code).toBe(0);
    expect(all.stdout).toMatch(/\n\d+ case\(s\): \d+ MUST, \d+ SHOULD\n$/);
    // Without paths the kit's own cases are listed too, as kind `kit`.
    expect(all.stdout).toMatch(/^kit\.server\.t1-fig9 +MUST +§[0-9., §]+ +kit +T1 after fork/m);
    const json = await run('list', '--filter', 'trace.reject', '--json');
    const cases = JSON.parse(json.stdout) as Array<{ id: string; result: string }>;
    expect(cases.length).toBeGreaterThan(5);
    expect(cases.every((c) => c.id.startsWith('trace.reject.') && c.result === 'invalid')).toBe(true);
  });

  it('lint exits 0 on the vectors and 1 with located findings on a bad file; 2 for a missing path', async () => {
    const clean = await run('lint');
    expect(clean.stdout).toMatch(/^MUST coverage: \d+ sections say MUST: \d+ cited by cases, \d+ exempt .*, 0 uncovered$/m);
    expect(clean.stdout).toMatch(/lint clean\n$/);
    expect(clean.code).toBe(0);
    const dir = scratch();
    writeFileSync(join(dir, 'wrong-name.trace'), readFileSync(GOOD, 'utf8'));
    const bad = await run('lint', dir);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain(`${join(dir, 'wrong-name.trace')}:1:1: error ERR_VECTOR_SCHEMA: file name wrong-name.trace does not match id trace.fig9.stop-and-wait`);
    expect(JSON.parse((await run('lint', dir, '--json')).stdout).ok).toBe(false);
    expect((await run('lint', join(dir, 'nope'))).code).toBe(2);
  });
});
