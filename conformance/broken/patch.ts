/**
 * What a broken variant is, and the one tool the variants use: wrapping a method of a reference
 * class on its prototype (`conformance/broken/index.ts` explains why).
 *
 * @module
 */

/** One deliberately broken variant of the reference (§15). */
export interface BrokenVariant {
  /** Its name: the value of `REBIND_BROKEN`. */
  readonly name: string;
  /** What it does wrong, in one sentence. */
  readonly description: string;
  /** The section it violates: a MUST case of the kit fails naming it. */
  readonly violates: string;
  /** The kit cases (ids) that catch it. */
  readonly caughtBy: readonly string[];
  /** Breaks this process's reference implementation (idempotent). */
  install(): void;
}

// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type -- any method of any class
type Method = Function;

const patched = new WeakMap<object, Set<string>>();

/**
 * Replaces `proto[name]` by `wrap(original)`, once per prototype and name. Throws if the prototype
 * has no such method (the reference renamed it: the variant must follow).
 */
export function patchMethod(proto: object, name: string, wrap: (original: Method) => Method): void {
  const done = patched.get(proto) ?? new Set<string>();
  if (done.has(name)) return;
  const record = proto as Record<string, unknown>;
  const original = record[name];
  if (typeof original !== 'function') throw new Error(`broken variant: ${proto.constructor.name}.prototype.${name} is not a method (the reference changed; update conformance/broken)`);
  record[name] = wrap(original);
  done.add(name);
  patched.set(proto, done);
}
