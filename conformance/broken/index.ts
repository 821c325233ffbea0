/**
 * Deliberately broken variants of the reference implementation (spec §15): each breaks one rule
 * of the specification, so that the kit can show it has teeth — every variant must fail at least
 * one MUST case of the kit, with a message naming the section it violates, while the unbroken
 * reference passes the same cases (`test/conformance/broken.test.ts`).
 *
 * A variant is selected with the environment variable `REBIND_BROKEN=<name>`, which the
 * reference's adapter honours (`conformance/adapter/reference.ts`) and which every process it forks
 * inherits:
 *
 * ```
 * REBIND_BROKEN=forget-copy npx conformance run --impl reference
 * ```
 *
 * The broken code lives here, not in `reference/`: {@link BrokenVariant.install} wraps methods of
 * the reference's engine classes on their prototypes (a test double of the whole process), so the
 * reference itself carries no switch and costs nothing when no variant is installed. The wrapped
 * methods are internal to the engines; {@link patchMethod} fails loudly if one is renamed, and the
 * test above fails if a variant stops being caught.
 *
 * @module
 */
import { ACCEPT_ANY_TOKEN } from './accept-any-token.js';
import { FORGET_COPY } from './forget-copy.js';
import { NEVER_TIMEOUT } from './never-timeout.js';
import { REBIND_TWICE } from './rebind-twice.js';
import { SKIP_SUSPEND } from './skip-suspend.js';
import type { BrokenVariant } from './patch.js';

export type { BrokenVariant } from './patch.js';

/** Every broken variant, by name. */
export const BROKEN_VARIANTS: readonly BrokenVariant[] = [SKIP_SUSPEND, FORGET_COPY, REBIND_TWICE, ACCEPT_ANY_TOKEN, NEVER_TIMEOUT];

/** Installs the variant `name` in this process; throws for a name no variant has. */
export function installBroken(name: string): BrokenVariant {
  const variant = BROKEN_VARIANTS.find((v) => v.name === name);
  if (variant === undefined) throw new Error(`REBIND_BROKEN=${name}: no such broken variant (known: ${BROKEN_VARIANTS.map((v) => v.name).join(', ')})`);
  variant.install();
  return variant;
}
