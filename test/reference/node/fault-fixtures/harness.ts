/**
 * The test side of the fault fixtures (faults.test.ts, netns.test.ts): reading the report file the
 * fixtures append to, and the loader arguments that start them.
 */
import { readFileSync } from 'node:fs';
import type { ReportLine } from './common.js';

/** Where the fixtures are, from the repository root (the tests' working directory). */
export const FIXTURES = 'test/reference/node/fault-fixtures';

/** The report's whole lines so far (a line being appended right now is left for the next read). */
export function readReport(file: string): ReportLine[] {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return text.split('\n').slice(0, -1).map((l) => JSON.parse(l) as ReportLine);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The report as text for failure messages: each event with its time from `began`. */
export function formatReport(lines: readonly ReportLine[], began: number): string {
  return lines
    .filter((l) => l.ev !== 'listening')
    .map((l) => {
      const { role, ev, t, pid: _pid, ...rest } = l;
      return `+${t - began}ms ${role} ${ev === 'trace' ? String(rest.text).replace(/^@[0-9.]+ /, '') : `${ev} ${JSON.stringify(rest)}`}`;
    })
    .join('\n');
}
