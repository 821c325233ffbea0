/**
 * The events of the trace notation (§13.1): what the trace grammar produces, what implementations
 * emit through their trace hooks, and what the ordering checker (§7.4, §13.2) reads.
 *
 * @module
 */

/**
 * How a line relates to a message (§13.1):
 * - `deliver` (`A -> B NAME`): sent by A and delivered to B at this point;
 * - `send` (`A ~> B NAME`): sent by A, still in flight;
 * - `receive` (`B <~ A NAME`): delivery to B of the oldest message in flight from A (FIFO per direction);
 * - `action` (`A close`, `A fork S`, `A send len=5`...): an application or environment action of A.
 */
export type EventKind = 'deliver' | 'send' | 'receive' | 'action';

/**
 * A field value. Integer literals become numbers when they are safe integers and decimal strings
 * otherwise (u64 offsets may exceed 2^53); `0x..` literals stay strings (lower case); quoted
 * strings and bare words are strings; `true`/`false` are booleans.
 */
export type FieldValue = number | string | boolean;

/** The application and environment actions of §13.1. */
export const ACTIONS = [
  'listen', 'connect', 'accept', 'fork', 'join', 'send', 'recv', 'shutdown', 'close', 'exit', 'kill',
  'trigger', 'timeout', 'cut', 'resume', 'rebound', 'fail',
] as const;

/** One of the actions of §13.1. */
export type ActionName = (typeof ACTIONS)[number];

/** One event of a trace. Lines and columns are 1-based and refer to the source text. */
export interface TraceEvent {
  readonly line: number;
  readonly column: number;
  /** Milliseconds, when the line has an `@TIME`. */
  readonly time?: number;
  /** The acting process: the sender of a message, the receiver of a `receive`, the actor of an action. */
  readonly actor: string;
  readonly kind: EventKind;
  /** The other process of a message: the receiver for `deliver`/`send`, the sender for `receive`. */
  readonly peer?: string;
  /** A message name of §4/§5 (upper case) or an action name (lower case). */
  readonly name: string;
  /** Positional words of an action: `fork S` → ["S"], `trigger T1` → ["T1"]. Empty for messages. */
  readonly args: readonly string[];
  readonly fields: Readonly<Record<string, FieldValue>>;
  /** Column of each field's key, for diagnostics. */
  readonly fieldColumns?: Readonly<Record<string, number>>;
  /** The text after `#` on the line, trimmed, if any. */
  readonly comment?: string;
}
