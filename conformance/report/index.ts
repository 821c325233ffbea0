/**
 * The reports of a kit run (spec §15.1, "Reports"): JSON (validated by
 * `urn:rebind:schema:kit-report`), JUnit XML, TAP 14 and a self-contained HTML page with a
 * Fig. 9-style sequence chart per case; and {@link writeArtefacts}, which writes them with each
 * case's full trace (`cases/<id>.trace`) into a folder.
 *
 * ```ts
 * const results = await runKit({ impl: 'reference', cases: KIT_CASES });
 * const run = summarizeRun(results, { impl: 'reference', started, durationMs, cases: KIT_CASES });
 * process.stdout.write(formatReport('tap', run));
 * writeArtefacts('out/', run);
 * ```
 *
 * @module
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatHtml } from './html.js';
import { formatJson } from './json.js';
import { formatJunit } from './junit.js';
import { formatTap } from './tap.js';
import { traceFileName, type RunSummary } from './summary.js';

export { summarizeRun, traceFileName, abbreviateLine, abbreviateTrace, DATA_PREFIX_BYTES, MAX_REPORT_LINE, type RunSummary, type RunCounts, type ReportCase, type SummaryOptions, type AbbreviatedLine } from './summary.js';
export { KIT_REPORT_SCHEMA_ID, toKitReport, formatJson, type KitReport } from './json.js';
export { formatJunit } from './junit.js';
export { formatTap } from './tap.js';
export { formatHtml, splitFailure, anchor } from './html.js';
export { layoutSequence, type SequenceChart, type ChartRow, type ChartArrow, type LayoutOptions } from './sequence.js';

/** The report formats, in the order `writeArtefacts` writes them. */
export const REPORT_FORMATS = ['json', 'junit', 'tap', 'html'] as const;

/** A report format. */
export type ReportFormat = (typeof REPORT_FORMATS)[number];

/** The file extension of each format: `report.<ext>`. */
export const REPORT_EXTENSIONS: Readonly<Record<ReportFormat, string>> = { json: 'json', junit: 'xml', tap: 'tap', html: 'html' };

/** Whether `name` is one of {@link REPORT_FORMATS} (for a command line's `--report`). */
export function isReportFormat(name: string): name is ReportFormat {
  return (REPORT_FORMATS as readonly string[]).includes(name);
}

/** A run as the text of one report format. */
export function formatReport(format: ReportFormat, run: RunSummary): string {
  switch (format) {
    case 'json':
      return formatJson(run);
    case 'junit':
      return formatJunit(run);
    case 'tap':
      return formatTap(run);
    case 'html':
      return formatHtml(run);
    default:
      throw new TypeError(`unknown report format: ${String(format)} (one of ${REPORT_FORMATS.join(', ')})`);
  }
}

/**
 * Writes the reports (`report.json`, `report.xml`, `report.tap`, `report.html`, or only
 * `formats`) and each case's full, unabbreviated trace (`cases/<id>.trace`, §15.1: the case's
 * artefact, in the notation of §13.1) into `dir`, creating it. Returns the paths written.
 */
export function writeArtefacts(dir: string, run: RunSummary, formats: readonly ReportFormat[] = REPORT_FORMATS): string[] {
  const written: string[] = [];
  mkdirSync(join(dir, 'cases'), { recursive: true });
  for (const format of formats) {
    const path = join(dir, `report.${REPORT_EXTENSIONS[format]}`);
    writeFileSync(path, formatReport(format, run));
    written.push(path);
  }
  for (const r of run.results) {
    const path = join(dir, 'cases', traceFileName(r.id));
    writeFileSync(path, r.trace.length > 0 ? `${r.trace.join('\n')}\n` : '');
    written.push(path);
  }
  return written;
}
