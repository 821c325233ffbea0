/**
 * MUST coverage (spec §15): every section of the spec that states a `MUST` has at least one case —
 * a trace vector, a frame vector or a kit case — that cites it, or an entry in {@link EXEMPT}
 * saying why no case can (the rule binds documents or deployments, not an implementation's
 * behaviour on the wire). `conformance lint` reports an uncovered section as an error when it
 * lints the package's own vectors.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../reference/schemas.js';

/** Sections with a MUST that no case can check, and why. */
export const EXEMPT: Readonly<Record<string, string>> = {
  '1.1': 'defines the requirement keywords themselves',
  '7.4': 'binds the spec\'s own artefacts (grammar and states.json agree row for row); test/spec checks it',
  '11.3': 'the local channel is internal to an implementation: its creation is not observable on the wire',
  '13.3': 'binds vector files, which `conformance lint` checks, not implementations',
  '14': 'binds deployments (encrypted channels across untrusted networks), not the protocol engine',
  '15': 'defines conformance itself: the whole kit is its check',
};

/**
 * Sections with a MUST that a case could check but none does yet: printed by `lint` as warnings
 * with the reason, so the gap stays visible instead of failing every run until it is closed.
 */
export const KNOWN_GAPS: Readonly<Record<string, string>> = {
  '9.8': 'a collision needs a handoff started by the connecting end (even hids); neither the reference nor the kit plays that end yet',
};

/** Each numbered section (`6.2`, `14`) whose own text, up to the next anchor, says MUST; with the count. */
export function mustSections(specText?: string): Map<string, number> {
  const text = specText ?? readFileSync(join(packageRoot(), 'spec', 'rebind.md'), 'utf8');
  const parts = text.split(/<a id="s([0-9][0-9.]*)"><\/a>/);
  const out = new Map<string, number>();
  for (let i = 1; i < parts.length; i += 2) {
    // Quoted examples (`#! level: MUST`) and the keyword in backquotes are not requirements.
    const body = parts[i + 1]!.replace(/`[^`\n]*`/g, '');
    const count = (body.match(/\bMUST\b/g) ?? []).length;
    if (count > 0) out.set(parts[i]!, count);
  }
  return out;
}

/** How the cases cover the MUST sections. */
export interface MustCoverage {
  /** MUST sections and the ids of the cases citing each (first few). */
  readonly covered: ReadonlyMap<string, readonly string[]>;
  readonly exempt: ReadonlyMap<string, string>;
  /** Uncovered, with a reason on record ({@link KNOWN_GAPS}). */
  readonly gaps: ReadonlyMap<string, string>;
  readonly uncovered: readonly string[];
}

/** Which MUST sections the cases (anything with an id and cited sections) cover. */
export function mustCoverage(cases: Iterable<{ readonly id: string; readonly sections: readonly string[] }>, specText?: string): MustCoverage {
  const citing = new Map<string, string[]>();
  for (const c of cases) for (const s of c.sections) citing.set(s, [...(citing.get(s) ?? []), c.id]);
  const covered = new Map<string, string[]>();
  const exempt = new Map<string, string>();
  const gaps = new Map<string, string>();
  const uncovered: string[] = [];
  for (const section of mustSections(specText).keys()) {
    const ids = citing.get(section);
    if (ids !== undefined) covered.set(section, ids);
    else if (EXEMPT[section] !== undefined) exempt.set(section, EXEMPT[section]);
    else if (KNOWN_GAPS[section] !== undefined) gaps.set(section, KNOWN_GAPS[section]);
    else uncovered.push(section);
  }
  return { covered, exempt, gaps, uncovered };
}
