/**
 * `npm run model`: the explicit-state model checker of the rebind protocol (docs/model.md).
 *
 * ```
 * node dist/conformance/model/cli.js [--data N] [--failures [N]] [--cut-local] [--no-suspend [--keep-checks]]
 *     [--order fig9|fast] [--no-timers] [--no-stranger] [--no-release]
 *     [--emit-vectors DIR] [--traces] [--max-states N] [--json]
 * ```
 *
 * Exit codes: 0 the invariants hold (with `--no-suspend`: the expected Fig. 8 counterexample was
 * found), 1 an invariant failed (with `--no-suspend`: none was found), 2 usage error.
 *
 * @module
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { check, type CheckResult, type FindingReport, type Violation } from './checker.js';
import { DEFAULT_OPTIONS, type ModelOptions } from './model.js';
import { noSuspendTables } from './variants.js';
import { modelVectors } from './vectors.js';

/** Anything with `write(string)`. */
export interface Writable {
  write(chunk: string): unknown;
}

/** The streams the command writes to. */
export interface Io {
  readonly stdout: Writable;
  readonly stderr: Writable;
}

/** Exit codes. */
export const ExitCode = { OK: 0, FAILED: 1, USAGE: 2 } as const;

/** The invariants, with the prefix of their violation messages (model.ts, checker.ts). */
export const INVARIANTS: readonly { readonly name: string; readonly prefixes: readonly string[] }[] = [
  { name: 'exactly-once, in-order delivery in both directions, complete at the end (§6.4)', prefixes: ['exactly-once', 'data incomplete'] },
  { name: 'at most one owner: the successor never owns while the origin may deliver (§6.6)', prefixes: ['two owners'] },
  { name: 'no second rebind (§6.6)', prefixes: ['second rebind'] },
  { name: 'every run ends in a completed handoff, a resumed C1 or a clean error (no deadlock; acyclic: no livelock)', prefixes: ['deadlock', 'livelock'] },
  { name: 'a wrong token never attaches (§8.2)', prefixes: ['wrong token'] },
];

const USAGE = `usage: model [options]
  --data N              data bytes each application writes per direction (default ${DEFAULT_OPTIONS.data})
  --failures [N]        allow N kills or connection cuts per run (default ${DEFAULT_OPTIONS.failures}; 1 if N is omitted; 0: none)
  --cut-local           failures may also cut the local channel L while both ends live
  --no-suspend          Fig. 8: SUSPEND taken out (and the offset checks, which need it); expects a counterexample
  --keep-checks         with --no-suspend: keep the §6.4 offset checks
  --order fig9|fast     explore one order only (default both)
  --no-timers           timers never fire
  --no-stranger         no stranger X with a wrong token
  --no-release          the successor's application never closes its dormant handle
  --chain               chained handoffs (not modelled: exits 2)
  --emit-vectors DIR    write vectors/model-style trace files of distinct ends to DIR
  --traces              print the shortest trace of every finding
  --max-states N        stop after N states (default 5000000)
  --json                print the summary as JSON
`;

class UsageError extends Error {}

function positiveInt(value: string | undefined, flag: string, min = 0): number {
  const n = Number(value);
  if (value === undefined || !Number.isInteger(n) || n < min) throw new UsageError(`${flag} needs an integer ≥ ${min}, got ${value ?? 'nothing'}`);
  return n;
}

/** The options a command line asks for. */
export function optionsFromArgs(argv: readonly string[]): { options: ModelOptions; emit?: string; traces: boolean; json: boolean; maxStates: number } {
  // `--failures` may stand alone: give it its default value before parsing.
  const args = argv.flatMap((a, i) => (a === '--failures' && (argv[i + 1] === undefined || argv[i + 1]?.startsWith('--')) ? ['--failures', '1'] : [a]));
  const { values } = parseArgs({
    args,
    strict: true,
    allowPositionals: false,
    options: {
      data: { type: 'string' },
      failures: { type: 'string' },
      'cut-local': { type: 'boolean' },
      'no-suspend': { type: 'boolean' },
      'keep-checks': { type: 'boolean' },
      order: { type: 'string' },
      'no-timers': { type: 'boolean' },
      'no-stranger': { type: 'boolean' },
      'no-release': { type: 'boolean' },
      chain: { type: 'boolean' },
      'emit-vectors': { type: 'string' },
      traces: { type: 'boolean' },
      'max-states': { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.chain) throw new UsageError('--chain: chained handoffs are not modelled yet (docs/model.md, "What is left out")');
  const noSuspend = values['no-suspend'] === true;
  let orders = DEFAULT_OPTIONS.orders;
  if (values.order !== undefined) {
    if (values.order !== 'fig9' && values.order !== 'fast') throw new UsageError(`--order must be fig9 or fast, got ${values.order}`);
    orders = [values.order];
  }
  if (noSuspend) {
    if (values.order === 'fast') throw new UsageError('--no-suspend has no fast order (SUSPEND(fast) is a SUSPEND)');
    orders = ['fig9'];
  }
  if (values['keep-checks'] && !noSuspend) throw new UsageError('--keep-checks only goes with --no-suspend');
  const options: ModelOptions = {
    ...DEFAULT_OPTIONS,
    data: values.data === undefined ? DEFAULT_OPTIONS.data : positiveInt(values.data, '--data'),
    failures: values.failures === undefined ? DEFAULT_OPTIONS.failures : positiveInt(values.failures, '--failures'),
    cutLocal: values['cut-local'] === true,
    timers: values['no-timers'] !== true,
    stranger: values['no-stranger'] !== true,
    release: values['no-release'] !== true,
    noSuspend,
    offsetChecks: !noSuspend || values['keep-checks'] === true,
    orders,
    tables: noSuspend ? noSuspendTables() : DEFAULT_OPTIONS.tables,
  };
  return {
    options,
    ...(values['emit-vectors'] !== undefined ? { emit: values['emit-vectors'] } : {}),
    traces: values.traces === true,
    json: values.json === true,
    maxStates: values['max-states'] === undefined ? 5_000_000 : positiveInt(values['max-states'], '--max-states', 1),
  };
}

/** The bound in words. */
export function describeBound(o: ModelOptions): string {
  return [
    `data=${o.data} byte(s) each way`,
    `orders=${o.orders.join(',')}`,
    `triggers=${[o.originTrigger ? 'T1/T2' : '', o.successorTrigger ? 'T3/T4' : ''].filter(Boolean).join('+')} (alone or both)`,
    `timers ${o.timers ? 'on' : 'off'}`,
    `failures ${o.failures}${o.failures > 0 ? (o.cutLocal ? ' (kill O/S/P, cut C1/C2/L)' : ' (kill O/S/P, cut C1/C2)') : ''}`,
    `stranger ${o.stranger ? 'on' : 'off'}`,
    `release ${o.release ? 'on' : 'off'}`,
    ...(o.noSuspend ? [`NO SUSPEND (Fig. 8)${o.offsetChecks ? ', offset checks kept' : ', no offset checks'}`] : []),
  ].join(', ');
}

function describeFinding(f: FindingReport): string {
  const { kind, role, state, event } = f.finding;
  switch (kind) {
    case 'unexpected': return `§7.5 applied: ${role} in ${state} has no row for "${event}" (the connection fails with UNEXPECTED_MESSAGE)`;
    case 'ambiguous': return `two rows match: ${role} in ${state} on "${event}"`;
    case 'calm-abort': return `liveness: a run without any kill, cut, timeout or stranger did not complete (${state})`;
    case 'late': return `ignored: "${event}" reached the ${role} after it ended (${state})`;
    default: return `ignored: ${role} in ${state} has no row for "${event}"`;
  }
}

/** Findings that point at a defect of the tables (the rest are informational). */
export function isDefect(f: FindingReport): boolean {
  return f.finding.kind === 'unexpected' || f.finding.kind === 'ambiguous' || f.finding.kind === 'calm-abort';
}

/** The human-readable report of a check. */
export function formatResult(r: CheckResult, traces: boolean): string {
  const out: string[] = [];
  out.push(`rebind model checker: spec/tables/states.json (§7) driving origin, successor, peer, stranger X, channels C1, C2, L`);
  out.push(`bound: ${describeBound(r.options)}`);
  out.push(`explored: ${r.states} states, ${r.transitions} transitions, ${r.finalStates} end states, ${r.runs < 0n ? 'a cyclic graph' : `${r.runs} distinct runs`}, depth ≤ ${r.maxDepth}, ${(r.ms / 1000).toFixed(1)} s${r.truncated ? ' (TRUNCATED at --max-states)' : ''}`);
  out.push('invariants:');
  for (const inv of INVARIANTS) {
    const broken = r.violations.filter((v) => inv.prefixes.some((p) => v.message.startsWith(p)));
    const livelock = inv.prefixes.includes('livelock') && !r.acyclic;
    out.push(`  ${broken.length === 0 && !livelock ? 'ok    ' : 'FAILED'} ${inv.name}`);
  }
  const kinds = new Map<string, number>();
  for (const o of r.outcomes) kinds.set(o.outcome.kind, (kinds.get(o.outcome.kind) ?? 0) + 1);
  out.push(`distinct ends (outcome × order × trigger): ${r.outcomes.length} (${[...kinds].map(([k, n]) => `${k} ${n}`).join(', ')})`);
  const defects = r.findings.filter(isDefect);
  const info = r.findings.filter((f) => !isDefect(f));
  out.push(`table findings: ${defects.length} to fix, ${info.length} informational (events the tables rightly ignore)`);
  for (const f of defects) {
    out.push(`  - ${describeFinding(f)} [${f.count}×, shortest run ${f.depth} steps]`);
    if (traces) out.push(...f.trace.map((l) => `      ${l}`));
  }
  if (traces) for (const f of info) out.push(`  - ${describeFinding(f)} [${f.count}×]`);
  for (const v of r.violations) {
    out.push('', `COUNTEREXAMPLE (${v.depth} steps): ${v.message}`);
    out.push(...v.trace.map((l) => `  ${l}`));
  }
  return out.join('\n') + '\n';
}

function summaryJson(r: CheckResult): unknown {
  return {
    bound: describeBound(r.options),
    states: r.states,
    transitions: r.transitions,
    endStates: r.finalStates,
    runs: r.runs.toString(),
    acyclic: r.acyclic,
    maxDepth: r.maxDepth,
    ms: r.ms,
    truncated: r.truncated,
    violations: r.violations.map((v: Violation) => ({ message: v.message, depth: v.depth, trace: v.trace })),
    findings: r.findings.map((f) => ({ ...f.finding, count: f.count, depth: f.depth, defect: isDefect(f) })),
    outcomes: r.outcomes.map((o) => ({ order: o.order, triggers: o.triggers, kind: o.outcome.kind, detail: o.outcome.detail, states: o.states, depth: o.depth })),
  };
}

/** Runs the model checker with the command line `argv`; returns the exit code. Never throws. */
export async function main(argv: string[], io: Io): Promise<number> {
  let parsed: ReturnType<typeof optionsFromArgs>;
  try {
    if (argv.includes('--help') || argv.includes('-h')) {
      io.stdout.write(USAGE);
      return ExitCode.OK;
    }
    parsed = optionsFromArgs(argv);
  } catch (error) {
    if (error instanceof UsageError || (error instanceof Error && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS'))) {
      io.stderr.write(`model: ${error.message}\n\n${USAGE}`);
      return ExitCode.USAGE;
    }
    throw error;
  }
  try {
    const result = check(parsed.options, { maxStates: parsed.maxStates });
    io.stdout.write(parsed.json ? JSON.stringify(summaryJson(result), null, 2) + '\n' : formatResult(result, parsed.traces));
    if (parsed.emit !== undefined) {
      const vectors = modelVectors(result);
      mkdirSync(parsed.emit, { recursive: true });
      for (const v of vectors) writeFileSync(join(parsed.emit, v.file), v.text);
      if (!parsed.json) io.stdout.write(`wrote ${vectors.length} vector files to ${parsed.emit}\n`);
    }
    const failed = result.violations.length > 0 || !result.acyclic || result.truncated;
    if (parsed.options.noSuspend) {
      const loss = result.violations.some((v) => v.message.startsWith('exactly-once') || v.message.startsWith('data incomplete'));
      if (!parsed.json) {
        io.stdout.write(loss
          ? 'expected: without SUSPEND the checker finds a run that loses, duplicates or reorders data (Fig. 8, Appendix B); exit 0\n'
          : 'UNEXPECTED: without SUSPEND no loss, duplicate or reorder was found (Fig. 8 expects one)\n');
      }
      return loss ? ExitCode.OK : ExitCode.FAILED;
    }
    return failed ? ExitCode.FAILED : ExitCode.OK;
  } catch (error) {
    io.stderr.write(`model: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return ExitCode.FAILED;
  }
}

// Run as a program: `node dist/conformance/model/cli.js ...`.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr });
}
