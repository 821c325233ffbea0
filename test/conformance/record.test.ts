/**
 * `conformance record` (spec §13.3, §15): every scenario recorded from the reference through its
 * adapter is a vector that `check` accepts and `lint` finds canonical; the canonical form strips
 * times and names successors by appearance; usage errors exit 2; a recording that cannot be made
 * (no trace lines, a failing scenario) exits 1 and says why.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../conformance/cli.js';
import { canonicalRecording, SCENARIOS } from '../../conformance/record.js';

const LIAR = 'test/conformance/fixtures/lying-adapter.mjs';
const tmp = mkdtempSync(join(tmpdir(), 'rebind-record-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function run(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) } });
  return { code, stdout, stderr };
}

describe('conformance record', () => {
  for (const scenario of SCENARIOS) {
    it(`records "${scenario.name}" from the reference as a vector that check accepts and lint finds canonical`, async () => {
      const file = join(tmp, `${scenario.name}.trace`);
      const recorded = await run('record', '--impl', 'reference', '--scenario', scenario.name, '--id', `trace.recorded.${scenario.name}`, '--out', file);
      expect(recorded.stderr).toBe('');
      expect(recorded.code).toBe(0);
      const text = readFileSync(file, 'utf8');
      expect(text).toMatch(/^#! id: trace\.recorded\./);
      expect(text).not.toMatch(/^@/m); // no times in a vector
      expect(text).not.toMatch(/\bS\d{3,}\b/); // successors renamed
      if (scenario.name === 'echo') expect(text).toMatch(/^P <~ O DATA offset=0 data=0x706f6e67$/m); // "pong"
      else {
        expect(text).toMatch(/^O fork S$/m);
        expect(text).toMatch(/^P <~ S DATA offset=\d+ data=0x627965$/m); // "bye" from the successor
      }
      const checked = await run('check', file);
      expect(checked.stdout).toContain('1 passed, 0 failed');
      const linted = await run('lint', file);
      expect(linted.stdout).toContain('lint clean');
    });
  }

  it('canonical form: no times, successors S, S2 by first appearance, fork/connect/accept arguments renamed', () => {
    const text = canonicalRecording([
      '@1 O fork S4711',
      '@2 S4711 fork S4800',
      '@3 P connect S4800',
      '@4 S4800 accept P',
    ]);
    expect(text).toBe('O fork S\nS fork S2\nP connect S2\nS2 accept P\n');
  });

  it('an adapter that sends no trace lines cannot be recorded: exit 1 with the reason', async () => {
    const { code, stderr } = await run('record', '--impl', LIAR, '--scenario', 'echo', '--id', 'trace.recorded.liar', '--timeout', '3');
    expect(code).toBe(1);
    expect(stderr).toMatch(/^conformance record: /);
  });

  it('usage errors exit 2', async () => {
    expect((await run('record', '--impl', 'reference', '--scenario', 'echo')).code).toBe(2);
    expect((await run('record', '--impl', 'reference', '--scenario', 'teleport', '--id', 'a.b')).stderr).toContain('no scenario "teleport"');
    expect((await run('record', '--impl', 'reference', '--scenario', 'echo', '--id', 'NotDotted')).stderr).toContain('--id must be dotted');
    expect((await run('record', '--impl', 'reference', '--scenario', 'echo', '--id', 'a.b', '--level', 'MAY')).code).toBe(2);
    expect((await run('record', '--impl', 'reference', '--scenario', 'echo', '--id', 'a.b', '--timeout', '0')).code).toBe(2);
    expect((await run('record', '--impl', '/no/such/adapter', '--scenario', 'echo', '--id', 'a.b')).stderr).toContain('no such adapter');
  });
});
