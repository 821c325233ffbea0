/**
 * `skip-suspend`: the origin hands off the way Fig. 8 of the seed patent does (spec Appendix B):
 * on the trigger it makes the copy at once and sends ORDER and REBIND, without SUSPEND and without
 * waiting for SUSPENDED. Bytes the peer had in flight then reach the origin after the copy and are
 * in nobody's stream. Violates §6.2 (step C: SUSPEND, then the copy only at D, on SUSPENDED) and
 * §6.5 ("the origin makes the copy when it has received SUSPENDED — not earlier").
 *
 * @module
 */
import { OriginEngine } from '../../reference/protocol/origin.js';
import type { Action, TableMachine } from '../../reference/protocol/machine.js';
import { patchMethod, type BrokenVariant } from './patch.js';

/** The origin engine's internals this variant uses. */
interface Origin {
  readonly handoff: { readonly fast: boolean } | undefined;
  readonly machine: TableMachine;
  copy(): void;
}

export const SKIP_SUSPEND: BrokenVariant = {
  name: 'skip-suspend',
  description: 'the origin copies and sends REBIND on the trigger, without SUSPEND/SUSPENDED (Fig. 8, Appendix B)',
  violates: '6.2',
  caughtBy: ['kit.fault.window-b-d'],
  install() {
    patchMethod(OriginEngine.prototype, 'sendVerb', (original) =>
      function (this: Origin, action: Action): void {
        if (action.arg === 'SUSPEND' && this.handoff !== undefined && !this.handoff.fast) {
          // Rows O1/O3 say "send SUSPEND; start SUSPEND" → SUSPENDING. Fig. 8 instead: copy now,
          // ORDER and REBIND, wait for REBOUND.
          this.copy();
          original.call(this, { ...action, arg: 'REBIND', text: 'send REBIND' });
          this.machine.startTimer('REBOUND');
          this.machine.divert('AWAIT_REBOUND');
          return;
        }
        original.call(this, action);
      },
    );
  },
};
