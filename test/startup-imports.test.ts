/**
 * What a process start loads: Effect Schema (0.3–0.5 s of module loading) only where something is
 * decoded with it. `--help` and the package's entry never load it; `block-cascade model` loads
 * it to decode a manifest the first time, and not when the decoded manifest is remembered (as a
 * restarted worker finds its model's). A process running one command loads that command's module and no other's. A
 * module hook in the child process reports every Effect Schema module and command module resolved.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CACHE_DIR_ENV } from '../src/engine/model/graph-check-cache.js';
import { spawn } from 'node:child_process';
import { collectOutput, ROOT, runCli } from './support/cli.js';
import { RANDOM_MODEL } from './support/models.js';

const MARK = 'effect-schema-loaded';
const COMMAND_MARK = 'command-module-loaded';

/** The command modules a run of the CLI loaded, by command name. */
const commandsLoaded = (stderr: string) => [...stderr.matchAll(new RegExp(`${COMMAND_MARK} \\S*/cli/([a-z-]+)-command\\.`, 'g'))].map((m) => m[1]).sort();

describe('start-up imports', () => {
  let dir: string;
  let env: Record<string, string>;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bc-startup-imports-'));
    const hooks = join(dir, 'hooks.mjs');
    await writeFile(hooks, `export async function resolve(specifier, context, next) {\n  const r = await next(specifier, context);\n  if (/\\/effect\\/dist\\/.*Schema/.test(r.url)) process.stderr.write('${MARK} ' + r.url + '\\n');\n  if (/\\/cli\\/[a-z-]+-command\\./.test(r.url)) process.stderr.write('${COMMAND_MARK} ' + r.url + '\\n');\n  return r;\n}\n`);
    const register = join(dir, 'register.mjs');
    // Effect is taken through require (its CommonJS build), which the ESM hook does not see.
    await writeFile(register, `import Module, { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(hooks).href)});\nconst load = Module._load;\nModule._load = function (request, ...rest) {\n  if (/^effect\\/.*Schema/.test(request)) process.stderr.write('${MARK} ' + request + '\\n');\n  return load.call(this, request, ...rest);\n};\n`);
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

  it("the package's entry loads no Effect Schema until something is decoded", async () => {
    const entry = pathToFileURL(join(ROOT, 'src', 'index.ts')).href;
    const script = `const { decodeSessionFile, resolveTimeline } = await import(${JSON.stringify(entry)});\nprocess.stderr.write('imported ' + typeof resolveTimeline + '\\n');\nconst session = decodeSessionFile({ seed: 1, blocks: 2, prompt: 'red ball' }, 'inline.json');\nprocess.stdout.write(JSON.stringify(session));\n`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, env: { ...process.env, ...env } });
    const { code, stdout, stderr } = await collectOutput(child);
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual({ seed: 1, blocks: 2, prompt: 'red ball' });
    // Nothing before the import's line, Effect after it (the decode).
    const [beforeImport, afterImport] = stderr.split('imported function');
    expect(afterImport).toBeDefined();
    expect(beforeImport).not.toContain(MARK);
    expect(afterImport).toContain(MARK);
  });

  it('a command loads its own module alone; --help and a mistyped name load every command', async () => {
    const worker = await runCli(['worker', '--help'], 30_000, undefined, env);
    expect(worker.code).toBe(0);
    expect(worker.stdout).toContain('Usage: block-cascade worker');
    expect(commandsLoaded(worker.stderr)).toEqual(['worker']);
    const help = await runCli(['--help'], 30_000, undefined, env);
    expect(commandsLoaded(help.stderr)).toEqual(expect.arrayContaining(['bench', 'calibrate-cache', 'eval', 'inspect', 'model', 'run', 'simulate', 'worker']));
    const typo = await runCli(['wroker'], 30_000, undefined, env);
    expect(typo.code).not.toBe(0);
    expect(typo.stderr).toContain('Did you mean worker?');
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
