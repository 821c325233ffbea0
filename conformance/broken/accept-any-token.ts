/**
 * `accept-any-token`: the successor accepts any ATTACH for the connection while an order is armed,
 * whatever its token (and hid). A stranger who can reach the rebind listener takes the connection
 * over. Violates §8.2 (step 2: the token must match, compared in constant time).
 *
 * @module
 */
import { SuccessorEngine } from '../../reference/protocol/successor.js';
import type { Message } from '../../reference/wire/index.js';
import { patchMethod, type BrokenVariant } from './patch.js';

/** The successor engine's internals this variant uses. */
interface Successor {
  readonly current: Message | undefined;
  readonly order: unknown;
  readonly armed: boolean;
}

export const ACCEPT_ANY_TOKEN: BrokenVariant = {
  name: 'accept-any-token',
  description: 'the successor accepts an ATTACH with any token while an order is armed',
  violates: '8.2',
  caughtBy: ['kit.fault.token.wrong'],
  install() {
    // Guard `tokenOk` (§8.2) without the token and hid comparison.
    patchMethod(SuccessorEngine.prototype, 'tokenOk', () =>
      function (this: Successor): boolean {
        return this.current?.type === 'ATTACH' && this.order !== undefined && this.armed;
      },
    );
  },
};
