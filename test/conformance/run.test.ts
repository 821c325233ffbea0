/**
 * `conformance run` (spec §15, §15.1): the reference passes every case through its adapter; a
 * lying adapter and one with a wrong token fail the cases that catch them, naming the section;
 * usage errors exit 2.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeSchemaErrors, validateWith } from '../../reference/schemas.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../conformance/cli.js';

const LIAR = 'test/conformance/fixtures/lying-adapter.mjs';

beforeAll(() => {
  // The reference adapter runs from dist/ (as `npx conformance run --impl reference` does).
  if (existsSync('dist/conformance/adapter/reference.js') && statSync('dist/conformance/adapter/reference.js').mtimeMs >= statSync('conformance/adapter/reference.ts').mtimeMs) return;
  execFileSync(process.execPath, ['scripts/build-grammars.mjs'], { stdio: 'pipe' });
  spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { stdio: 'pipe' });
}, 120_000);

async function run(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) } });
  return { code, stdout, stderr };
}

describe('conformance run', () => {
  it('the reference passes every case and the closing line says so', async () => {
    const { code, stdout } = await run('run', '--impl', 'reference');
    expect(stdout).toMatch(/^pass +kit\.server\.t1-fig9 /m);
    expect(stdout).toMatch(/\n(\d+) passed, 0 failed \(0 skipped, 0 unsupported\)\n$/);
    expect(code).toBe(0);
  });

  it('--json and --filter: the kit report (urn:rebind:schema:kit-report) on stdout, progress on stderr', async () => {
    const { code, stdout, stderr } = await run('run', '--impl', 'reference', '--filter', 'kit.adapter.hello', '--json');
    const report = JSON.parse(stdout) as { ok: boolean; results: Array<{ id: string; verdict: string }> };
    expect(code).toBe(0);
    expect(report.ok).toBe(true);
    expect(report.results.map((r) => [r.id, r.verdict])).toEqual([['kit.adapter.hello', 'pass']]);
    expect(describeSchemaErrors(validateWith('urn:rebind:schema:kit-report', report).errors)).toEqual([]);
    expect(stderr).toMatch(/^pass +kit\.adapter\.hello .*\n1 passed, 0 failed \(0 skipped, 0 unsupported\)\n$/s);
  });

  it('--report junit|tap|html and --out DIR: every report and each case\'s trace as its artefact', async () => {
    const out = mkdtempSync(join(tmpdir(), 'rebind-kit-out-'));
    try {
      const tap = await run('run', '--impl', 'reference', '--filter', 'kit.server.echo', '--report', 'tap', '--out', out);
      expect(tap.code).toBe(0);
      expect(tap.stdout).toMatch(/^TAP version 14\n1\.\.1\nok 1 /);
      expect(readdirSync(out).sort()).toEqual(['cases', 'report.html', 'report.json', 'report.tap', 'report.xml']);
      const trace = readFileSync(join(out, 'cases', readdirSync(join(out, 'cases'))[0]!), 'utf8');
      expect(trace).toMatch(/ P ~> O HELLO /);
      expect(readFileSync(join(out, 'report.xml'), 'utf8')).toMatch(/<testsuites[^>]*>/);
      const html = await run('run', '--impl', 'reference', '--filter', 'kit.adapter.hello', '--report', 'html');
      expect(html.stdout).toMatch(/^<!DOCTYPE html>/i);
      const junit = await run('run', '--impl', 'reference', '--filter', 'kit.adapter.hello', '--report', 'junit');
      expect(junit.stdout).toContain('<testcase');
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it('--transport rdma without a device: every case skipped with the reason, exit 0, never passed', async () => {
    const { code, stdout } = await run('run', '--impl', 'reference', '--filter', 'kit.adapter.hello', '--transport', 'rdma');
    if (/^pass /m.test(stdout)) return; // a machine with an RDMA device (the lab): the case really ran
    expect(stdout).toMatch(/^skipped +kit\.adapter\.hello .*\n +.*(NO_DEVICE|device)/m);
    expect(stdout).toMatch(/0 passed, 0 failed \(1 skipped, 0 unsupported\)\n$/);
    expect(code).toBe(0);
  });

  it('an adapter that answers ok to everything fails, and the failures name the section', async () => {
    const { code, stdout } = await run('run', '--impl', LIAR, '--filter', 'kit', '--timeout', '5');
    expect(code).toBe(1);
    expect(stdout).toMatch(/^fail +kit\.adapter\.honest-unsupported .*\n +probe of a feature that cannot exist answered .* \(§15\.1\)$/m);
    expect(stdout).toMatch(/^fail +kit\.server\.echo /m);
    expect(stdout).toMatch(/^pass +kit\.adapter\.hello /m);
  });

  it('a wrong token is refused: the case fails saying so', async () => {
    process.env.LYING_ADAPTER = 'bad-token';
    try {
      const { code, stdout } = await run('run', '--impl', LIAR, '--filter', 'kit.adapter.hello', '--timeout', '2');
      expect(code).toBe(1);
      expect(stdout).toContain('control channel: wrong token');
    } finally {
      delete process.env.LYING_ADAPTER;
    }
  });

  it('usage: --impl is required and must exist', async () => {
    expect((await run('run')).code).toBe(2);
    expect((await run('run', '--impl', 'no/such/adapter')).code).toBe(2);
    expect((await run('run', '--impl', 'reference', '--timeout', '0')).code).toBe(2);
    expect((await run('run', '--impl', 'reference', '--transport', 'carrier-pigeon')).stderr).toContain('--transport is tcp or rdma');
    expect((await run('run', '--impl', 'reference', '--report', 'pdf')).stderr).toContain('--report is one of console');
    expect((await run('run', '--impl', 'reference', '--filter', 'kit.nothing')).code).toBe(2);
  });
});
