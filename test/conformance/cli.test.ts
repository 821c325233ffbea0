import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHECK_REPORT_SCHEMA_ID } from '../../conformance/check.js';
import { ExitCode, main } from '../../conformance/cli.js';
import { validateWith } from '../../reference/schemas.js';

/** Runs `main` with captured stdout and stderr. */
async function run(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, {
    stdout: { write: (chunk: string) => (stdout += chunk) },
    stderr: { write: (chunk: string) => (stderr += chunk) },
  });
  return { code, stdout, stderr };
}

const traceCount = readdirSync('vectors/traces', { recursive: true }).filter((f) => String(f).endsWith('.trace')).length;
const frameCount = readdirSync('vectors/frames').filter((f) => f.endsWith('.json')).length;
/** Every trace vector under vectors/, the hand-written ones and those the model checker generated. */
const allTraceCount = readdirSync('vectors', { recursive: true }).filter((f) => String(f).endsWith('.trace')).length;

let tmp: string;
let doctored: string;
/** The line of the doctored copy that breaks §6.7. */
let late: number;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'rebind-cli-'));
  // A valid vector turned invalid: the peer keeps sending on C1 after SUSPENDED (§6.7).
  const fig9 = readFileSync('vectors/traces/stop-and-wait.trace', 'utf8');
  doctored = join(tmp, 'stop-and-wait.trace');
  late = fig9.split('\n').findIndex((l) => l.startsWith('@11 O <~ P DATA')) + 1;
  writeFileSync(doctored, fig9.replace('@11 O <~ P DATA', '@10 P ~> O DATA offset=11 data="late"\n@11 O <~ P DATA'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('conformance check (main)', () => {
  it('exits 0 on vectors/ and closes with "N passed, 0 failed"', async () => {
    const { code, stdout, stderr } = await run('check', 'vectors/');
    expect(stderr).toBe('');
    expect(stdout).toBe(`${allTraceCount + frameCount} passed, 0 failed\n`);
    expect(code).toBe(ExitCode.OK);
  });

  it('--verbose lists each passing vector', async () => {
    const { stdout } = await run('check', '--verbose', 'vectors/traces');
    expect(stdout.split('\n').filter((l) => l.startsWith('pass trace.'))).toHaveLength(traceCount);
  });

  it('--json prints a report that validates against its schema', async () => {
    const { code, stdout } = await run('check', 'vectors/traces', '--json');
    expect(code).toBe(0);
    const report = JSON.parse(stdout) as { ok: boolean; counts: { vectors: number } };
    expect(validateWith(CHECK_REPORT_SCHEMA_ID, report).errors).toEqual([]);
    expect(report).toMatchObject({ ok: true, counts: { vectors: traceCount, passed: traceCount, failed: 0 } });
  });

  it('exits 1 on a doctored copy, printing the failing vector, its diagnostics with carets, and the count', async () => {
    const { code, stdout } = await run('check', tmp);
    expect(code).toBe(ExitCode.FAILED);
    const lines = stdout.split('\n');
    expect(lines[0]).toBe(`FAIL trace.fig9.stop-and-wait (${doctored})`);
    expect(lines[1]).toBe(`  ${doctored}:5:12: error ERR_VECTOR_EXPECTATION: expected the trace to be accepted, got ERR_TRACE_ORDER (§6.7) at line ${late} (§13.3)`);
    expect(lines.slice(2, 5)).toEqual(['    |', '  5 | #! result: valid', '    |            ^']);
    expect(stdout).toContain(`  ${doctored}:${late}:1: error ERR_TRACE_ORDER: peer P sends DATA on C1 after it has sent SUSPENDED`);
    expect(stdout).toContain(`  ${late} | @10 P ~> O DATA offset=11 data="late"`);
    expect(lines.at(-2)).toBe('0 passed, 1 failed');
    const json = await run('check', tmp, '--json');
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, counts: { failed: 1 } });
  });

  it('usage errors exit 2 with the usage on stderr', async () => {
    for (const argv of [[], ['frobnicate'], ['check'], ['check', '--jsn', 'vectors'], ['check', join(tmp, 'absent')], ['help', 'nope']]) {
      const { code, stdout, stderr } = await run(...argv);
      expect(code, argv.join(' ')).toBe(ExitCode.USAGE);
      expect(stdout).toBe('');
      expect(stderr).toMatch(/^conformance: .+\n\nusage: conformance <command>/);
    }
    expect((await run('frobnicate')).stderr).toContain('conformance: unknown command: frobnicate\n');
    expect((await run('check', join(tmp, 'absent'))).stderr).toContain(`no such file or folder: ${join(tmp, 'absent')}`);
  });

  it('help, --help and --version', async () => {
    const help = await run('help');
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('usage: conformance <command> [arguments]');
    expect(help.stdout).toContain('check <files or folders...> [--json] [--verbose]');
    expect((await run('--help')).stdout).toBe(help.stdout);
    expect((await run('-h')).stdout).toBe(help.stdout);
    const checkHelp = await run('help', 'check');
    expect(checkHelp.stdout).toContain('usage: conformance check <files or folders...>');
    expect(checkHelp.stdout).toContain('--json');
    expect((await run('check', '--help')).stdout).toBe(checkHelp.stdout);
    const version = await run('--version');
    expect(version).toEqual({ code: 0, stdout: `${(JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version}\n`, stderr: '' });
  });
});

/** The newest modification time of the .ts files under the given folders. */
function newestSource(dirs: string[]): number {
  let newest = 0;
  for (const dir of dirs) {
    for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
      if (entry.isFile() && /\.(ts|peggy|json)$/.test(entry.name)) newest = Math.max(newest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
    }
  }
  return newest;
}

describe('bin/conformance.js as a child process', () => {
  const built = 'dist/conformance/cli.js';
  beforeAll(() => {
    // Build dist (grammars, then tsc) when it is absent or older than the sources. tsc emits even
    // when some other file has a type error; the check below is that the entry point exists.
    if (existsSync(built) && statSync(built).mtimeMs >= newestSource(['conformance', 'reference', 'grammar'])) return;
    execFileSync(process.execPath, ['scripts/build-grammars.mjs'], { stdio: 'pipe' });
    spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { stdio: 'pipe' });
  }, 120_000);

  it('dist is built', () => {
    expect(existsSync(built)).toBe(true);
  });

  it('check vectors/ exits 0', () => {
    const child = spawnSync(process.execPath, ['bin/conformance.js', 'check', 'vectors/'], { encoding: 'utf8' });
    expect(child.stderr).toBe('');
    expect(child.stdout).toBe(`${allTraceCount + frameCount} passed, 0 failed\n`);
    expect(child.status).toBe(0);
  });

  it('check on the doctored copy exits 1; an unknown command exits 2', () => {
    const failed = spawnSync(process.execPath, ['bin/conformance.js', 'check', doctored], { encoding: 'utf8' });
    expect(failed.status).toBe(1);
    expect(failed.stdout).toContain('FAIL trace.fig9.stop-and-wait');
    expect(failed.stdout.endsWith('0 passed, 1 failed\n')).toBe(true);
    const usage = spawnSync(process.execPath, ['bin/conformance.js', 'frobnicate'], { encoding: 'utf8' });
    expect(usage.status).toBe(2);
    expect(usage.stderr).toContain('usage: conformance <command>');
  });
});
