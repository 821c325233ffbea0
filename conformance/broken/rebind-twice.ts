/**
 * `rebind-twice`: the origin sends REBIND twice for one handoff. A handoff has one rebind: after
 * REBIND the origin sends nothing on C1 but waits for REBOUND (row O9 → AWAIT_REBOUND), and a
 * handoff never rebinds a second time (¶0041). Violates §6.6.
 *
 * @module
 */
import { OriginEngine } from '../../reference/protocol/origin.js';
import type { Action } from '../../reference/protocol/machine.js';
import { patchMethod, type BrokenVariant } from './patch.js';

export const REBIND_TWICE: BrokenVariant = {
  name: 'rebind-twice',
  description: 'the origin sends a second REBIND for the same handoff',
  violates: '6.6',
  caughtBy: ['kit.fault.window-b-d'],
  install() {
    patchMethod(OriginEngine.prototype, 'sendVerb', (original) =>
      function (this: object, action: Action): void {
        original.call(this, action);
        if (action.arg === 'REBIND') original.call(this, action); // ORDER is sent once; REBIND again
      },
    );
  },
};
