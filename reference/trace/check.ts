/**
 * The trace checker of `conformance check` (spec §13.2): projects a trace onto its roles, runs the
 * ordering grammar of §7.4 on every projection, and the token, offset and hid checks of
 * ./semantics.ts. Every finding is a {@link Diagnostic} that cites the section it enforces.
 *
 * @module
 */
import { diagnostic, type Diagnostic } from '../diagnostics.js';
import { RebindError } from '../errors.js';
import type { TraceEvent } from './events.js';
import { checkSymbols, describeSymbol, explainViolation, isOrdered } from './ordering.js';
import { parseTrace } from './parse.js';
import { projectTrace, type Projection, type RoleSymbol, type TraceModel } from './project.js';
import { checkHids, checkOffsets, checkTokens } from './semantics.js';

/** Options of {@link checkTrace}. */
export interface CheckTraceOptions {
  /** The file name diagnostics refer to. */
  readonly source?: string;
}

/**
 * The ordering diagnostic of one projection (TRACE_ORDER), or undefined when the grammar accepts
 * it. Only the first violation is reported: after it the role's state is unknown.
 */
export function checkProjection(projection: Projection, options: CheckTraceOptions = {}): Diagnostic | undefined {
  return orderingViolation(projection, options, true)?.diagnostic;
}

/** The violation of one projection; `name` adds which connection and epoch (traces with several). */
function orderingViolation(projection: Projection, options: CheckTraceOptions, name: boolean): { diagnostic: Diagnostic; symbol: RoleSymbol } | undefined {
  const result = checkSymbols(projection.role, projection.symbols);
  if (result.violation === undefined || result.symbol === undefined) return undefined;
  const { symbol } = result;
  const place = { source: options.source, line: symbol.event.line, column: symbol.event.column };
  // A handoff of the connecting end (even hids, §2.2) would make the peer an origin: not projected.
  if (projection.role === 'peer' && /^!SUSPEND/.test(symbol.word)) {
    const message = `peer ${projection.actor} sends SUSPEND: handoffs of the connecting end (even hids) are not projected by this checker, so this trace cannot be checked`;
    return { diagnostic: diagnostic('UNSUPPORTED', message, '2.2', place), symbol };
  }
  const before = projection.symbols.slice(0, result.violation.index).map((s) => s.word).filter((w) => isOrdered(projection.role, w));
  const { reason, section } = explainViolation(projection.role, before, symbol.word, result.violation.expected);
  const hid = symbol.hid !== undefined ? ` (hid ${symbol.hid})` : '';
  const where = name ? ` [connection ${projection.connection}, epoch ${projection.epoch}]` : '';
  const message = `${projection.role} ${projection.actor} ${describeSymbol(symbol.word)}${hid} ${reason}${where}`;
  return { diagnostic: diagnostic('TRACE_ORDER', message, section, place), symbol };
}

/** Runs the ordering grammar and the semantic checks on a projected trace. */
export function checkModel(model: TraceModel, options: CheckTraceOptions = {}): Diagnostic[] {
  // When both ends of one message break the order, the sender's diagnostic comes first: the
  // receiver only suffers what the sender did.
  const ordering: { d: Diagnostic; sends: boolean }[] = [];
  for (const projection of model.projections) {
    const violation = orderingViolation(projection, options, model.connections.length > 1);
    if (violation !== undefined) ordering.push({ d: violation.diagnostic, sends: violation.symbol.word.startsWith('!') });
  }
  ordering.sort((a, b) => (a.d.line ?? 0) - (b.d.line ?? 0) || Number(b.sends) - Number(a.sends));
  const found: Diagnostic[] = [...model.diagnostics, ...ordering.map((o) => o.d)];
  found.push(...checkTokens(model, options), ...checkOffsets(model, options), ...checkHids(model, options));
  return sortDiagnostics(dedupe(found));
}

/**
 * Checks a trace (§13.2): TRACE_MATCH for deliveries without a send or with other fields,
 * TRACE_ORDER for orders the grammar of §7.4 rejects and for hid rules (§2.2, §6.6, §10.1),
 * TRACE_TOKEN (§8.2, §8.3), TRACE_OFFSET (§6.4, §6.5). Returns every diagnostic, sorted by line;
 * an empty list means the trace is valid. Never throws for any list of events.
 *
 * @example
 * ```ts
 * const diagnostics = checkTrace(parseTrace(text).events, { source: 'fig9.trace' });
 * ```
 */
export function checkTrace(events: readonly TraceEvent[], options: CheckTraceOptions = {}): Diagnostic[] {
  if (!Array.isArray(events)) {
    throw new RebindError('INVALID_ARGUMENT', 'checkTrace expects an array of trace events', { section: '13.2' });
  }
  return checkModel(projectTrace(events, options), options);
}

/** Parses (§13.1) and checks (§13.2) a trace text: syntax diagnostics first-class with the rest. */
export function checkTraceText(text: string, options: CheckTraceOptions = {}): Diagnostic[] {
  const { events, diagnostics } = parseTrace(text, options);
  return sortDiagnostics([...diagnostics, ...checkTrace(events, options)]);
}

/** One TRACE_ORDER per line (the grammar of both ends, or the grammar and the hid rules, may see the same event): keep the first. */
function dedupe(list: readonly Diagnostic[]): Diagnostic[] {
  const seen = new Set<string>();
  return list.filter((d) => {
    const key = d.code === 'TRACE_ORDER' ? `${d.line ?? ''}:${d.code}` : `${d.line ?? ''}:${d.code}:${d.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function sortDiagnostics(list: readonly Diagnostic[]): Diagnostic[] {
  return [...list].sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0));
}

/** One projection on one line, for people and tools that print projections: `origin O [connection 0, epoch 0]: ?NEED !SUSPEND ...`. */
export function formatProjection(projection: Projection): string {
  return `${projection.role} ${projection.actor} [connection ${projection.connection}, epoch ${projection.epoch}]: ${projection.symbols.map((s) => s.word).join(' ')}`;
}
