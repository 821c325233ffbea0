import { defineConfig } from 'vitest/config';

// Tests run in forked processes so that c8 (NODE_V8_COVERAGE) sees every file they load, and so
// that tests which fork, kill and wait on real child processes stay isolated from each other.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ['default'],
  },
});
