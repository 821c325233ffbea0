#!/usr/bin/env node
// The RDMA CI tier: ONE lab guest boot (soft-RoCE under TCG, docs/rdma-lab.md) runs the RDMA
// test files (test/reference/transport/rdma/, test/reference/node/rdma-*.test.ts) and the
// whole conformance kit over RDMA, then a summary is printed.
//
//   node lab/ci-tier.mjs [--out DIR] [--timeout S]
//
// Before booting, the TypeScript loader's cache is filled on the host (the guest sees the
// checkout read-only and would otherwise transpile everything under TCG). Reports land in DIR
// (default reports/rdma-lab/: vitest.json, kit.json, times.env).
//
// Exit code: 0 when every test passed and no MUST kit case failed, and nothing that needs the
// device was skipped (in the lab a skip means the device was missing); 1 otherwise; the lab's own
// 124 (time limit) or 125 (the lab failed, the message names the step) as they come.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const REPO = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const { values } = parseArgs({ options: { out: { type: 'string' }, timeout: { type: 'string', default: '720' } } });
const out = path.resolve(values.out ?? path.join(REPO, 'reports', 'rdma-lab'));
const started = Date.now();
const seconds = (from) => ((Date.now() - from) / 1000).toFixed(1);
const say = (line) => process.stdout.write(`[ci-tier] ${line}\n`);

process.chdir(REPO);
await rm(out, { recursive: true, force: true });
await mkdir(out, { recursive: true });

// 1. The loader's cache, on the host (a fresh clone has none).
const warmStarted = Date.now();
const { default: warm } = await import('../scripts/warm-ts-cache.mjs');
await warm();
const warmSeconds = seconds(warmStarted);

// 2. One guest: the vitest files, then the kit (lab/ci-guest.sh).
const labStarted = Date.now();
const labCode = await new Promise((resolve) => {
  const lab = spawn(process.execPath, [path.join(REPO, 'lab', 'run.mjs'), '--timeout', values.timeout, '--out', out, 'sh', 'lab/ci-guest.sh'], { stdio: 'inherit' });
  const forward = (signal) => lab.kill(signal);
  process.once('SIGINT', forward);
  process.once('SIGTERM', forward);
  lab.once('exit', (code, signal) => resolve(code ?? (signal !== null ? 125 : 1)));
});
const labSeconds = seconds(labStarted);

// 3. The summary.
const read = (name) => {
  const file = path.join(out, name);
  return existsSync(file) ? readFileSync(file, 'utf8') : undefined;
};
const problems = [];
const times = Object.fromEntries((read('times.env') ?? '').split('\n').filter(Boolean).map((l) => l.split('=')));

const vitestText = read('vitest.json');
let vitestLine = 'no report';
if (vitestText !== undefined) {
  const report = JSON.parse(vitestText);
  const tests = report.testResults.flatMap((file) => file.assertionResults);
  // In the lab only the tests of the no-device path may be skipped (their titles say so); any
  // other skip means a device test did not run.
  const notRun = tests.filter((t) => t.status !== 'passed' && t.status !== 'failed');
  const noDeviceOnly = notRun.filter((t) => t.title.includes('skipped: this machine has an RDMA device'));
  const deviceSkipped = notRun.filter((t) => !noDeviceOnly.includes(t));
  if (report.numFailedTests > 0 || report.numFailedTestSuites > 0) problems.push(`${report.numFailedTests} vitest test(s) failed`);
  if (deviceSkipped.length > 0) problems.push(`${deviceSkipped.length} test(s) did not run: ${deviceSkipped[0].title}`);
  if (report.numTotalTests === 0) problems.push('vitest ran no tests');
  vitestLine = `${report.numPassedTests} passed, ${report.numFailedTests} failed, ${noDeviceOnly.length} skipped (the no-device checks) of ${report.numTotalTests} in ${report.testResults.length} files; ${times.vitest_s ?? '?'} s`;
} else problems.push('vitest wrote no report');

const kitText = read('kit.json');
let kitLine = 'no report';
if (kitText !== undefined) {
  const kit = JSON.parse(kitText);
  const count = (verdict) => kit.results.filter((r) => r.verdict === verdict).length;
  const mustFailed = kit.results.filter((r) => r.verdict === 'fail' && r.level === 'MUST');
  if (mustFailed.length > 0) problems.push(`kit MUST case(s) failed: ${mustFailed.map((r) => r.id).join(', ')}`);
  if (count('skipped') > 0) problems.push(`${count('skipped')} kit case(s) skipped: ${kit.results.find((r) => r.verdict === 'skipped').message}`);
  if (kit.results.length === 0) problems.push('the kit ran no case');
  kitLine = `${kit.results.length} cases: ${count('pass')} pass, ${count('fail')} fail, ${count('skipped')} skipped, ${count('unsupported')} unsupported; ${times.kit_s ?? '?'} s`;
} else problems.push('the kit wrote no report');

if (labCode === 124) problems.push('the time limit ran out in the guest');
if (labCode === 125) problems.push('the lab itself failed (see the [lab] lines above)');
const pass = problems.length === 0 && labCode === 0;
say(`RDMA tier: ${pass ? 'PASS' : 'FAIL'}${problems.length > 0 ? ` — ${problems.join('; ')}` : ''}`);
say(`  vitest over rxe0: ${vitestLine}`);
say(`  kit over rdma (all cases; the raw-peer fault cases are TCP-only: unsupported): ${kitLine}`);
say(`  ${seconds(started)} s in all: loader cache ${warmSeconds} s, lab ${labSeconds} s (setup, boot, both runs); reports in ${path.relative(REPO, out) || out}`);
process.exit(labCode === 124 || labCode === 125 ? labCode : pass ? 0 : 1);
