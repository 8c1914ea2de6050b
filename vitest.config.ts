import { defaultServerConditions } from 'vite';
import { defineConfig } from 'vitest/config';

// `import … from 'block-cascade'` (the examples) resolves to the TypeScript sources through
// the package's `block-cascade-source` export condition, so that tests need no build.
const conditions = ['block-cascade-source', ...defaultServerConditions];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/graph-check-dir.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Lanes are worker threads that each own an ONNX session: keep test files from
    // oversubscribing the 2 cores by running them one file at a time.
    fileParallelism: false,
  },
});
