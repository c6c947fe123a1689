// Test layout by cost: unit (pure logic), api (fastify inject over a temp SQLite), e2e (built binaries, real daemon).
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // e2e suites run the built binaries: rebuild dist/ first when src/ is newer.
    globalSetup: ['test/support/build.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // e2e suites spawn daemons and machines; two cores cannot run many at once without timeouts.
    maxWorkers: 2,
    pool: 'forks',
    // clipanion's .mjs build imports a directory, which Node's ESM loader refuses; let vite resolve it.
    server: { deps: { inline: ['clipanion'] } },
  },
});
