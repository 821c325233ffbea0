import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main, optionsFromArgs } from '../../../conformance/model/cli.js';

function capture(): { io: { stdout: { write(s: string): void }; stderr: { write(s: string): void } }; out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return { io: { stdout: { write: (s) => void (out += s) }, stderr: { write: (s) => void (err += s) } }, out: () => out, err: () => err };
}

const SMALL = ['--data', '0', '--failures', '0', '--no-stranger', '--no-release'];

describe('model CLI', () => {
  it('prints states, invariants and time, and exits 0 when the invariants hold', async () => {
    const c = capture();
    expect(await main(SMALL, c.io)).toBe(0);
    expect(c.out()).toContain('explored: 6934 states, 19595 transitions');
    expect(c.out()).toMatch(/ok +exactly-once/);
    expect(c.out()).toMatch(/ok +at most one owner/);
    expect(c.out()).toMatch(/\d+\.\d s/);
  });

  it('--no-suspend: exits 0 because the expected Fig. 8 counterexample is found, and prints it as a trace', async () => {
    const c = capture();
    expect(await main(['--data', '1', '--failures', '0', '--no-stranger', '--no-release', '--no-suspend'], c.io)).toBe(0);
    expect(c.out()).toContain('COUNTEREXAMPLE');
    expect(c.out()).toContain('  P ~> O DATA offset=0 data=0x41');
    expect(c.out()).toContain('expected: without SUSPEND the checker finds a run that loses');
  });

  it('--no-suspend --keep-checks: no loss is found, which --no-suspend reports as failure (exit 1)', async () => {
    const c = capture();
    expect(await main(['--data', '1', '--failures', '0', '--no-stranger', '--no-release', '--no-suspend', '--keep-checks'], c.io)).toBe(1);
    expect(c.out()).toContain('UNEXPECTED: without SUSPEND no loss');
  });

  it('exits 1 when an invariant fails (--cut-local breaks "one owner")', async () => {
    const c = capture();
    expect(await main(['--data', '0', '--failures', '1', '--cut-local', '--order', 'fast', '--no-stranger', '--no-release'], c.io)).toBe(1);
    expect(c.out()).toMatch(/FAILED at most one owner/);
  });

  it('--emit-vectors writes trace files', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'model-vectors-'));
    try {
      const c = capture();
      expect(await main([...SMALL, '--emit-vectors', dir], c.io)).toBe(0);
      const files = readdirSync(dir);
      expect(files.length).toBeGreaterThan(0);
      expect(files.every((f) => f.endsWith('.trace'))).toBe(true);
      expect(c.out()).toContain(`wrote ${files.length} vector files`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('usage errors exit 2: unknown flags, bad numbers, --chain (not modelled)', async () => {
    for (const argv of [['--bogus'], ['--data', 'x'], ['--chain'], ['--order', 'both'], ['--keep-checks']]) {
      const c = capture();
      expect(await main(argv, c.io), argv.join(' ')).toBe(2);
      expect(c.err()).toContain('usage: model');
    }
  });

  it('parses the flags of deeper runs', () => {
    const { options, emit } = optionsFromArgs(['--data', '3', '--failures', '--cut-local', '--emit-vectors', 'out']);
    expect(options.data).toBe(3);
    expect(options.failures).toBe(1);
    expect(options.cutLocal).toBe(true);
    expect(emit).toBe('out');
    const ns = optionsFromArgs(['--no-suspend']).options;
    expect([ns.noSuspend, ns.offsetChecks, ns.orders]).toEqual([true, false, ['fig9']]);
  });
});
