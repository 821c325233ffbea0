/**
 * The kit as origin and successor, and observer mode (spec §15.1, conformance/cases/client.ts):
 * the reference's peer passes every `kit.client.*` case and its own traces every `kit.observer.*`
 * case; a peer that acts on a SUSPEND(fast) it never offered, and knows no REBIND, fails the cases
 * that catch it, naming the section; an implementation that sends no trace lines cannot be observed.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { CLIENT_CASES } from '../../conformance/cases/client.js';
import { runKit, type CaseResult } from '../../conformance/run.js';

const EAGER_PEER = 'test/conformance/fixtures/eager-peer.mjs';
const TRACELESS = 'test/conformance/fixtures/traceless-adapter.mjs';

beforeAll(() => {
  // The fixtures run on dist/ (the codec, the TCP binding, the reference adapter).
  const built = ['dist/reference/transport/tcp.js', 'dist/conformance/adapter/reference.js'];
  if (built.every((f) => existsSync(f)) && statSync(built[1]!).mtimeMs >= statSync('conformance/adapter/reference.ts').mtimeMs) return;
  execFileSync(process.execPath, ['scripts/build-grammars.mjs'], { stdio: 'pipe' });
  spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { stdio: 'pipe' });
}, 120_000);

function cases(...ids: string[]): typeof CLIENT_CASES {
  return CLIENT_CASES.filter((c) => ids.some((id) => c.id === id || c.id.startsWith(`${id}.`)));
}

function verdicts(results: readonly CaseResult[]): Record<string, string> {
  return Object.fromEntries(results.map((r) => [r.id, r.verdict === 'fail' ? `fail: ${r.message ?? ''}` : r.verdict]));
}

describe('the kit as origin and successor (§15.1)', () => {
  it('the reference peer passes every kit.client case, and its own traces every kit.observer case', async () => {
    const results = await runKit({ impl: 'reference', cases: CLIENT_CASES, timeout: 30 });
    expect(verdicts(results)).toEqual(Object.fromEntries(CLIENT_CASES.map((c) => [c.id, 'pass'])));
    // The artefact has both sides: the implementation's peer and the kit's origin and successor.
    const fig9 = results.find((r) => r.id === 'kit.client.t1-fig9')!.trace;
    expect(fig9.some((l) => / P ~> O SUSPENDED hid=1 /.test(l))).toBe(true);
    expect(fig9.some((l) => / O <~ P REBOUND hid=1$/.test(l))).toBe(true);
    expect(fig9.some((l) => / S\d+ <~ P ATTACH /.test(l))).toBe(true);
    // The kit's origin was killed: its artefact says so (§13.1 `kill`), and the peer failed.
    const dead = results.find((r) => r.id === 'kit.client.origin-dies.suspended')!.trace;
    expect(dead.some((l) => / O kill$/.test(l))).toBe(true);
    expect(dead.some((l) => / P fail code=ORIGIN_LOST$/.test(l))).toBe(true);
  }, 240_000);

  it('a peer that answers SUSPEND(fast) it never offered, and knows no REBIND, fails the cases that catch it', async () => {
    const results = await runKit({ impl: EAGER_PEER, cases: cases('kit.client.echo', 'kit.client.no-fast-capability', 'kit.client.t1-fig9', 'kit.client.fast', 'kit.observer.t1-fig9'), timeout: 15 });
    const by = Object.fromEntries(results.map((r) => [r.id, r]));
    expect(by['kit.client.echo']!.verdict).toBe('pass'); // establishment and data are right
    expect(by['kit.client.no-fast-capability']).toMatchObject({ verdict: 'fail', section: '6.1' });
    expect(by['kit.client.no-fast-capability']!.message).toContain('answered SUSPEND(fast) with SUSPENDED');
    expect(by['kit.client.t1-fig9']).toMatchObject({ verdict: 'fail', section: '6.2' });
    expect(by['kit.client.t1-fig9']!.message).toMatch(/did not commit.*received from the peer: SUSPENDED; the successor: nothing/);
    expect(by['kit.client.fast']!.verdict).toBe('unsupported'); // it does not claim fast
    expect(by['kit.observer.t1-fig9']).toMatchObject({ verdict: 'unsupported', message: 'the implementation does not claim the server role' });
  }, 120_000);

  it('an implementation that sends no trace lines cannot be observed: unsupported, while its bytes are right', async () => {
    const results = await runKit({ impl: TRACELESS, cases: cases('kit.observer.t1-fig9', 'kit.client.t3'), timeout: 30 });
    expect(verdicts(results)).toEqual({ 'kit.observer.t1-fig9': 'unsupported', 'kit.client.t3': 'pass' });
    expect(results.find((r) => r.id === 'kit.observer.t1-fig9')!.message).toContain('sends no trace lines');
  }, 120_000);
});
