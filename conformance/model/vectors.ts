/**
 * Trace vectors from the model (spec §13.3): a small, diverse set of the interleavings the checker
 * explored, one per distinct end (outcome × order × trigger), each the shortest run to that end.
 * Names and contents are deterministic: regenerating gives identical files.
 *
 * @module
 */
import { formatFrontMatter, vectorFileName, type TraceVectorMeta } from '../vector-file.js';
import { pathTo, replay, type CheckResult, type Graph, type OutcomeReport } from './checker.js';
import type { TraceLabels } from './model.js';
import type { ModelState } from './state.js';

/** One generated vector file. */
export interface ModelVector {
  readonly meta: TraceVectorMeta;
  /** The file name (the id's last part + `.trace`). */
  readonly file: string;
  /** The whole file: front matter, then the trace. */
  readonly text: string;
}

/** How many vectors {@link modelVectors} writes at most. */
export const MAX_VECTORS = 40;

/** Error ends kept per order (the shortest ones), after every completed and resumed end. */
const ERRORS_PER_ORDER = 12;

/** A lower-case slug of an outcome's detail: `O=FAILED(ABORTED) S=REVOKED(REVOKED)` → `o-failed-aborted-s-revoked-revoked`. */
function slug(detail: string): string {
  return detail.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
}

/** The trigger labels each outcome is written with: both T1 and T2 (T3 and T4) for completed runs. */
function labelSets(o: OutcomeReport): TraceLabels[] {
  if (o.outcome.kind === 'completed' && o.triggers === 'origin') return [{ origin: 'T1', successor: 'T3' }, { origin: 'T2', successor: 'T3' }];
  if (o.outcome.kind === 'completed' && o.triggers === 'successor') return [{ origin: 'T1', successor: 'T3' }, { origin: 'T1', successor: 'T4' }];
  return [{ origin: 'T1', successor: 'T3' }];
}

function triggerName(o: OutcomeReport, l: TraceLabels): string {
  if (o.triggers === 'origin') return l.origin;
  if (o.triggers === 'successor') return l.successor;
  if (o.triggers === 'both') return `${l.origin}+${l.successor}`;
  return 'none';
}

/** The sections a run exercises: its order, the roles' tables, and what happened in it. */
function sectionsOf(o: OutcomeReport, lines: readonly string[]): string[] {
  const sections = new Set<string>([o.order === 'fast' ? '6.3' : '6.2', '6.4', '6.6', '7.1', '7.2', '7.3']);
  const text = lines.join('\n');
  if (/ COPY /.test(text)) sections.add('6.5');
  if (/ timeout /.test(text)) sections.add('9.1');
  if (/ ABORT | REVOKE /.test(text)) sections.add('9.2');
  if (/^X /m.test(text)) sections.add('8.3');
  if (/ RELEASE | FIN /.test(text)) sections.add('9.7');
  if (/ NEED /.test(text)) sections.add('2.4');
  return [...sections].sort((a, b) => Number(a) - Number(b));
}

function describe(o: OutcomeReport): { title: string; comment: string } {
  const order = o.order === 'fast' ? 'fast order' : 'stop-and-wait order (Fig. 9)';
  switch (o.outcome.kind) {
    case 'completed':
      return {
        title: `handoff completes in the ${order}`,
        comment: 'A shortest model-checked run to a completed handoff: an implementation that rejects it, or loses, duplicates or reorders a byte in it, breaks exactly-once delivery (§6.4) or the commit rule (§6.6).',
      };
    case 'resumed':
      return {
        title: `aborted handoff resumes on C1 in the ${order}`,
        comment: 'A shortest model-checked run where the handoff is aborted and the stream resumes on C1: an implementation that hangs, fails the connection or delivers a byte twice here is wrong (§9.2).',
      };
    case 'closed':
      return {
        title: `T1/T2 with no successor holding a handle closes C1 in the ${order}`,
        comment: 'A shortest model-checked run where the origin closes with no live successor to hand over to (O45): an ordinary close, FIN on C1 after every byte sent, no SUSPEND (§9.7). An implementation that starts a handoff here is wrong (§2.4).',
      };
    default:
      return {
        title: `handoff fails cleanly in the ${order} (${o.outcome.detail})`,
        comment: 'A shortest model-checked run that ends in a typed error on every live role: an implementation that hangs, resumes or keeps delivering here is wrong (§9).',
      };
  }
}

/** The outcomes to write, in order: every completed and resumed end, then the error ends per order, shortest first. */
export function chooseOutcomes(outcomes: readonly OutcomeReport[]): OutcomeReport[] {
  const good = outcomes.filter((o) => o.outcome.ok && o.outcome.kind !== 'error');
  const errors = (['fig9', 'fast'] as const).flatMap((order) =>
    outcomes
      .filter((o) => o.outcome.ok && o.outcome.kind === 'error' && o.order === order)
      .sort((a, b) => a.depth - b.depth || a.outcome.detail.localeCompare(b.outcome.detail) || a.triggers.localeCompare(b.triggers)),
  );
  return [...good, ...errors];
}

/**
 * The trace of the shortest run to outcome `o` in which no message reaches a role after it ended
 * (such late messages are unavoidable, and the model ignores them, but the tables have no row for
 * them: docs/model.md, finding F10). Undefined when every remembered run has one.
 */
function cleanRun(result: CheckResult & { graph: Graph }, o: OutcomeReport, labels: TraceLabels): string[] | undefined {
  for (const id of o.candidates) {
    const { root, choices } = pathTo(result.graph, id);
    const run = replay(result.graph.initial[root] as ModelState, choices, result.options, labels);
    if (!run.findings.some((f) => f.kind === 'late' || f.kind === 'unexpected')) return run.lines;
  }
  return undefined;
}

/** The vectors of a check: deterministic ids, names and contents, at most {@link MAX_VECTORS}. */
export function modelVectors(result: CheckResult & { graph: Graph }): ModelVector[] {
  const out: ModelVector[] = [];
  const seen = new Set<string>();
  const errorsWritten = { fig9: 0, fast: 0 };
  for (const o of chooseOutcomes(result.outcomes)) {
    if (o.outcome.kind === 'error' && errorsWritten[o.order] >= ERRORS_PER_ORDER) continue;
    for (const labels of labelSets(o)) {
      if (out.length >= MAX_VECTORS) return out;
      const lines = cleanRun(result, o, labels);
      if (lines === undefined) continue;
      if (o.outcome.kind === 'error') errorsWritten[o.order]++;
      const trig = triggerName(o, labels).toLowerCase().replace('+', '-');
      const name = o.outcome.kind === 'error'
        ? `${o.order}-${trig}-error-${slug(o.outcome.detail)}`
        : `${o.order}-${trig}-${o.outcome.kind}${o.outcome.kind === 'resumed' || o.outcome.kind === 'closed' ? `-${slug(o.outcome.detail)}` : ''}`;
      if (seen.has(name)) continue;
      seen.add(name);
      const { title, comment } = describe(o);
      const meta: TraceVectorMeta = {
        id: `model.${name}`,
        title: `Model run, ${triggerName(o, labels)}: ${title}`.slice(0, 200),
        sections: sectionsOf(o, lines),
        level: 'MUST',
        result: 'valid',
        comment,
      };
      const header = [
        `# Generated by the model checker (conformance/model, docs/model.md): the shortest run to this end,`,
        `# ${result.options.data} data byte(s) each way. End: ${o.outcome.detail}. Do not edit; regenerate.`,
      ];
      out.push({ meta, file: vectorFileName(meta.id), text: `${formatFrontMatter(meta)}${header.join('\n')}\n${lines.join('\n')}\n` });
    }
  }
  return out;
}
