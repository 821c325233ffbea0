/**
 * The ordering grammar (spec §7.4) applied to one role's projection: serializes the symbols,
 * parses them with `grammar/ordering.peggy`, and turns a parse failure into the symbol (and so the
 * trace line) where the order breaks, with readable words for what was found and expected.
 *
 * A projection may stop in any state (traces end anywhere): input that fails only at its very end
 * is a valid prefix and is accepted (`complete: false`).
 *
 * @module
 */
import { parse, SyntaxError as GrammarSyntaxError } from '../../grammar/generated/ordering.js';
import type { Role } from '../tables.js';
import type { RoleSymbol } from './project.js';

/** The grammar's start rule for each role. */
export const START_RULE: Readonly<Record<Role, string>> = { origin: 'Origin', successor: 'Successor', peer: 'Peer' };

/**
 * Actions the grammar orders, per role; every other `@action` (an application `send`, `fork`,
 * `listen`, the annotations `resume`, `rebound`, `fail`...) is removed before parsing. Messages are
 * never removed.
 */
const ORDERED_ACTIONS: Readonly<Record<Role, RegExp>> = {
  origin: /^@(?:trigger\.T[1-4]|close|exit|recv|timeout\.\w+|lost\.\w+)$/,
  successor: /^@(?:trigger\.T[1-4]|close|recv|timeout\.\w+|lost\.\w+)$/,
  peer: /^@(?:connect\.C2|fail\.UNREACHABLE|timeout\.\w+|lost\.\w+)$/,
};

/** Whether the grammar of `role` orders `word` (messages always; actions per {@link ORDERED_ACTIONS}). */
export function isOrdered(role: Role, word: string): boolean {
  return !word.startsWith('@') || ORDERED_ACTIONS[role].test(word);
}

/** Where an order breaks. */
export interface OrderingViolation {
  /** Index into the symbols that were checked (after neutral actions were removed). */
  readonly index: number;
  /** The symbol found there. */
  readonly found: string;
  /** The symbols the grammar allowed there (`<end>` for the end of the projection). */
  readonly expected: readonly string[];
}

/** The verdict of the ordering grammar on one symbol string. */
export interface OrderingResult {
  readonly ok: boolean;
  /** The grammar accepted the whole string as a finished run (not only as a prefix). */
  readonly complete: boolean;
  readonly violation?: OrderingViolation;
}

/** End of input, as {@link OrderingViolation.expected} names it. */
export const END_SYMBOL = '<end>';

/**
 * Checks a list of symbol words against the grammar of `role`. Words are the symbols of
 * {@link RoleSymbol.word}, already filtered with {@link isOrdered}.
 */
export function checkWords(role: Role, words: readonly string[]): OrderingResult {
  const starts: number[] = [];
  let text = '';
  for (const word of words) {
    starts.push(text.length);
    text += `${word} `;
  }
  try {
    parse(text, { startRule: START_RULE[role] });
    return { ok: true, complete: true };
  } catch (error) {
    if (!(error instanceof GrammarSyntaxError)) throw error;
    const offset = error.location.start.offset;
    if (offset >= text.length) return { ok: true, complete: false };
    // The failure is at the start of a symbol (each literal is a whole word with its space).
    let index = starts.findIndex((start, i) => offset >= start && offset < (starts[i + 1] ?? text.length));
    if (index < 0) index = words.length - 1;
    const expected = new Set<string>();
    for (const item of error.expected ?? []) {
      if (item.type === 'literal' && item.text !== undefined) expected.add(item.text.trim());
      else if (item.type === 'end') expected.add(END_SYMBOL);
    }
    return { ok: false, complete: false, violation: { index, found: words[index] as string, expected: [...expected].sort() } };
  }
}

/** Checks the symbols of one projection; the violation's index refers to `symbols` itself. */
export function checkSymbols(role: Role, symbols: readonly RoleSymbol[]): OrderingResult & { readonly symbol?: RoleSymbol } {
  const kept = symbols.filter((s) => isOrdered(role, s.word));
  const result = checkWords(role, kept.map((s) => s.word));
  if (result.violation === undefined) return result;
  const symbol = kept[result.violation.index] as RoleSymbol;
  return { ...result, violation: { ...result.violation, index: symbols.indexOf(symbol) }, symbol };
}

// ---- words for people ---------------------------------------------------------------------------

/** Verb phrases that read after "<role> <actor>", e.g. "successor S delivers data to its application". */
const ACTION_PHRASES: Readonly<Record<string, string>> = {
  '@close': 'closes its handle',
  '@exit': 'exits',
  '@recv': 'delivers data to its application',
  '@connect.C2': 'connects C2 to the successor',
  '@fail.UNREACHABLE': 'cannot reach the successor',
  [END_SYMBOL]: 'the end of the trace',
};

/** A symbol in words: `!DATA@C1` → "sends DATA on C1", `@timeout.SUSPEND` → "times out (SUSPEND timer)". */
export function describeSymbol(word: string): string {
  const phrase = ACTION_PHRASES[word];
  if (phrase !== undefined) return phrase;
  const message = /^([!?])([A-Z]+)(?:\.(fast))?(?:@(\w+))?$/.exec(word);
  if (message !== null) {
    const [, direction, name, fast, channel] = message;
    return `${direction === '!' ? 'sends' : 'receives'} ${name}${fast !== undefined ? '(fast)' : ''}${channel !== undefined ? ` on ${channel}` : ''}`;
  }
  const action = /^@(\w+)(?:\.(\w+))?$/.exec(word);
  if (action !== null) {
    const [, name, arg] = action;
    if (name === 'trigger') return `sees trigger ${arg ?? ''}`.trim();
    if (name === 'timeout') return `times out (${arg ?? '?'} timer)`;
    if (name === 'lost') return `loses ${arg ?? 'a channel'}`;
    return arg !== undefined ? `${name} ${arg}` : (name as string);
  }
  return word;
}

/** A readable explanation of a violation: what rule was broken, and the section that states it. */
export interface Explanation {
  /** Completes "<role> <actor> <found>": e.g. "before it has received SUSPENDED". */
  readonly reason: string;
  readonly section: string;
}

const ROLE_SECTION: Readonly<Record<Role, string>> = { origin: '7.1', successor: '7.2', peer: '7.3' };

/** Words before `index` since the last word matching `boundary` (the current handoff attempt). */
function since(words: readonly string[], index: number, boundary: RegExp): string[] {
  let start = 0;
  for (let i = index - 1; i >= 0; i--) {
    if (boundary.test(words[i] as string)) {
      start = i + 1;
      break;
    }
  }
  return words.slice(start, index);
}

const has = (words: readonly string[], pattern: RegExp) => words.some((w) => pattern.test(w));

/** Where an attempt starts over: an ABORT exchange resumes the stream on C1 (§9.2). */
const RESUMED = /^(?:!REVOKE|!ABORT)$/;

/**
 * Explains why `found` may not come after `before` for `role`, citing the rule of the spec it
 * breaks. Falls back to the role's state machine (§7.1–7.3) and the list of expected symbols.
 */
export function explainViolation(role: Role, before: readonly string[], found: string, expected: readonly string[]): Explanation {
  const all = [...before];
  const n = all.length;
  const attempt = (boundary: RegExp) => since(all, n, boundary);
  if (role === 'origin') {
    if (/^!SUSPEND|^!ORDER\.fast$/.test(found) && has(all, /^\?REBOUND$/)) {
      return { reason: 'after it has received REBOUND: a rebound connection is never handed off again', section: '6.6' };
    }
    if (/^!SUSPEND|^!ORDER\.fast$/.test(found) && !has(attempt(RESUMED), /^(?:@trigger\.T[12]|@close|@exit|\?NEED)$/)) {
      return { reason: 'with no trigger (T1–T4) before it: no trigger, no rebind', section: '2.4' };
    }
    const current = attempt(/^!SUSPEND/);
    if (/^!(?:REBIND|ORDER|COPY|COPIED)$/.test(found) && !has(current, /^\?SUSPENDED$/)) {
      return { reason: 'before it has received SUSPENDED', section: found.startsWith('!COP') ? '6.5' : '6.2' };
    }
    if (/^!(?:DATA|FIN)@C1$/.test(found) && has(all.slice(lastIndex(all, /^!SUSPEND/)), /^!SUSPEND\.fast$|^!REBIND$/)) {
      return { reason: 'after SUSPEND(fast) or REBIND: the origin sends nothing more on C1', section: '6.7' };
    }
    if (found === '!COMMIT' && !has(current, /^\?REBOUND$/)) {
      return { reason: 'before it has received REBOUND', section: '6.6' };
    }
    if (found === '@recv') {
      return { reason: 'after SUSPEND(fast) or the copy: from then until the handoff ends its application reads nothing (R is fixed)', section: '6.5' };
    }
  } else if (role === 'peer') {
    if (found === '!REBOUND' && has(all, /^!REBOUND$/)) {
      return { reason: 'a second time: a peer sends one REBOUND per handoff', section: '6.6' };
    }
    if (found === '!REBOUND' && all[n - 1] !== '?ATTACHED') return { reason: 'before it has received ATTACHED', section: '6.6' };
    const current = attempt(/^!ABORT$/);
    if (/^!(?:DATA|FIN)@C1$/.test(found) && has(current, /^!SUSPENDED$/)) {
      return { reason: 'after it has sent SUSPENDED: the peer sends nothing more on C1', section: '6.7' };
    }
    if (/^!(?:DATA|FIN)@C1$/.test(found) && current[current.length - 1]?.startsWith('?SUSPEND') === true) {
      return { reason: 'after it has received SUSPEND: it answers SUSPENDED at once and sends nothing more on C1', section: '6.2' };
    }
    if (/^!(?:DATA|FIN)@C2$/.test(found)) return { reason: 'before it has received ATTACHED', section: '6.7' };
    if (found === '!ATTACH' && !has(current, /^\?(?:REBIND|SUSPEND\.fast)$/)) {
      return { reason: 'before it has received REBIND or SUSPEND(fast)', section: '6.2' };
    }
    if (found === '!SUSPENDED' && !has(current, /^\?SUSPEND/)) return { reason: 'before it has received SUSPEND', section: '6.2' };
    if (/^\?(?:DATA|FIN)@C1$/.test(found) && has(current, /^\?(?:REBIND|SUSPEND\.fast)$/)) {
      return { reason: 'after REBIND or SUSPEND(fast): the origin had stopped sending on C1', section: '6.7' };
    }
  } else {
    if (found === '!ATTACHED' && !has(all, /^\?ORDER/)) return { reason: 'before it has received ORDER: no token is armed', section: '8.2' };
    if (found === '!ATTACHED' && !has(all, /^\?COPIED$/) && !has(all, /^\?ORDER\.fast$/)) {
      return { reason: 'before the copy is complete (COPIED)', section: '6.2' };
    }
    if (/^[!?](?:DATA|FIN)@C2$/.test(found) && !has(all, /^!ATTACHED$/)) return { reason: 'before it has sent ATTACHED', section: '6.7' };
    if (found === '@recv' && !has(all, /^\?COMMIT$|^@lost\.L$/)) {
      return { reason: 'before COMMIT: the successor delivers nothing to its application until the handoff commits', section: '6.6' };
    }
    if (found === '?COMMIT' && !has(all, /^!ATTACHED$/)) return { reason: 'before it has sent ATTACHED', section: '6.6' };
    if (found === '!NEED' && !has(all, /^@trigger\.T[34]$/)) return { reason: 'with no trigger (T3/T4) before it', section: '2.4' };
  }
  const list = expected.map(describeSymbol);
  return { reason: `where its state machine allows only: ${list.join('; ')}`, section: ROLE_SECTION[role] };
}

function lastIndex(words: readonly string[], pattern: RegExp): number {
  for (let i = words.length - 1; i >= 0; i--) if (pattern.test(words[i] as string)) return i;
  return 0;
}
