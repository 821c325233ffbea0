/**
 * `never-timeout`: the timers of §9.1 never fire: every `start T` of the state tables is
 * recorded but no timer runs. An origin whose peer stays silent after SUSPEND then waits forever
 * instead of aborting (rows O10, O17, O25, O33). Violates §9.1 ("each waiting state has a timer").
 *
 * @module
 */
import { TableMachine } from '../../reference/protocol/machine.js';
import { patchMethod, type BrokenVariant } from './patch.js';

export const NEVER_TIMEOUT: BrokenVariant = {
  name: 'never-timeout',
  description: 'no timer of §9.1 ever fires',
  violates: '9.1',
  caughtBy: ['kit.fault.timeout.suspend', 'kit.fault.timeout.abort'],
  install() {
    patchMethod(TableMachine.prototype, 'startTimer', () =>
      function (this: TableMachine, name: string): void {
        this.running.add(name); // "running", but no start-timer effect reaches the host
      },
    );
  },
};
