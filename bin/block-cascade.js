#!/usr/bin/env node
// The `block-cascade` command. Runs the compiled CLI when the package is built
// (`npm run build`), else the TypeScript sources through tsx, so it works in a fresh checkout.
// BLOCK_CASCADE_FROM_SOURCE=1 forces the sources (e.g. when dist/ may be stale).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const built = new URL('../dist/src/cli/main.js', import.meta.url);
const source = new URL('../src/cli/main.ts', import.meta.url);

if (process.env.BLOCK_CASCADE_FROM_SOURCE !== '1' && existsSync(fileURLToPath(built))) {
  await import(built.href);
} else if (existsSync(fileURLToPath(source))) {
  let register;
  try {
    ({ register } = await import('tsx/esm/api'));
  } catch (err) {
    process.stderr.write(
      `block-cascade: ${fileURLToPath(built)} is missing and tsx is not installed to run the sources: ` +
        `run "npm run build" first (${err instanceof Error ? err.message : String(err)})\n`,
    );
    process.exit(1);
  }
  register();
  await import(source.href);
} else {
  process.stderr.write(`block-cascade: neither ${fileURLToPath(built)} nor ${fileURLToPath(source)} exists: reinstall the package\n`);
  process.exit(1);
}
