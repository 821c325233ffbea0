/**
 * What every report of a kit run is made from (spec §15.1, "Reports"): the run summary — which
 * implementation, over which transport, when, how long, the kit's version, each case's result and
 * the counts — and the abbreviation of trace lines that keeps reports small.
 *
 * DATA payloads in a case's trace can be hundreds of KiB of hex; every report shows a `data=` field
 * as its first {@link DATA_PREFIX_BYTES} bytes and says the total in the line's comment, so an
 * abbreviated line still reads as a line of the notation (§13.1). The full trace stays in the
 * case's artefact (`cases/<id>.trace`, see `writeArtefacts`).
 *
 * @module
 */
import type { CaseResult } from '../run.js';
import { packageVersion } from '../check.js';

/** One case in a report: its result, and its title when the caller knows it. */
export type ReportCase = CaseResult & { readonly title?: string };

/** The counts of a run, one per verdict of §15.1. */
export interface RunCounts {
  readonly passed: number;
  readonly failed: number;
  readonly skipped: number;
  readonly unsupported: number;
}

/** A kit run as the reports show it. */
export interface RunSummary {
  /** `reference`, or the adapter's path (§15.1). */
  readonly impl: string;
  /** The transport the kit's peer used (`tcp`, `local`, `rdma`). */
  readonly transport: string;
  /** When the run started (ISO 8601). */
  readonly started: string;
  readonly durationMs: number;
  /** The version of the kit (this package) that ran the cases. */
  readonly kitVersion: string;
  readonly results: readonly ReportCase[];
  readonly counts: RunCounts;
  /** No MUST case failed (§15.1: the run's exit code is 0 exactly then). */
  readonly ok: boolean;
}

/** What {@link summarizeRun} needs besides the results. */
export interface SummaryOptions {
  readonly impl: string;
  readonly transport?: string;
  /** When the run started; default: now minus the cases' time. */
  readonly started?: Date;
  /** The run's wall time; default: the sum of the cases' times. */
  readonly durationMs?: number;
  /** Default: this package's version. */
  readonly kitVersion?: string;
  /** The cases that ran, to show their titles (e.g. `KIT_CASES`). */
  readonly cases?: readonly { readonly id: string; readonly title: string }[];
}

/** The summary of a run: counts, and `ok` when no MUST case failed (§15.1). */
export function summarizeRun(results: readonly CaseResult[], options: SummaryOptions): RunSummary {
  const titles = new Map((options.cases ?? []).map((c) => [c.id, c.title]));
  const count = (verdict: CaseResult['verdict']): number => results.filter((r) => r.verdict === verdict).length;
  const durationMs = Math.max(0, Math.round(options.durationMs ?? results.reduce((sum, r) => sum + r.ms, 0)));
  const started = options.started ?? new Date(Date.now() - durationMs);
  return {
    impl: options.impl,
    transport: options.transport ?? 'tcp',
    started: started.toISOString(),
    durationMs,
    kitVersion: options.kitVersion ?? packageVersion(),
    results: results.map((r) => {
      const title = titles.get(r.id);
      return title !== undefined ? { ...r, title } : r;
    }),
    counts: { passed: count('pass'), failed: count('fail'), skipped: count('skipped'), unsupported: count('unsupported') },
    ok: !results.some((r) => r.verdict === 'fail' && r.level === 'MUST'),
  };
}

/** The file name of a case's trace artefact under `cases/`: its id, made safe for any file system. */
export function traceFileName(id: string): string {
  return `${id.replace(/[^A-Za-z0-9._-]/g, '_')}.trace`;
}

/** Bytes of a `data=` payload a report shows. */
export const DATA_PREFIX_BYTES = 16;
/** Text payloads (`data="..."`) longer than this many characters are cut too. */
const TEXT_PREFIX_CHARS = 32;
/** A line longer than this after abbreviating its data is cut (a report line, never an artefact). */
export const MAX_REPORT_LINE = 2048;

/** A trace line as reports show it, and the size of its `data=` payload if it had one. */
export interface AbbreviatedLine {
  readonly text: string;
  /** The payload's length in bytes (hex or text), whether or not it was cut. */
  readonly dataBytes?: number;
}

/**
 * Abbreviates the `data=` field of one trace line (§13.1): `data=0x` + the first 16 bytes, and the
 * total in the line's comment (`# data: 262144 bytes, first 16 shown`). Shorter payloads and lines
 * without one are returned as they are. A line still over {@link MAX_REPORT_LINE} is cut.
 */
export function abbreviateLine(line: string): AbbreviatedLine {
  const found = findDataField(line);
  let text = line;
  let dataBytes: number | undefined;
  if (found !== undefined) {
    const { start, end, hex } = found;
    const value = line.slice(start, end);
    let shown: string | undefined;
    if (hex) {
      dataBytes = (value.length - 2) >> 1;
      if (dataBytes > DATA_PREFIX_BYTES) shown = value.slice(0, 2 + 2 * DATA_PREFIX_BYTES);
    } else {
      const decoded = decodeQuoted(value);
      dataBytes = Buffer.byteLength(decoded ?? value.slice(1, -1), 'utf8');
      if (decoded !== undefined && [...decoded].length > TEXT_PREFIX_CHARS) shown = JSON.stringify([...decoded].slice(0, TEXT_PREFIX_CHARS).join(''));
    }
    if (shown !== undefined) {
      const note = `data: ${dataBytes} bytes, first ${hex ? DATA_PREFIX_BYTES : TEXT_PREFIX_CHARS}${hex ? '' : ' characters'} shown`;
      const rest = line.slice(end);
      text = `${line.slice(0, start)}${shown}${rest}${hasComment(rest) ? '; ' : ' # '}${note}`;
    }
  }
  if (text.length > MAX_REPORT_LINE) text = `${text.slice(0, MAX_REPORT_LINE)} …(${text.length - MAX_REPORT_LINE} more characters)`;
  return dataBytes !== undefined ? { text, dataBytes } : { text };
}

/** Every line of a trace, abbreviated for a report. */
export function abbreviateTrace(lines: readonly string[]): string[] {
  return lines.map((line) => abbreviateLine(line).text);
}

/**
 * Where the value of the line's `data=` field is: a field (after a blank, outside quotes and
 * before any comment) named `data`, with a `0x` hex or a quoted value (§13.1).
 */
function findDataField(line: string): { start: number; end: number; hex: boolean } | undefined {
  let inQuotes = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (inQuotes) {
      if (c === '\\') i++;
      else if (c === '"') inQuotes = false;
      continue;
    }
    if (c === '"') inQuotes = true;
    else if (c === '#') return undefined;
    else if ((c === ' ' || c === '\t') && line.startsWith('data=', i + 1)) {
      const start = i + 6;
      if (line.startsWith('0x', start)) {
        HEX_RUN.lastIndex = start + 2;
        HEX_RUN.test(line);
        return { start, end: HEX_RUN.lastIndex, hex: true };
      }
      if (line[start] === '"') {
        let end = start + 1;
        while (end < line.length && line[end] !== '"') end += line[end] === '\\' ? 2 : 1;
        return { start, end: Math.min(line.length, end + 1), hex: false };
      }
    }
  }
  return undefined;
}

/** Hex digits from `lastIndex` on (sticky; it matches the empty run too). */
const HEX_RUN = /[0-9a-fA-F]*/y;

/** Whether the rest of a line (outside quotes) has a `#` comment. */
function hasComment(rest: string): boolean {
  let inQuotes = false;
  for (let i = 0; i < rest.length; i++) {
    const c = rest[i];
    if (inQuotes) {
      if (c === '\\') i++;
      else if (c === '"') inQuotes = false;
    } else if (c === '"') inQuotes = true;
    else if (c === '#') return true;
  }
  return false;
}

function decodeQuoted(value: string): string | undefined {
  try {
    const decoded: unknown = JSON.parse(value);
    return typeof decoded === 'string' ? decoded : undefined;
  } catch {
    return undefined;
  }
}
