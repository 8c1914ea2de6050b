#!/usr/bin/env node
// The `block-cascade` command. Runs the compiled CLI (dist/, from `npm run build`) when it is
// at least as new as the sources, else the TypeScript sources through tsx, so that it works in a
// fresh checkout and never runs a build older than the code beside it. An installed package has
// no src/ and always runs dist/. BLOCK_CASCADE_FROM_SOURCE=1 forces the sources.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const built = new URL('../dist/src/cli/main.js', import.meta.url);
const source = new URL('../src/cli/main.ts', import.meta.url);
const sourceDir = fileURLToPath(new URL('../src', import.meta.url));
const builtDir = fileURLToPath(new URL('../dist/src', import.meta.url));

/** Newest modification time (ms) of the files under `dir` whose name ends with `suffix`; -Infinity when there is none. */
function newestMtime(dir, suffix = '') {
  let newest = Number.NEGATIVE_INFINITY;
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return newest;
  }
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(path, suffix));
    else if (entry.isFile() && entry.name.endsWith(suffix)) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

const hasBuild = existsSync(fileURLToPath(built));
const hasSource = existsSync(fileURLToPath(source));
// Every source file against the built JavaScript (not its maps and declarations): a few
// milliseconds at startup.
const stale = hasBuild && hasSource && newestMtime(sourceDir) > newestMtime(builtDir, '.js');

if (process.env.BLOCK_CASCADE_FROM_SOURCE !== '1' && hasBuild && !stale) {
  await import(built.href);
} else if (hasSource) {
  let register;
  try {
    ({ register } = await import('tsx/esm/api'));
  } catch (err) {
    const why = !hasBuild
      ? `${fileURLToPath(built)} is missing`
      : stale
        ? `the sources under ${sourceDir} changed after the last build (${builtDir})`
        : 'BLOCK_CASCADE_FROM_SOURCE=1 asks for the sources';
    process.stderr.write(
      `block-cascade: ${why} and tsx is not installed to run the sources: ` +
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
