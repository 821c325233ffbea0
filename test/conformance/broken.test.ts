/**
 * The kit has teeth (spec §15): each deliberately broken variant of the reference
 * (conformance/broken, selected with `REBIND_BROKEN`) fails at least one MUST case of the kit, and
 * the failure names the section the variant violates; the unbroken reference passes the same
 * cases. One variant also goes through the command line, as a user would run it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { BROKEN_VARIANTS, installBroken } from '../../conformance/broken/index.js';
import { FAULTS_CASES } from '../../conformance/cases/faults.js';
import { main } from '../../conformance/cli.js';
import { runKit, type CaseResult } from '../../conformance/run.js';

afterEach(() => {
  delete process.env.REBIND_BROKEN;
});

/** The fault cases with these ids, in the kit's order; every id must exist. */
function cases(ids: readonly string[]): typeof FAULTS_CASES {
  const found = FAULTS_CASES.filter((c) => ids.includes(c.id));
  expect(found.map((c) => c.id).sort()).toEqual([...new Set(ids)].sort());
  return found;
}

/** Runs `ids` against the reference, broken as `variant` says (or not at all). */
async function run(ids: readonly string[], variant?: string): Promise<CaseResult[]> {
  if (variant !== undefined) process.env.REBIND_BROKEN = variant; // inherited by the adapter and its forks
  try {
    return await runKit({ impl: 'reference', cases: cases(ids) });
  } finally {
    delete process.env.REBIND_BROKEN;
  }
}

const CAUGHT_BY = [...new Set(BROKEN_VARIANTS.flatMap((v) => v.caughtBy))];

describe('broken variants of the reference', () => {
  it('there are at least five, with distinct names, each citing a section and the cases that catch it', () => {
    expect(BROKEN_VARIANTS.length).toBeGreaterThanOrEqual(5);
    expect(new Set(BROKEN_VARIANTS.map((v) => v.name)).size).toBe(BROKEN_VARIANTS.length);
    expect(BROKEN_VARIANTS.map((v) => v.name)).toEqual(expect.arrayContaining(['skip-suspend', 'forget-copy', 'rebind-twice', 'accept-any-token', 'never-timeout']));
    for (const v of BROKEN_VARIANTS) {
      expect(v.violates).toMatch(/^\d+(\.\d+)*$/);
      expect(v.caughtBy.length).toBeGreaterThan(0);
    }
    expect(() => installBroken('no-such-variant')).toThrow(/no such broken variant \(known: skip-suspend, /);
  });

  it('the unbroken reference passes every case that catches a variant', async () => {
    const results = await run(CAUGHT_BY);
    expect(results.map((r) => r.id).sort()).toEqual([...CAUGHT_BY].sort());
    expect(results.filter((r) => r.verdict !== 'pass').map((r) => `${r.id}: ${r.verdict} ${r.message ?? ''}`)).toEqual([]);
  }, 120_000);

  for (const variant of BROKEN_VARIANTS) {
    it(`${variant.name} (${variant.description}) fails a MUST case naming §${variant.violates}`, async () => {
      const results = await run(variant.caughtBy, variant.name);
      const failed = results.filter((r) => r.verdict === 'fail' && r.level === 'MUST');
      expect(failed.length, results.map((r) => `${r.id}: ${r.verdict}`).join(', ')).toBeGreaterThan(0);
      const naming = failed.filter((r) => r.section === variant.violates && r.message!.endsWith(`(§${variant.violates})`));
      expect(naming.map((r) => r.id), failed.map((r) => `${r.id}: ${r.message ?? ''}`).join('\n')).not.toEqual([]);
    }, 120_000);
  }

  it('REBIND_BROKEN=forget-copy conformance run --impl reference exits 1, saying what was lost', async () => {
    let stdout = '';
    process.env.REBIND_BROKEN = 'forget-copy';
    const code = await main(['run', '--impl', 'reference', '--filter', 'kit.fault.window-b-d'], { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: () => {} } });
    expect(code).toBe(1);
    expect(stdout).toMatch(/^fail +kit\.fault\.window-b-d .*\n +the successor read \(the copy, then C2\): byte 0 differs .* \(§6\.5\)$/m);
  }, 60_000);
});
