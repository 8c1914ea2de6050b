import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Lanes are worker threads that each own an ONNX session: keep test files from
    // oversubscribing the 2 cores by running them one file at a time.
    fileParallelism: false,
  },
});
