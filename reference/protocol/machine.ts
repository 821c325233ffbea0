/**
 * The table interpreter (spec §7): a role's state machine driven at run time by its rows in
 * `spec/tables/states.json`. For (state, event) it takes the first row whose guard holds (§7:
 * "the first row that matches applies") and executes its actions in order through a verb → method
 * map the role supplies. New rows and guards flow in without code changes; a row that uses a verb
 * or guard the role does not implement is rejected when the machine is built, not when it fires.
 *
 * @module
 */
import { RebindError } from '../errors.js';
import { STATE_TABLES, TIMERS, type Role, type RoleTable, type Transition } from '../tables.js';
import type { Effect } from './types.js';

/** One action of a row, parsed: `send ABORT(TIMEOUT)` → verb `send`, arg `ABORT`, code `TIMEOUT`. */
export interface Action {
  readonly verb: string;
  readonly arg?: string;
  readonly code?: string;
  readonly text: string;
}

/**
 * A verb's implementation. Returns `false` to stop the row (a `check` that failed and was
 * handled, §6.4): the remaining actions are skipped and the state is whatever the failure
 * handling set (by default the row's source state).
 */
export type Verb = (action: Action) => boolean | void;

/** Parses an action of a row (§7 "Actions"). */
export function parseAction(text: string): Action {
  const m = /^(\S+)(?:\s+([A-Za-z0-9_-]+)(?:\(([A-Z_]+)\))?)?$/.exec(text.trim());
  if (m === null) throw new RebindError('INVALID_ARGUMENT', `unreadable action "${text}" in states.json`, { section: '7' });
  return { verb: m[1]!, ...(m[2] !== undefined ? { arg: m[2] } : {}), ...(m[3] !== undefined ? { code: m[3] } : {}), text };
}

/** The guard names a guard expression uses: `fast & !offerFast` → [[fast, true], [offerFast, false]]. */
export function parseGuard(expr: string): Array<[string, boolean]> {
  return expr.split('&').map((part) => {
    const p = part.trim();
    return p.startsWith('!') ? [p.slice(1), false] : [p, true];
  });
}

/** Every verb the rows of `table` use. */
export function verbsOf(table: RoleTable): Set<string> {
  const verbs = new Set<string>();
  for (const t of table.transitions) for (const a of t.do) verbs.add(parseAction(a).verb);
  return verbs;
}

/** Parsed actions of each table's rows, shared by every machine that runs the table (one per connection and role). */
const PARSED_ROWS = new WeakMap<RoleTable, Map<Transition, readonly Action[]>>();

/** Options of {@link TableMachine}. */
export interface MachineOptions {
  readonly role: Role;
  readonly verbs: Readonly<Record<string, Verb>>;
  readonly guards: Readonly<Record<string, () => boolean>>;
  /** Called for each effect (the engine's output queue). */
  readonly emit: (effect: Effect) => void;
  /** Timer durations (ms) overriding the TIMERS defaults (§9.1). */
  readonly timers?: Readonly<Record<string, number>>;
  /** The table to run; default `STATE_TABLES[role]` (tests inject broken tables). */
  readonly table?: RoleTable;
  /** Checks each `send NAME` of the table against what the role can build. */
  readonly canSend?: (name: string) => boolean;
}

/** The result of {@link TableMachine.step}: the row that applied, or undefined when none did. */
export type StepResult = Transition | undefined;

/** A role's state machine, interpreted from its table. */
export class TableMachine {
  readonly role: Role;
  readonly table: RoleTable;
  state: string;
  /** Timers running now (§9.1), so a terminal state can stop them all. */
  readonly running = new Set<string>();
  private readonly verbs: Readonly<Record<string, Verb>>;
  private readonly guards: Readonly<Record<string, () => boolean>>;
  private readonly emit: (effect: Effect) => void;
  private readonly timerMs: Readonly<Record<string, number>>;
  private readonly parsed: Map<Transition, readonly Action[]>;
  /** Set by a verb to override the row's next state (e.g. a failure inside a row). */
  private redirect: string | undefined;
  /** A row is being executed (a verb that fails the connection then diverts instead of moving). */
  busy = false;

  constructor(options: MachineOptions) {
    this.role = options.role;
    this.table = options.table ?? STATE_TABLES[options.role];
    this.state = this.table.initial;
    this.verbs = options.verbs;
    this.guards = options.guards;
    this.emit = options.emit;
    this.timerMs = options.timers ?? {};
    const shared = PARSED_ROWS.get(this.table);
    this.parsed = shared ?? new Map();
    // Validate the whole table up front: an unknown verb or guard is a build error (§7).
    for (const t of this.table.transitions) {
      const actions = shared?.get(t) ?? t.do.map(parseAction);
      for (const a of actions) {
        if (this.verbs[a.verb] === undefined) {
          throw new RebindError('UNSUPPORTED', `${this.role} row ${t.id}: no implementation for action verb "${a.verb}" ("${a.text}")`, { section: t.section });
        }
        if (a.verb === 'send' && options.canSend !== undefined && (a.arg === undefined || !options.canSend(a.arg))) {
          throw new RebindError('UNSUPPORTED', `${this.role} row ${t.id}: cannot send "${a.arg ?? ''}"`, { section: t.section });
        }
      }
      if (t.if !== undefined) {
        for (const [name] of parseGuard(t.if)) {
          if (this.guards[name] === undefined) throw new RebindError('UNSUPPORTED', `${this.role} row ${t.id}: no implementation for guard "${name}"`, { section: t.section });
        }
      }
      if (shared === undefined) this.parsed.set(t, actions);
    }
    if (shared === undefined) PARSED_ROWS.set(this.table, this.parsed);
  }

  /** Whether the machine is in a terminal state of its table. */
  get terminal(): boolean {
    return this.table.terminal.includes(this.state);
  }

  /**
   * Whether the current state defers `event` (the table's optional `defer`, SDL "save", §7): the
   * message stays queued until a state that does not defer it. `undefined` when the table has no
   * `defer` at all (an older table), so a role can fall back to its own rule.
   */
  defers(event: string): boolean | undefined {
    const defer = (this.table as { readonly defer?: Readonly<Record<string, readonly string[]>> }).defer;
    if (defer === undefined) return undefined;
    return defer[this.state]?.includes(event) === true;
  }

  /** The first row of this state for `event` whose guard holds (§7), without running it. */
  find(event: string): StepResult {
    for (const t of this.table.transitions) {
      const froms = typeof t.from === 'string' ? [t.from] : t.from;
      if (!froms.includes(this.state)) continue;
      const ons = typeof t.on === 'string' ? [t.on] : t.on;
      if (!ons.includes(event)) continue;
      if (t.if === undefined || parseGuard(t.if).every(([name, want]) => this.guards[name]!() === want)) return t;
    }
    return undefined;
  }

  /** Runs `event`: finds the row, executes its actions, moves to its next state. */
  step(event: string): StepResult {
    const row = this.find(event);
    if (row === undefined) return undefined;
    this.run(row);
    return row;
  }

  /** Executes a row found by {@link find}. */
  run(row: Transition): void {
    const from = this.state;
    this.redirect = undefined;
    let completed = true;
    this.busy = true;
    try {
      for (const action of this.parsed.get(row) ?? row.do.map(parseAction)) {
        if (this.verbs[action.verb]!(action) === false) {
          completed = false;
          break;
        }
        if (this.redirect !== undefined) break;
      }
    } finally {
      this.busy = false;
    }
    const to = this.redirect ?? (completed ? (row.to === '=' ? from : row.to) : from);
    this.redirect = undefined;
    this.moveTo(to, row.id, from);
  }

  /** From inside a verb: end the row now and go to `state` (a failure that ends the row). */
  divert(state: string): void {
    this.redirect = state;
  }

  /** Ends in `state` because of a failure: inside a row, diverts it; outside, moves at once (§7.5 rows have no table row). */
  finish(state: string, row: string): void {
    if (this.busy) this.divert(state);
    else this.moveTo(state, row);
  }

  /** Enters `to` (emitting the transition); a terminal state stops every timer (§7). */
  moveTo(to: string, row: string, from: string = this.state): void {
    this.state = to;
    this.emit({ kind: 'transition', role: this.role, from, to, row });
    if (this.terminal) for (const name of [...this.running]) this.stopTimer(name);
  }

  /** `start T` (§9.1). */
  startTimer(name: string): void {
    const ms = this.timerMs[name] ?? TIMERS[name]?.defaultMs;
    if (ms === undefined) throw new RebindError('UNSUPPORTED', `${this.role}: unknown timer "${name}"`, { section: '9.1' });
    this.running.add(name);
    this.emit({ kind: 'start-timer', timer: name, ms });
  }

  /** `stop T`: only timers that run are stopped (rows stop timers of other states too, e.g. S19). */
  stopTimer(name: string): void {
    if (!this.running.delete(name)) return;
    this.emit({ kind: 'stop-timer', timer: name });
  }
}
