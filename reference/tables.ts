/**
 * The spec's tables as typed data: messages (§4, §5), state machines (§7), timers (§9.1).
 * The same JSON files are quoted by the spec, driven by the model checker and tested against the
 * ordering grammar, so these three cannot drift apart.
 *
 * @module
 */
import messageTable from '../spec/tables/messages.json' with { type: 'json' };
import stateTable from '../spec/tables/states.json' with { type: 'json' };

/** The kind of a message field (§3.2). */
export type FieldKind = 'u8' | 'u16' | 'u32' | 'u64' | 'cid' | 'token' | 'addr' | 'reason' | 'data';

/** One field of a message layout. */
export interface FieldSpec {
  readonly name: string;
  readonly kind: FieldKind;
  /** Present only when this flag is set. */
  readonly when?: string;
  readonly min?: number;
  readonly max?: number;
  /** The value must not be all zero bytes. */
  readonly nonzero?: boolean;
}

/** One frame type of §4 (wire) or §5 (local). */
export interface MessageSpec {
  readonly type: number;
  readonly name: string;
  readonly channel: 'wire' | 'local';
  readonly from: 'origin' | 'successor' | 'peer' | 'either';
  readonly section: string;
  /** Flag name → bit number in the header's flags field. */
  readonly flags: Readonly<Record<string, number>>;
  readonly fields: readonly FieldSpec[];
}

/** Header constants (§3.1, §3.3). */
export const HEADER = messageTable.header as Readonly<{ size: number; version: number; maxPayloadDefault: number; maxPayloadCeiling: number }>;

/** Every message, in type order. */
export const MESSAGES: readonly MessageSpec[] = Object.freeze(messageTable.messages as unknown as MessageSpec[]);

/** Messages by name. */
export const MESSAGE_BY_NAME: ReadonlyMap<string, MessageSpec> = new Map(MESSAGES.map((m) => [m.name, m]));

/** Messages by type byte. */
export const MESSAGE_BY_TYPE: ReadonlyMap<number, MessageSpec> = new Map(MESSAGES.map((m) => [m.type, m]));

/** A role of §2.1. */
export type Role = 'origin' | 'successor' | 'peer';

/** One row of a state table (§7). */
export interface Transition {
  readonly id: string;
  readonly from: string | readonly string[];
  readonly on: string | readonly string[];
  readonly if?: string;
  readonly do: readonly string[];
  /** Next state; `=` keeps the current one. */
  readonly to: string;
  readonly section: string;
}

/** A role's state machine (§7.1–7.3). */
export interface RoleTable {
  readonly section: string;
  readonly initial: string;
  readonly terminal: readonly string[];
  readonly states: Readonly<Record<string, string>>;
  /**
   * Per state, the events it does not consume (SDL "save", §7): a deferred message stays queued on
   * its channel, ahead of what follows it there, until the role is in a state that does not defer
   * it; then that state's rows handle it. A state never both defers an event and has a row for it.
   * States without an entry defer nothing.
   */
  readonly defer?: Readonly<Record<string, readonly string[]>>;
  readonly transitions: readonly Transition[];
}

/** A timer of §9.1. */
export interface TimerSpec {
  readonly role: Role;
  readonly defaultMs: number;
  readonly waits: string;
  readonly section: string;
}

/** The state tables of the three roles. */
export const STATE_TABLES: Readonly<Record<Role, RoleTable>> = stateTable.roles as unknown as Record<Role, RoleTable>;

/** Guard names and their meaning. */
export const GUARDS: Readonly<Record<string, string>> = stateTable.guards;

/** The timers of §9.1 with their defaults. */
export const TIMERS: Readonly<Record<string, TimerSpec>> = stateTable.timers as unknown as Record<string, TimerSpec>;

/** The rows of `role`'s table that apply in `state` to `event`, in table order. */
export function transitionsFor(role: Role, state: string, event: string): Transition[] {
  return STATE_TABLES[role].transitions.filter((t) => {
    const froms = typeof t.from === 'string' ? [t.from] : t.from;
    const ons = typeof t.on === 'string' ? [t.on] : t.on;
    return froms.includes(state) && ons.includes(event);
  });
}

/** Whether `table` defers `event` (`recv NAME`) in `state`: the message is left queued (§7). */
export function defers(table: RoleTable, state: string, event: string): boolean {
  return table.defer?.[state]?.includes(event) === true;
}

/** Whether `role`'s table of the spec defers `event` in `state` (see {@link RoleTable.defer}). */
export function isDeferred(role: Role, state: string, event: string): boolean {
  return defers(STATE_TABLES[role], state, event);
}
