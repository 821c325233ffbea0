/**
 * The layout of a case's sequence chart, in the manner of the seed's Fig. 9 (spec §6.2,
 * Appendix A): the participants as columns (P | O | S...), time going down one row per trace line
 * (§13.1), each message an arrow from its sender's column to its receiver's, each action a note on
 * the actor's lifeline, and on a failed case the step the failure points to.
 *
 * Arrows: a `~>` send starts an arrow at its row; the matching `<~` receive (FIFO per direction,
 * §13.1) ends it at the receive's row, so a message in flight slopes down. A DATA send the
 * receiver reads as several frames ends in one arrow per received frame. `->` (sent and delivered
 * at once) is level. A send whose receipt is not in the trace, or a receipt whose send is not, is
 * drawn level at its own row and marked as such. Local messages (§5, origin ↔ successor) are
 * dashed; wire messages (§4) are solid.
 *
 * This module only computes the layout; `html.ts` draws it as SVG.
 *
 * @module
 */
import { MESSAGE_BY_NAME } from '../../reference/tables.js';
import { parseTrace, type FieldValue, type TraceEvent } from '../../reference/trace/index.js';
import { abbreviateLine } from './summary.js';

/** One row of the chart: one line of the trace. */
export interface ChartRow {
  /** 1-based line of the case's trace (and of its `cases/<id>.trace` artefact). */
  readonly line: number;
  /** The line as reports show it (data abbreviated). */
  readonly text: string;
  /** Milliseconds since the first timed line, when the line has a time. */
  readonly at?: number;
  /** The parsed event; absent when the line is not in the notation (drawn as a plain note). */
  readonly event?: TraceEvent;
  /** `note` rows (actions) sit on `actor`'s lifeline; message rows are the ends of arrows. */
  readonly kind: 'send' | 'receive' | 'deliver' | 'note' | 'unparsed';
  /** Short label: message name and key fields, or action and its arguments. */
  readonly label: string;
}

/** A message drawn from one column to another. */
export interface ChartArrow {
  readonly from: string;
  readonly to: string;
  /** Row index (into `rows`) where it leaves `from` and where it reaches `to`. */
  readonly fromRow: number;
  readonly toRow: number;
  readonly label: string;
  /** §5 local messages (origin ↔ successor) or §4 wire messages. */
  readonly channel: 'wire' | 'local';
  /**
   * `matched`: send and receipt both traced; `deliver`: one `->` line; `unreceived`: the receipt
   * is not in the trace; `unsent`: the send is not in the trace.
   */
  readonly match: 'matched' | 'deliver' | 'unreceived' | 'unsent';
  /** A further receipt of a DATA send already drawn (the receiver read it as several frames). */
  readonly continued?: boolean;
}

/** A chart ready to draw. */
export interface SequenceChart {
  /** Column order: P, then O..., then S... in order of appearance, then any other actor. */
  readonly participants: readonly string[];
  /** Per participant, the first row it appears in (its lifeline starts there). */
  readonly firstRow: Readonly<Record<string, number>>;
  readonly rows: readonly ChartRow[];
  readonly arrows: readonly ChartArrow[];
  /** The row of the failing step (a failed case with a non-empty trace). */
  readonly failedRow?: number;
}

/** What {@link layoutSequence} needs to know about the case. */
export interface LayoutOptions {
  /** The failure message of a failed case: the failing step is the one it names, else the last. */
  readonly failure?: string;
}

/**
 * Lays a case's trace out as a chart. Never throws: a line that is not in the notation becomes an
 * `unparsed` row.
 */
export function layoutSequence(trace: readonly string[], options: LayoutOptions = {}): SequenceChart {
  const abbreviated = trace.map(abbreviateLine);
  const { events } = parseTrace(abbreviated.map((a) => a.text).join('\n'));
  const byLine = new Map(events.map((e) => [e.line, e]));
  const rows: ChartRow[] = [];
  const dataBytes: Array<number | undefined> = [];
  let t0: number | undefined;
  abbreviated.forEach((a, index) => {
    const event = byLine.get(index + 1);
    if (event === undefined && /^\s*(#|$)/.test(a.text)) return;
    if (event?.time !== undefined && t0 === undefined) t0 = event.time;
    rows.push({
      line: index + 1,
      text: a.text,
      ...(event?.time !== undefined && t0 !== undefined ? { at: event.time - t0 } : {}),
      ...(event !== undefined ? { event } : {}),
      kind: event === undefined ? 'unparsed' : event.kind === 'action' ? 'note' : event.kind,
      label: event === undefined ? a.text : labelOf(event, a.dataBytes),
    });
    dataBytes.push(a.dataBytes);
  });
  const participants = orderParticipants(rows);
  const firstRow: Record<string, number> = {};
  rows.forEach((row, index) => {
    for (const actor of actorsOf(row.event)) if (firstRow[actor] === undefined) firstRow[actor] = index;
  });
  const arrows = matchMessages(rows, dataBytes);
  const failedRow = options.failure !== undefined && rows.length > 0 ? failingStep(rows, options.failure) : undefined;
  return { participants, firstRow, rows, arrows, ...(failedRow !== undefined ? { failedRow } : {}) };
}

/** The actors a row involves: actor, peer, and a forked child (`O fork S35035`). */
function actorsOf(event: TraceEvent | undefined): string[] {
  if (event === undefined) return [];
  const actors = [event.actor];
  if (event.peer !== undefined) actors.push(event.peer);
  if (event.kind === 'action' && (event.name === 'fork' || event.name === 'connect' || event.name === 'accept')) {
    for (const arg of event.args) if (/^[A-Z]/.test(arg)) actors.push(arg);
  }
  return actors;
}

/** P | O... | S... | others, each group in order of first appearance (Fig. 9's columns). */
function orderParticipants(rows: readonly ChartRow[]): string[] {
  const seen: string[] = [];
  for (const row of rows) for (const actor of actorsOf(row.event)) if (!seen.includes(actor)) seen.push(actor);
  const rank = (actor: string): number => (actor.startsWith('P') ? 0 : actor.startsWith('O') ? 1 : actor.startsWith('S') ? 2 : 3);
  return seen.map((actor, index) => ({ actor, index })).sort((a, b) => rank(a.actor) - rank(b.actor) || a.index - b.index).map((a) => a.actor);
}

/** A send waiting for its receipt on one direction. */
interface InFlight {
  readonly row: number;
  readonly name: string;
  readonly offset?: number;
  readonly bytes?: number;
  /** Receipts drawn for it so far (a DATA send may be read as several frames). */
  received: number;
}

/** Pairs each `<~` receive with the oldest matching `~>` send of the same direction (§13.1: FIFO). */
function matchMessages(rows: readonly ChartRow[], dataBytes: ReadonlyArray<number | undefined>): ChartArrow[] {
  const arrows: ChartArrow[] = [];
  const inFlight = new Map<string, InFlight[]>();
  const channelOf = (name: string): 'wire' | 'local' => (MESSAGE_BY_NAME.get(name)?.channel === 'local' ? 'local' : 'wire');
  rows.forEach((row, index) => {
    const e = row.event;
    if (e === undefined || e.peer === undefined) return;
    if (e.kind === 'deliver') {
      arrows.push({ from: e.actor, to: e.peer, fromRow: index, toRow: index, label: row.label, channel: channelOf(e.name), match: 'deliver' });
    } else if (e.kind === 'send') {
      const key = `${e.actor}>${e.peer}`;
      const queue = inFlight.get(key) ?? [];
      inFlight.set(key, queue);
      const offset = numberOf(e.fields.offset);
      const bytes = dataBytes[index];
      queue.push({ row: index, name: e.name, ...(offset !== undefined ? { offset } : {}), ...(bytes !== undefined ? { bytes } : {}), received: 0 });
    } else if (e.kind === 'receive') {
      const queue = inFlight.get(`${e.peer}>${e.actor}`) ?? [];
      const offset = numberOf(e.fields.offset);
      const at = queue.findIndex((m) => m.name === e.name && (e.name !== 'DATA' || covers(m, offset)));
      if (at < 0) {
        arrows.push({ from: e.peer, to: e.actor, fromRow: index, toRow: index, label: row.label, channel: channelOf(e.name), match: 'unsent' });
        return;
      }
      const sent = queue[at] as InFlight;
      const continued = sent.received > 0;
      arrows.push({ from: e.peer, to: e.actor, fromRow: sent.row, toRow: index, label: continued ? row.label : rows[sent.row]!.label, channel: channelOf(e.name), match: 'matched', ...(continued ? { continued } : {}) });
      sent.received++;
      // FIFO: whatever was sent before it on this direction has been received (untraced) or lost.
      for (const passed of queue.splice(0, at)) if (passed.received === 0) arrows.push(unreceived(rows, passed, e.peer, e.actor));
      const receivedBytes = dataBytes[index];
      const through = offset !== undefined && receivedBytes !== undefined ? offset + receivedBytes : undefined;
      const sentEnd = sent.offset !== undefined && sent.bytes !== undefined ? sent.offset + sent.bytes : undefined;
      // A DATA send stays in flight until a receipt reaches its end (the receiver's frames).
      if (e.name !== 'DATA' || through === undefined || sentEnd === undefined || through >= sentEnd) queue.shift();
    }
  });
  for (const [key, queue] of inFlight) {
    const [from, to] = key.split('>') as [string, string];
    for (const m of queue) if (m.received === 0) arrows.push(unreceived(rows, m, from, to));
  }
  return arrows;
}

function unreceived(rows: readonly ChartRow[], m: InFlight, from: string, to: string): ChartArrow {
  return { from, to, fromRow: m.row, toRow: m.row, label: rows[m.row]!.label, channel: MESSAGE_BY_NAME.get(m.name)?.channel === 'local' ? 'local' : 'wire', match: 'unreceived' };
}

/** Whether a DATA receipt at `offset` belongs to the in-flight send `m`. */
function covers(m: InFlight, offset: number | undefined): boolean {
  if (offset === undefined || m.offset === undefined) return true;
  if (m.bytes === undefined) return offset === m.offset;
  return offset >= m.offset && offset < m.offset + Math.max(1, m.bytes);
}

function numberOf(value: FieldValue | undefined): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value === 'string' && /^[0-9]+$/.test(value)) return Number(value);
  return undefined;
}

/** Fields too long for a label are shortened; `data` becomes its size. */
function fieldText(key: string, value: FieldValue, dataBytes: number | undefined): string {
  if (key === 'data') return `${dataBytes ?? '?'} B`;
  if (typeof value === 'string' && /^0x[0-9a-f]{17,}$/.test(value)) return `${key}=${value.slice(0, 8)}…`;
  if (typeof value === 'string' && !/^[A-Za-z0-9_.:/-]+$/.test(value)) return `${key}=${JSON.stringify(value)}`;
  return `${key}=${String(value)}`;
}

/** The label of an event: message or action name, its arguments and fields, shortened. */
function labelOf(e: TraceEvent, dataBytes: number | undefined): string {
  const parts = [e.name, ...e.args];
  for (const [key, value] of Object.entries(e.fields)) {
    // An action's `len=` already says what its data's size would.
    if (value === undefined || (key === 'data' && e.fields.len !== undefined)) continue;
    parts.push(fieldText(key, value, dataBytes));
  }
  return parts.join(' ');
}

/**
 * The row a failure points to: the last row of a message the failure names (`SUSPEND`, `2
 * SUSPENDs`); else the last row (where the case stopped).
 */
function failingStep(rows: readonly ChartRow[], failure: string): number {
  const named = new Set<string>();
  for (const name of MESSAGE_BY_NAME.keys()) if (new RegExp(`\\b${name}s?\\b`).test(failure)) named.add(name);
  for (let i = rows.length - 1; i >= 0; i--) {
    const e = rows[i]!.event;
    if (e !== undefined && e.kind !== 'action' && named.has(e.name)) return i;
  }
  return rows.length - 1;
}
