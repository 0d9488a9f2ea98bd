import { defineConfig } from 'vitest/config';

// Native calls block the thread they run on, so every test file gets its own forked process.
export default defineConfig({
  test: {
    pool: 'forks',
    include: ['test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
  },
});
