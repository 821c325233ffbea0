/**
 * The TAP report of a kit run (spec §15.1, "Reports"): TAP version 14 — `TAP version 14`, the plan
 * `1..N`, one `ok`/`not ok` test point per case with its id as the description, `# SKIP` with the
 * reason for skipped and unsupported cases, and a YAML diagnostic block (level, sections, ms; for
 * a failure also message, section and the last lines of its trace, data abbreviated).
 *
 * @module
 */
import { abbreviateTrace, type ReportCase, type RunSummary } from './summary.js';

/** Trace lines a failure's diagnostic block shows (the end of the trace, where the case stopped). */
const TRACE_TAIL = 12;

/** The TAP 14 report as text. */
export function formatTap(run: RunSummary): string {
  const lines = ['TAP version 14', `1..${run.results.length}`];
  run.results.forEach((r, i) => lines.push(...testPoint(r, i + 1)));
  const { counts } = run;
  lines.push(`# ${run.impl}: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped, ${counts.unsupported} unsupported; ${run.ok ? 'no MUST case failed' : 'a MUST case failed'}`);
  return `${lines.join('\n')}\n`;
}

function testPoint(r: ReportCase, n: number): string[] {
  const description = escapeDescription(r.id);
  const skip = r.verdict === 'skipped' || r.verdict === 'unsupported';
  const head = `${r.verdict === 'fail' ? 'not ok' : 'ok'} ${n} - ${description}${skip ? ` # SKIP ${r.verdict}${r.message !== undefined ? `: ${oneLine(r.message)}` : ''}` : ''}`;
  const yaml: string[] = [];
  if (r.verdict === 'fail') {
    yaml.push(`message: ${quote(r.message ?? 'failed')}`);
    if (r.section !== undefined) yaml.push(`section: ${quote(r.section)}`);
  }
  yaml.push(`level: ${r.level}`, `sections: [${r.sections.map(quote).join(', ')}]`, `verdict: ${r.verdict}`, `ms: ${r.ms}`);
  if (r.title !== undefined) yaml.push(`title: ${quote(r.title)}`);
  if (r.verdict === 'fail' && r.trace.length > 0) {
    const tail = abbreviateTrace(r.trace.slice(-TRACE_TAIL));
    yaml.push(`trace_lines: ${r.trace.length}`, 'trace_tail:', ...tail.map((l) => `  - ${quote(l)}`));
  }
  return [head, '  ---', ...yaml.map((l) => `  ${l}`), '  ...'];
}

/** TAP 14: `#` starts a directive and `\` escapes, in a description. */
function escapeDescription(text: string): string {
  return oneLine(text).replace(/\\/g, '\\\\').replace(/#/g, '\\#');
}

function oneLine(text: string): string {
  return text.replace(/[\r\n]+/g, ' ');
}

/** A YAML double-quoted scalar (JSON's string syntax is one). */
function quote(text: string): string {
  return JSON.stringify(text);
}
