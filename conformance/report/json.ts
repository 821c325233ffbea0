/**
 * The JSON report of a kit run (spec §15.1, "Reports"): the run summary with every trace line
 * abbreviated (`data=` payloads cut to their first bytes). It validates against
 * `spec/schemas/kit-report.schema.json` ({@link KIT_REPORT_SCHEMA_ID}).
 *
 * @module
 */
import { abbreviateTrace, type ReportCase, type RunCounts, type RunSummary } from './summary.js';

/** The `$id` of the report's JSON Schema. */
export const KIT_REPORT_SCHEMA_ID = 'urn:rebind:schema:kit-report';

/** The JSON report: what `report.json` holds. */
export interface KitReport {
  readonly tool: 'rebind-conformance-run';
  readonly kitVersion: string;
  readonly impl: string;
  readonly transport: string;
  readonly started: string;
  readonly durationMs: number;
  readonly ok: boolean;
  readonly counts: RunCounts;
  readonly results: readonly ReportCase[];
}

/** The report as data, traces abbreviated. */
export function toKitReport(run: RunSummary): KitReport {
  return {
    tool: 'rebind-conformance-run',
    kitVersion: run.kitVersion,
    impl: run.impl,
    transport: run.transport,
    started: run.started,
    durationMs: run.durationMs,
    ok: run.ok,
    counts: { ...run.counts },
    results: run.results.map((r) => ({
      id: r.id,
      ...(r.title !== undefined ? { title: r.title } : {}),
      level: r.level,
      sections: [...r.sections],
      verdict: r.verdict,
      ...(r.message !== undefined ? { message: r.message } : {}),
      ...(r.section !== undefined ? { section: r.section } : {}),
      ms: r.ms,
      trace: abbreviateTrace(r.trace),
    })),
  };
}

/** The JSON report as text (two-space indented, ending with a line break). */
export function formatJson(run: RunSummary): string {
  return `${JSON.stringify(toKitReport(run), null, 2)}\n`;
}
