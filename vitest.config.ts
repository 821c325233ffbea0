import { defineConfig } from 'vitest/config';

// Tests run in forked processes on Node's own module loader (not Vite's module runner): the
// TypeScript sources are transpiled by scripts/ts-loader.mjs with inline source maps, so c8
// (NODE_V8_COVERAGE) measures them like any other module. Forks also keep the tests that fork,
// kill and wait on real child processes isolated from each other.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['./test/setup.ts'],
    // Fills the TypeScript loader's cache first: child processes then start without compiling.
    globalSetup: ['./scripts/warm-ts-cache.mjs'],
    pool: 'forks',
    execArgv: ['--import', './scripts/register-ts.mjs'],
    experimental: { viteModuleRunner: false, nodeLoader: false },
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ['default'],
  },
});
