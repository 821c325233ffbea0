/**
 * The canonical text of trace events (spec §13.1): what the model checker, the `record` tool and
 * the implementations' trace hooks write. `parseTrace(formatTrace(events))` gives the same events
 * back (apart from line, column and field columns).
 *
 * Canonical form: single spaces; `@TIME` with at most 3 decimals; fields in the event's order;
 * a text field (`data`, `addr`, `reason`) quoted unless it is `0x` hex, any other string bare only when it reads back as the same string, otherwise quoted with JSON escapes.
 *
 * @module
 */
import { RebindError } from '../errors.js';
import { MESSAGE_BY_NAME } from '../tables.js';
import { ACTIONS, type FieldValue, type TraceEvent } from './events.js';

/** The lexical forms of the grammar (grammar/trace.peggy) that the formatter must respect. */
const ACTOR = /^[A-Z][A-Za-z0-9]*$/;
const FIELD_KEY = /^[a-z][A-Za-z0-9]*$/;
const BARE_WORD = /^[A-Za-z_][A-Za-z0-9_.:/-]*$/;
/** What the parser turns into a string although it is not quoted: big decimals and hex. */
const DECIMAL = /^[0-9]+$/;
const HEX = /^0x(?:[0-9a-f]{2})+$/;

const ACTION_SET: ReadonlySet<string> = new Set(ACTIONS);

/** The arrow of each message kind (§13.1). */
const ARROWS = { deliver: '->', send: '~>', receive: '<~' } as const;

/**
 * One event as one line of the notation, without a line break. Throws `INVALID_ARGUMENT` for an
 * event the notation cannot express (a lower-case actor, an unknown name, a negative number...).
 */
export function formatEvent(e: TraceEvent): string {
  const parts: string[] = [];
  if (e.time !== undefined) parts.push(`@${formatTime(e.time)}`);
  parts.push(checked(e.actor, ACTOR, 'actor'));
  if (e.kind === 'action') {
    if (!ACTION_SET.has(e.name)) invalid(`unknown action "${e.name}"`);
    if (e.peer !== undefined) invalid(`an action has no peer (got "${e.peer}")`);
    parts.push(e.name);
    for (const arg of e.args) parts.push(checked(arg, BARE_WORD, 'action argument'));
  } else {
    const arrow = ARROWS[e.kind];
    if (arrow === undefined) invalid(`unknown event kind "${String(e.kind)}"`);
    if (!MESSAGE_BY_NAME.has(e.name)) invalid(`unknown message "${e.name}"`);
    if (e.args.length > 0) invalid(`a message has no arguments (got ${e.args.length})`);
    parts.push(arrow, checked(e.peer ?? '', ACTOR, 'peer actor'), e.name);
  }
  for (const [key, value] of Object.entries(e.fields)) {
    if (value === undefined) continue;
    parts.push(`${checked(key, FIELD_KEY, 'field name')}=${formatValue(key, value)}`);
  }
  if (e.comment !== undefined && e.comment.trim() !== '') parts.push(`# ${e.comment.replace(/[\r\n]+/g, ' ').trim()}`);
  return parts.join(' ');
}

/** Events as a trace: one line each, every line ending with LF. */
export function formatTrace(events: Iterable<TraceEvent>): string {
  let text = '';
  for (const e of events) text += `${formatEvent(e)}\n`;
  return text;
}

/**
 * The JSON form of an event (`urn:rebind:schema:trace-event`): a fresh plain object with only the
 * properties that are present, safe for `JSON.stringify`.
 */
export function eventToJson(e: TraceEvent): TraceEvent {
  const fields: Record<string, FieldValue> = {};
  for (const [key, value] of Object.entries(e.fields)) if (value !== undefined) fields[key] = value;
  return {
    line: e.line,
    column: e.column,
    ...(e.time !== undefined ? { time: e.time } : {}),
    actor: e.actor,
    kind: e.kind,
    ...(e.peer !== undefined ? { peer: e.peer } : {}),
    name: e.name,
    args: [...e.args],
    fields,
    ...(e.fieldColumns !== undefined ? { fieldColumns: { ...e.fieldColumns } } : {}),
    ...(e.comment !== undefined ? { comment: e.comment } : {}),
  };
}

/** `@` milliseconds: at most 3 decimals, no trailing zeros, never an exponent. */
function formatTime(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) invalid(`time must be a finite number of milliseconds >= 0 (got ${ms})`);
  const fixed = ms.toFixed(3);
  // toFixed switches to exponent notation from 1e21 on, where every double is an integer.
  if (fixed.includes('e')) return BigInt(ms).toString();
  return fixed.replace(/\.?0+$/, '');
}

/** A field value as the grammar reads it back (see `Value` in grammar/trace.peggy). */
function formatValue(key: string, value: FieldValue): string {
  switch (typeof value) {
    case 'boolean':
      return String(value);
    case 'number':
      if (!Number.isSafeInteger(value) || value < 0) {
        invalid(`field "${key}": numbers must be safe integers >= 0 (write larger ones as decimal strings), got ${value}`);
      }
      return String(value);
    case 'string':
      // Text fields are always quoted, so that text never reads as hex (`data="0xab"` is 4 bytes of
      // text, `data=0xab` one byte) and addresses read as one value.
      if (TEXT_FIELDS.has(key) && !HEX.test(value)) return JSON.stringify(value);
      return readsBackBare(value) ? value : JSON.stringify(value);
    default:
      return invalid(`field "${key}": unsupported value of type ${typeof value}`);
  }
}

/** Fields whose string values are text (§13.1): written quoted in canonical form. */
const TEXT_FIELDS: ReadonlySet<string> = new Set(['data', 'addr', 'reason']);

/** Whether the parser reads `value`, written without quotes, as this very string. */
function readsBackBare(value: string): boolean {
  if (HEX.test(value)) return true;
  // Decimals read back as strings only when they are not safe integers and have no leading zero.
  if (DECIMAL.test(value)) return !Number.isSafeInteger(Number(value)) && !value.startsWith('0');
  return BARE_WORD.test(value) && value !== 'true' && value !== 'false';
}

function checked(value: string, form: RegExp, what: string): string {
  if (typeof value !== 'string' || !form.test(value)) invalid(`invalid ${what} ${JSON.stringify(value)}: must match ${form.source}`);
  return value;
}

function invalid(message: string): never {
  throw new RebindError('INVALID_ARGUMENT', `cannot format trace event: ${message}`, { section: '13.1' });
}
