/**
 * A second, independent implementation (spec §15): `impls/python`, written in Python from the spec
 * alone, passes the conformance kit through its own adapter (§15.1) — evidence that the kit is
 * language-neutral. Also runs the implementation's own Python tests: the golden frame vectors
 * (`vectors/frames/frames.json`, §3–§5) against its codec, and handoffs between its own processes.
 *
 * Needs `python3` (standard library only); skipped, saying so, where there is none.
 *
 * @module
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { KIT_CASES } from '../../conformance/cases/index.js';
import { runKit, type CaseResult } from '../../conformance/run.js';

const DIR = fileURLToPath(new URL('../../impls/python/', import.meta.url));
const ADAPTER = `${DIR}adapter.py`;
const python = spawnSync('python3', ['--version'], { encoding: 'utf8' }).status === 0;
const why = python ? '' : ' (skipped: no python3 on this machine)';

function describeResults(results: readonly CaseResult[]): string {
  return results.map((r) => `${r.verdict.padEnd(11)} ${r.level} ${r.id}${r.message !== undefined ? `: ${r.message}` : ''}`).join('\n');
}

describe('impls/python: a second implementation of rebind', () => {
  it.skipIf(!python)(`its codec decodes every golden frame vector as stated, and its processes hand off among themselves (python3 -m unittest)${why}`, () => {
    const run = spawnSync('python3', ['-m', 'unittest', '-v'], { cwd: DIR, encoding: 'utf8', timeout: 180_000 });
    expect(run.status, run.stderr).toBe(0);
    // unittest reports on stderr: every test by name (and its docstring's first line), then the count.
    const passed = (name: string): RegExp => new RegExp(`^${name} \\([^)]*\\)\\n?.*\\.\\.\\. ok$`, 'm');
    expect(run.stderr).toMatch(passed('test_every_vector'));
    expect(run.stderr).toMatch(passed('test_chain'));
    expect(run.stderr).toMatch(/\nOK\n?$/);
    const ran = /Ran (\d+) tests/.exec(run.stderr);
    expect(Number(ran?.[1] ?? 0)).toBeGreaterThanOrEqual(11);
  }, 200_000);

  it.skipIf(!python)(`passes every MUST case of the kit through its adapter; what it lacks is unsupported, never passed${why}`, async () => {
    const results = await runKit({ impl: ADAPTER, cases: KIT_CASES, timeout: 30 });
    const failedMust = results.filter((r) => r.verdict === 'fail' && r.level === 'MUST');
    // On failure the whole list is shown: which case, why, and the section it names.
    expect(failedMust.map((r) => `${r.id}: ${r.message ?? ''}`), describeResults(results)).toEqual([]);
    // Honest "unsupported" (§15.1): the fast order is not implemented, so its cases are not passed.
    for (const r of results.filter((x) => KIT_CASES.find((c) => c.id === x.id)?.needs?.includes('fast'))) {
      expect(r.verdict, r.id).toBe('unsupported');
    }
    // It does run the handoff cases for real: the Fig. 9 order as server and as peer.
    const verdict = (id: string): string | undefined => results.find((r) => r.id === id)?.verdict;
    expect(verdict('kit.server.t1-fig9')).toBe('pass');
    expect(verdict('kit.client.t1-fig9')).toBe('pass');
    expect(results.filter((r) => r.verdict === 'pass').length).toBeGreaterThanOrEqual(30);
  }, 900_000);
});
