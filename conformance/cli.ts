/**
 * The `conformance` command line (spec §15). Each command is one row of {@link COMMANDS}: its
 * name, a one-line summary, its usage and a `run` function; `main` only dispatches. Exit codes:
 * 0 success, 1 a vector (or the implementation) failed, 2 usage error.
 *
 * ```
 * conformance check <files or folders...> [--json] [--verbose]
 * conformance run --impl <path|reference> [--filter ID-prefix] [--transport tcp|rdma]
 *                 [--report console|json|junit|tap|html] [--out DIR] [--timeout S]
 * conformance record --impl <path|reference> --scenario NAME --id ID [--out FILE] [...]
 * conformance list [files or folders...] [--filter ID-prefix] [--json]
 * conformance lint [files or folders...] [--json]
 * conformance help [command]
 * conformance --help | --version
 * ```
 *
 * @module
 */
import { existsSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { catalog, filterCases, formatCatalog, lintPaths } from './catalog.js';
import { KIT_CASES } from './cases/index.js';
import { runKit, type CaseResult } from './run.js';
import { record, SCENARIOS } from './record.js';
import { formatReport as formatKitReport, isReportFormat, REPORT_FORMATS, summarizeRun, writeArtefacts } from './report/index.js';
import { checkPaths, formatReport, packageVersion } from './check.js';
import { diagnostic, formatDiagnostic } from '../reference/diagnostics.js';
import { mustCoverage } from './coverage.js';
import { packageRoot } from '../reference/schemas.js';
import { join } from 'node:path';

/** Where output goes: `process.stdout`/`process.stderr`, or anything with `write(string)` in tests. */
export interface Writable {
  write(chunk: string): unknown;
}

/** The streams a command writes to. */
export interface Io {
  readonly stdout: Writable;
  readonly stderr: Writable;
}

/** Exit codes of every command. */
export const ExitCode = {
  /** Everything checked behaved as stated. */
  OK: 0,
  /** At least one vector (or case) failed. */
  FAILED: 1,
  /** The command line was wrong: unknown command or option, missing argument, no such path. */
  USAGE: 2,
} as const;

/** One command of the table. */
interface Command {
  readonly summary: string;
  /** Usage lines, without the leading `conformance `. */
  readonly usage: string;
  /** Option lines for `help <command>`. */
  readonly options?: readonly string[];
  run(args: string[], io: Io): Promise<number>;
}

/** A command line the user got wrong; `main` prints it with the usage and exits 2. */
class UsageError extends Error {}

const COMMANDS: Readonly<Record<string, Command>> = {
  check: {
    summary: 'check trace and frame vectors against the reference checkers',
    usage: 'check <files or folders...> [--json] [--verbose]',
    options: [
      '--json      print the report as JSON (urn:rebind:schema:check-report)',
      '--verbose   also list the vectors that pass',
    ],
    async run(args, io) {
      const { values, positionals } = parse(args, { json: { type: 'boolean' }, verbose: { type: 'boolean' } });
      if (positionals.length === 0) throw new UsageError('check needs at least one file or folder');
      const missing = positionals.filter((p) => !existsSync(p));
      if (missing.length > 0) throw new UsageError(`no such file or folder: ${missing.join(', ')}`);
      const report = await checkPaths(positionals);
      io.stdout.write(values['json'] ? JSON.stringify(report, null, 2) + '\n' : formatReport(report, { verbose: values['verbose'] === true }));
      return report.ok ? ExitCode.OK : ExitCode.FAILED;
    },
  },
  run: {
    summary: 'run the kit\'s cases against an implementation through its adapter (§15.1)',
    usage: 'run --impl <path|reference> [--filter ID-prefix] [--transport tcp|rdma] [--report console|json|junit|tap|html] [--out DIR] [--timeout S]',
    options: [
      '--impl X       `reference`, or the path of an adapter executable (spec §15.1)',
      '--filter P     only the cases whose id starts with the dotted prefix P',
      '--transport T  tcp (default) or rdma (RDMA RC, §11.2; without a device every case is skipped, saying why)',
      '--report F     what goes to standard output: console (default: progress and a closing line),',
      '               json (urn:rebind:schema:kit-report), junit, tap or html; progress then goes to stderr',
      '--out DIR      also write every report (report.json, .xml, .tap, .html) and each case\'s trace',
      '               (cases/<id>.trace, its artefact) into DIR',
      '--timeout S    seconds per case (default 20)',
      '--json         the same as --report json',
      'exit code 0 only when no MUST case fails',
    ],
    async run(args, io) {
      const { values } = parse(args, { impl: { type: 'string' }, filter: { type: 'string' }, transport: { type: 'string' }, report: { type: 'string' }, out: { type: 'string' }, timeout: { type: 'string' }, json: { type: 'boolean' } });
      const impl = values['impl'] as string | undefined;
      if (impl === undefined) throw new UsageError('run needs --impl <path|reference>');
      if (impl !== 'reference' && !existsSync(impl)) throw new UsageError(`no such adapter: ${impl}`);
      const timeout = values['timeout'] === undefined ? 20 : Number(values['timeout']);
      if (!(timeout > 0)) throw new UsageError('--timeout must be a number of seconds > 0');
      const transport = (values['transport'] as string | undefined) ?? 'tcp';
      if (transport !== 'tcp' && transport !== 'rdma') throw new UsageError('--transport is tcp or rdma');
      const report = values['json'] === true ? 'json' : ((values['report'] as string | undefined) ?? 'console');
      if (report !== 'console' && !isReportFormat(report)) throw new UsageError(`--report is one of console, ${REPORT_FORMATS.join(', ')}`);
      const prefix = values['filter'] as string | undefined;
      const cases = KIT_CASES.filter((c) => prefix === undefined || c.id === prefix || c.id.startsWith(prefix.endsWith('.') ? prefix : `${prefix}.`));
      if (cases.length === 0) throw new UsageError(`no case id starts with ${prefix ?? ''}`);
      // Progress and the closing line go where the report does not.
      const progress = report === 'console' ? io.stdout : io.stderr;
      const started = new Date();
      const results = await runKit({
        impl,
        cases,
        timeout,
        transport,
        onResult: (r) => progress.write(`${r.verdict.padEnd(11)} ${r.id}  (${r.ms} ms)${r.message !== undefined ? `\n            ${r.message}` : ''}\n`),
      });
      const summary = summarizeRun(results, { impl, transport, started, durationMs: Date.now() - started.getTime(), cases: KIT_CASES });
      if (report !== 'console') io.stdout.write(formatKitReport(report, summary));
      const out = values['out'] as string | undefined;
      if (out !== undefined) {
        const written = writeArtefacts(out, summary);
        progress.write(`wrote ${written.length} files to ${out} (report.{json,xml,tap,html}, cases/<id>.trace)\n`);
      }
      const count = (v: CaseResult['verdict']): number => results.filter((r) => r.verdict === v).length;
      progress.write(`${count('pass')} passed, ${count('fail')} failed (${count('skipped')} skipped, ${count('unsupported')} unsupported)\n`);
      return summary.ok ? ExitCode.OK : ExitCode.FAILED;
    },
  },
  record: {
    summary: 'run a scenario against an implementation and write what happened as a new trace vector',
    usage: 'record --impl <path|reference> --scenario NAME --id ID [--title T] [--sections 6.2,6.5] [--level MUST|SHOULD] [--comment C] [--out FILE]',
    options: [
      '--impl X       `reference`, or the path of an adapter executable (spec §15.1); it must send trace lines',
      `--scenario N   one of: ${SCENARIOS.map((s) => s.name).join(', ')}`,
      '--id ID        the new vector\'s dotted id (its last part names the file)',
      '--title, --sections, --level, --comment   front matter (defaults from the scenario)',
      '--out FILE     write the vector there (default: standard output)',
      '--timeout S    seconds for the scenario (default 20)',
      'the recording is checked (§13.2) before it is written; exit 1 when the checker rejects it',
    ],
    async run(args, io) {
      const { values } = parse(args, { impl: { type: 'string' }, scenario: { type: 'string' }, id: { type: 'string' }, title: { type: 'string' }, sections: { type: 'string' }, level: { type: 'string' }, comment: { type: 'string' }, out: { type: 'string' }, timeout: { type: 'string' } });
      const impl = values['impl'] as string | undefined;
      const scenario = values['scenario'] as string | undefined;
      const id = values['id'] as string | undefined;
      if (impl === undefined || scenario === undefined || id === undefined) throw new UsageError('record needs --impl, --scenario and --id');
      if (impl !== 'reference' && !existsSync(impl)) throw new UsageError(`no such adapter: ${impl}`);
      if (!SCENARIOS.some((s) => s.name === scenario)) throw new UsageError(`no scenario "${scenario}": one of ${SCENARIOS.map((s) => s.name).join(', ')}`);
      if (!/^[a-z0-9-]+(\.[a-z0-9-]+)+$/.test(id)) throw new UsageError(`--id must be dotted lower-case words, e.g. trace.recorded.t1 (got "${id}")`);
      const level = values['level'] as string | undefined;
      if (level !== undefined && level !== 'MUST' && level !== 'SHOULD') throw new UsageError('--level is MUST or SHOULD');
      const timeout = values['timeout'] === undefined ? 20 : Number(values['timeout']);
      if (!(timeout > 0)) throw new UsageError('--timeout must be a number of seconds > 0');
      const sections = values['sections'] === undefined ? undefined : String(values['sections']).split(',').map((s) => s.trim()).filter((s) => s !== '');
      const recording = await record({
        impl,
        scenario,
        timeout,
        meta: {
          id,
          ...(values['title'] !== undefined ? { title: String(values['title']) } : {}),
          ...(sections !== undefined ? { sections } : {}),
          ...(level !== undefined ? { level } : {}),
          ...(values['comment'] !== undefined ? { comment: String(values['comment']) } : {}),
        },
      });
      if (!recording.ok) {
        io.stderr.write(`conformance record: ${recording.reason}\n`);
        for (const d of recording.diagnostics ?? []) io.stderr.write(`${formatDiagnostic({ ...d, source: 'recording' })}\n`);
        if (recording.trace !== undefined) io.stderr.write(`--- the recording ---\n${recording.trace}\n`);
        return ExitCode.FAILED;
      }
      const out = values['out'] as string | undefined;
      if (out === undefined) io.stdout.write(recording.text);
      else {
        writeFileSync(out, recording.text);
        io.stdout.write(`wrote ${out}: ${recording.events} events; check it with \`conformance check ${out}\` and \`conformance lint ${out}\`\n`);
      }
      return ExitCode.OK;
    },
  },
  list: {
    summary: 'list the cases (vectors) with their ids, levels and sections',
    usage: 'list [files or folders...] [--filter ID-prefix] [--json]',
    options: [
      '--filter P  only the cases whose id starts with the dotted prefix P',
      '--json      print the cases as a JSON array',
      'default folder: the vectors/ of this package',
    ],
    async run(args, io) {
      const { values, positionals } = parse(args, { filter: { type: 'string' }, json: { type: 'boolean' } });
      const paths = existingPaths(positionals);
      const { cases, diagnostics } = catalog(paths);
      // Without paths, the kit's own cases are listed too (they run with `conformance run`).
      const all = positionals.length === 0 ? [...cases, ...KIT_CASES.map((c) => ({ id: c.id, title: c.title, sections: c.sections, level: c.level, kind: 'kit' as const, source: 'conformance/cases' }))] : cases;
      const chosen = filterCases(all, values['filter'] as string | undefined);
      io.stdout.write(values['json'] ? JSON.stringify(chosen, null, 2) + '\n' : formatCatalog(chosen));
      for (const d of diagnostics) io.stderr.write(`${formatDiagnostic(d)}\n`);
      return diagnostics.length === 0 ? ExitCode.OK : ExitCode.FAILED;
    },
  },
  lint: {
    summary: 'check vector files for unique ids, complete metadata and canonical formatting',
    usage: 'lint [files or folders...] [--json]',
    options: ['--json      print the findings as JSON', 'default folder: the vectors/ of this package'],
    async run(args, io) {
      const { values, positionals } = parse(args, { json: { type: 'boolean' } });
      const report = lintPaths(existingPaths(positionals));
      // The package's own corpus (no paths given): every MUST section has a case (§15).
      const coverage = positionals.length === 0 ? mustCoverage([...catalog(existingPaths([])).cases, ...KIT_CASES]) : undefined;
      const uncovered = (coverage?.uncovered ?? []).map((section) => diagnostic('VECTOR_SCHEMA', `§${section} says MUST, but no case (vector or kit case) cites it`, '15', { source: 'spec/rebind.md' }));
      const diagnostics = [...report.diagnostics, ...uncovered];
      const ok = diagnostics.length === 0;
      if (values['json']) io.stdout.write(JSON.stringify({ ...report, ok, diagnostics, ...(coverage !== undefined ? { coverage: { covered: [...coverage.covered.keys()], exempt: Object.fromEntries(coverage.exempt), gaps: Object.fromEntries(coverage.gaps), uncovered: coverage.uncovered } } : {}) }, null, 2) + '\n');
      else {
        for (const d of diagnostics) io.stdout.write(`${formatDiagnostic(d)}\n`);
        if (coverage !== undefined) {
          for (const [section, why] of coverage.gaps) io.stdout.write(`spec/rebind.md: warning: §${section} says MUST and no case cites it yet: ${why}\n`);
          const total = coverage.covered.size + coverage.exempt.size + coverage.gaps.size + coverage.uncovered.length;
          io.stdout.write(`MUST coverage: ${total} sections say MUST: ${coverage.covered.size} cited by cases, ${coverage.exempt.size} exempt (${[...coverage.exempt.keys()].map((s) => `§${s}`).join(', ')}), ${coverage.gaps.size} known gap(s), ${coverage.uncovered.length} uncovered\n`);
        }
        io.stdout.write(`${report.files} file(s), ${report.cases} case(s): ${ok ? 'lint clean' : `${diagnostics.length} problem(s)`}\n`);
      }
      return ok ? ExitCode.OK : ExitCode.FAILED;
    },
  },
  help: {
    summary: 'show this help, or the help of one command',
    usage: 'help [command]',
    async run(args, io) {
      const { positionals } = parse(args, {});
      const name = positionals[0];
      if (name === undefined) {
        io.stdout.write(usage());
        return ExitCode.OK;
      }
      const command = COMMANDS[name];
      if (!command) throw new UsageError(`unknown command: ${name}`);
      io.stdout.write(commandHelp(name, command));
      return ExitCode.OK;
    },
  },
};

/** The paths given, or the package's vectors/ folder; a missing path is a usage error. */
function existingPaths(positionals: string[]): string[] {
  const paths = positionals.length > 0 ? positionals : [join(packageRoot(), 'vectors')];
  const missing = paths.filter((p) => !existsSync(p));
  if (missing.length > 0) throw new UsageError(`no such file or folder: ${missing.join(', ')}`);
  return paths;
}

/** Options of node:util parseArgs, boolean or string valued. */
type OptionSpec = Record<string, { type: 'boolean' | 'string' }>;

function parse(args: string[], options: OptionSpec): { values: Record<string, string | boolean | undefined>; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({ args, options, allowPositionals: true, strict: true });
    return { values: values as Record<string, string | boolean | undefined>, positionals };
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** The general usage text. */
export function usage(): string {
  const width = Math.max(...Object.values(COMMANDS).map((c) => c.usage.length));
  return [
    'usage: conformance <command> [arguments]',
    '',
    'commands:',
    ...Object.values(COMMANDS).map((c) => `  ${c.usage.padEnd(width)}  ${c.summary}`),
    '',
    'options: --help, --version',
    'exit codes: 0 all as stated, 1 a vector failed, 2 usage error',
    '',
  ].join('\n');
}

function commandHelp(name: string, command: Command): string {
  return [`usage: conformance ${command.usage}`, '', `${name}: ${command.summary}`, ...(command.options ? ['', ...command.options.map((o) => `  ${o}`)] : []), ''].join('\n');
}

/**
 * Runs the command line `argv` (without node and the script) and returns the exit code. Never
 * throws: usage errors print the usage to stderr and return 2.
 */
export async function main(argv: string[], io: Io): Promise<number> {
  const [first, ...rest] = argv;
  try {
    if (first === undefined) throw new UsageError('no command given');
    if (first === '--help' || first === '-h') return await COMMANDS['help']!.run([], io);
    if (first === '--version' || first === '-V') {
      io.stdout.write(`${packageVersion()}\n`);
      return ExitCode.OK;
    }
    const command = Object.prototype.hasOwnProperty.call(COMMANDS, first) ? COMMANDS[first] : undefined;
    if (!command) throw new UsageError(`unknown command: ${first}`);
    if (rest.includes('--help') || rest.includes('-h')) {
      io.stdout.write(commandHelp(first, command));
      return ExitCode.OK;
    }
    return await command.run(rest, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr.write(`conformance: ${error.message}\n\n${usage()}`);
      return ExitCode.USAGE;
    }
    io.stderr.write(`conformance: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return ExitCode.FAILED;
  }
}
