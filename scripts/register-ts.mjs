// Registers scripts/ts-loader.mjs (see there). Used as `node --import ./scripts/register-ts.mjs`
// by the test runner's worker processes (and inherited by the child processes tests fork).
import { register } from 'node:module';
import v8 from 'node:v8';

register('./ts-loader.mjs', import.meta.url);

// The test runner stops its workers with SIGTERM, which would end them before V8 writes the
// coverage that c8 reads. Write it first, then die of the signal as usual.
if (process.env.NODE_V8_COVERAGE) {
  process.once('SIGTERM', () => {
    v8.takeCoverage();
    process.kill(process.pid, 'SIGTERM');
  });
}
