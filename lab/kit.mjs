#!/usr/bin/env node
// The conformance kit from its TypeScript sources, over a chosen transport (spec §15.1
// `REBIND_KIT_TRANSPORT`), for the lab: `node --import ./scripts/register-ts.mjs lab/kit.mjs
// [--transport tcp|rdma] [--filter PREFIX] [--timeout S] [--json FILE]`. It needs no `dist/` (the adapter runs
// from source too, under the same loader), so a fresh clone can run it in the guest. Prints one
// line per case and a summary; exits 1 when a MUST case fails, 0 otherwise (skipped cases, e.g.
// without an RDMA device, do not fail the run). `conformance run --transport` is the CLI's form.
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { runKit } from '../conformance/run.js';
import { KIT_CASES } from '../conformance/cases/index.js';

const { values } = parseArgs({
  options: { transport: { type: 'string', default: 'rdma' }, filter: { type: 'string', default: 'kit.server' }, timeout: { type: 'string', default: '60' }, json: { type: 'string' } },
});
const transport = values.transport;
if (transport !== 'tcp' && transport !== 'rdma') {
  console.error(`--transport must be tcp or rdma, not ${transport}`);
  process.exit(2);
}
const prefix = values.filter;
const cases = KIT_CASES.filter((c) => c.id === prefix || c.id.startsWith(prefix.endsWith('.') ? prefix : `${prefix}.`));
if (cases.length === 0) {
  console.error(`no case matches ${prefix}`);
  process.exit(2);
}
const started = Date.now();
const results = await runKit({
  impl: 'reference',
  cases,
  transport,
  timeout: Number(values.timeout),
  onResult: (r) => console.log(`${r.verdict.padEnd(11)} ${r.id} (${(r.ms / 1000).toFixed(1)} s)${r.message !== undefined ? ` — ${r.message}` : ''}`),
});
const count = (verdict) => results.filter((r) => r.verdict === verdict).length;
const mustFailed = results.filter((r) => r.verdict === 'fail' && r.level === 'MUST').length;
console.log(
  `kit over ${transport}: ${results.length} cases, ${count('pass')} pass, ${count('fail')} fail (${mustFailed} MUST), ${count('skipped')} skipped, ${count('unsupported')} unsupported; ${((Date.now() - started) / 1000).toFixed(1)} s`,
);
if (values.json !== undefined) {
  // The verdicts without the traces (the summary of lab/ci-tier.mjs reads this).
  const verdicts = results.map(({ trace: _trace, ...rest }) => rest);
  writeFileSync(values.json, `${JSON.stringify({ transport, seconds: (Date.now() - started) / 1000, results: verdicts }, null, 1)}\n`);
}
process.exit(mustFailed > 0 ? 1 : 0);
