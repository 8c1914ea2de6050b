/**
 * What a process start loads: Effect Schema (0.3–0.5 s of module loading) only where something is
 * decoded with it. `--help` never loads it; `block-cascade model` loads it to decode a manifest
 * the first time, and not when the decoded manifest is remembered (as a restarted worker finds
 * its model's). A module hook in the child process reports every Effect Schema module resolved.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CACHE_DIR_ENV } from '../src/engine/model/graph-check-cache.js';
import { runCli } from './support/cli.js';
import { RANDOM_MODEL } from './support/models.js';

const MARK = 'effect-schema-loaded';

describe('start-up imports', () => {
  let dir: string;
  let env: Record<string, string>;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bc-startup-imports-'));
    const hooks = join(dir, 'hooks.mjs');
    await writeFile(hooks, `export async function resolve(specifier, context, next) {\n  const r = await next(specifier, context);\n  if (/\\/effect\\/dist\\/.*Schema/.test(r.url)) process.stderr.write('${MARK} ' + r.url + '\\n');\n  return r;\n}\n`);
    const register = join(dir, 'register.mjs');
    await writeFile(register, `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(hooks).href)});\n`);
    env = { NODE_OPTIONS: `--import ${pathToFileURL(register).href}`, [CACHE_DIR_ENV]: join(dir, 'cache') };
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('--help loads no Effect Schema', async () => {
    const help = await runCli(['--help'], 30_000, undefined, env);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage');
    expect(help.stderr).not.toContain(MARK);
  });

  it('a manifest is decoded with Effect Schema once; a later process takes it from the cache without loading it', async () => {
    const first = await runCli(['model', RANDOM_MODEL], 60_000, undefined, env);
    expect(first.code).toBe(0);
    expect(first.stderr).toContain(MARK);
    const second = await runCli(['model', RANDOM_MODEL], 60_000, undefined, env);
    expect(second.code).toBe(0);
    expect(second.stdout).toBe(first.stdout);
    expect(second.stderr).not.toContain(MARK);
  });
});
