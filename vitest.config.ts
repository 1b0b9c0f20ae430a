import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Tests start real servers, threads and processes: give them room, and keep files in
    // separate processes so a crash in one cannot take another down.
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Two cores: two files at once keeps timing-sensitive checks (drain, timeouts) honest.
    maxWorkers: 2,
  },
});
